//! Exporter side: turn flow records into output lines and deliver them to sinks.

mod flowhash;
mod ipfix_tcp;
mod ipfix_udp;
mod json;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod localnet;
pub mod netify;
pub mod netobserv;
pub mod output;
pub mod sink;
mod socket;

pub use localnet::LocalNets;
pub use netify::NetifyEncoder;
pub use netobserv::{NetObservEncoder, SubnetLabels};
pub use output::{flow_key, Outputs};
pub use sink::{Format, KafkaOptions, OutputSpec, Sink, SinkOptions, SinkReport};
