//! Synthetic traffic: a frame builder with correct checksums and a deterministic trace generator
//! that also reports per-flow ground truth, so parser and flow-table results can be checked
//! exactly against known answers.

pub mod builder;
pub mod rng;
pub mod trace;

pub use builder::{build, build_into, check_frame, FrameInfo, FrameSpec, Payload, L4};
pub use rng::SplitMix64;
pub use trace::{FlowEnd, FlowKind, FlowTruth, TraceConfig, TraceGen, TraceTruth};
