//! Flow tracking: canonical keys, the per-worker shard and the records it produces.

pub mod key;
pub mod record;
pub mod shard;

pub use key::FlowKey;
pub use record::{DirCounters, EndReason, FlowRecord, RecordKind, RecordSink};
pub use shard::{Shard, ShardConfig, ShardStats};
