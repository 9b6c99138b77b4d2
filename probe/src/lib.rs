//! flowprobe: a DPDK-based network flow probe.
//!
//! ```text
//! port rx (dpdk/) ─► parse/ ─► flow/ shard (one per worker lcore) ─► SPSC ring ─► export/ ─► sinks
//! ```
//! The pure core (`parse`, `flow`, `export`, `pcapfile`, `synth`) does no I/O on the packet path,
//! reads no clock (time is passed in) and builds without DPDK. Only `dpdk/` may use `unsafe`.
#![deny(unsafe_code)]

pub mod compat;
pub mod config;
#[cfg(feature = "dpdk")]
#[allow(unsafe_code)]
pub mod dpdk;
pub mod export;
pub mod flow;
pub mod ipfix;
pub mod metrics;
pub mod parse;
pub mod pcapfile;
pub mod pipeline;
/// Power-of-two tables indexed without bounds checks (see the module): `unsafe` kept beside the
/// DPDK layer's, built with or without DPDK.
#[allow(unsafe_code)]
#[path = "dpdk/pow2.rs"]
pub mod pow2;
/// Prefetch hints for the packet path: the pure core's only `unsafe`, kept beside the DPDK
/// layer's and built with or without DPDK.
#[allow(unsafe_code)]
#[path = "dpdk/prefetch.rs"]
pub mod prefetch;
#[cfg(feature = "dpdk")]
pub mod runtime;
/// Two SHA-1 blocks at once with the SHA extensions (Netify's flow digest): `unsafe` SIMD kept
/// beside the DPDK layer's, built with or without DPDK.
#[allow(unsafe_code)]
#[path = "dpdk/sha1x2.rs"]
pub mod sha1x2;
pub mod synth;

/// The Kafka client, for the integration tests' consumer (a dev-dependency would build librdkafka
/// even for `--no-default-features`).
#[cfg(feature = "kafka")]
pub use rdkafka;
