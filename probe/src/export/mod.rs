//! Exporter side: turn flow records into output lines and deliver them to sinks.

mod ipfix_tcp;
mod ipfix_udp;
mod json;
pub mod localnet;
pub mod netify;
pub mod netobserv;
pub mod output;
pub mod sink;
mod socket;

pub use localnet::LocalNets;
pub use netify::NetifyEncoder;
pub use netobserv::{NetObservEncoder, SubnetLabels};
pub use output::Outputs;
pub use sink::{Format, OutputSpec, Sink, SinkOptions, SinkReport};
