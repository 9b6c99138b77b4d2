//! Exporter side: turn flow records into output lines and deliver them to sinks.

pub mod localnet;
pub mod netify;
pub mod sink;

pub use localnet::LocalNets;
pub use netify::NetifyEncoder;
pub use sink::Sink;
