//! IPFIX over TCP (RFC 7011 §10.4): messages are built here, on the exporter, and handed to a
//! socket sender thread (bounded queue, reconnect with backoff, losses counted) which starts every
//! connection with the templates and numbers the messages. No periodic template refresh: a TCP
//! collector keeps templates for the life of the connection.

use super::sink::{SinkReport, Target};
use super::socket::{Framing, SocketSink};
use crate::flow::FlowRecord;
use crate::ipfix::IpfixEncoder;
use std::io;
use std::time::Duration;

/// Largest message: TCP carries any size up to IPFIX's 65535; 16 KiB amortises the write calls
/// while a queue-full loss stays small.
const MAX_MESSAGE: usize = 16 * 1024;

pub struct IpfixTcp {
    enc: IpfixEncoder,
    sock: SocketSink,
    msgs: Vec<Vec<u8>>,
}

impl IpfixTcp {
    pub fn open(hostport: &str, cap: usize, drain: Duration) -> io::Result<IpfixTcp> {
        // Observation domain: the process id keeps probes on one host apart.
        // Never larger than the queue (`--output-buffer`), or every message would be lost.
        let mut enc = IpfixEncoder::new(std::process::id(), MAX_MESSAGE.min(cap));
        let templates = enc.template_message(0);
        let sock = SocketSink::start(
            Target::IpfixTcp(hostport.to_string()),
            Framing::Ipfix { templates },
            cap,
            drain,
        )?;
        Ok(IpfixTcp {
            enc,
            sock,
            msgs: Vec::new(),
        })
    }

    fn send(&mut self) {
        for m in self.msgs.drain(..) {
            self.sock.push(&m, crate::ipfix::data_records_in(&m) as u64);
        }
    }

    pub fn add(&mut self, r: &FlowRecord, now_s: u64) {
        self.enc.add(r, now_s as u32, &mut self.msgs);
        if !self.msgs.is_empty() {
            self.send();
        }
    }

    /// Hand over the partly filled message too (idle, stop).
    pub fn flush(&mut self) {
        self.enc.flush(0, &mut self.msgs);
        self.send();
    }

    /// Deliver what is queued within the drain timeout, then stop the sender.
    pub fn close(&mut self) {
        self.flush();
        self.sock.close();
    }

    pub fn fill(&self, r: &mut SinkReport) {
        self.sock.fill(r);
    }
}
