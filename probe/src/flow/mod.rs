//! Flow tracking: canonical keys, the per-worker shard and the records it produces.

pub mod community_id;
pub mod frag;
pub mod index;
pub mod key;
pub mod record;
pub mod shard;
pub mod tcp;
pub mod wheel;

pub use community_id::community_id_v1;
pub use frag::FragTable;
pub use key::FlowKey;
pub use record::{DirCounters, EndReason, FlowRecord, RecordKind, RecordSink};
pub use shard::{Shard, ShardConfig, ShardStats};
pub use tcp::TcpState;
