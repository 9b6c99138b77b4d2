//! IPFIX over UDP: one observation domain per sink, templates first and then every
//! `TEMPLATE_REFRESH` (RFC 7011 §8.4: a UDP collector that restarts learns them again).

use super::sink::SinkReport;
use crate::flow::FlowRecord;
use crate::ipfix::IpfixEncoder;
use std::io;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Largest IPFIX message: fits a 1500-byte Ethernet MTU with IPv4/IPv6 and UDP headers.
const MTU: usize = 1400;
const TEMPLATE_REFRESH: Duration = Duration::from_secs(10);

pub struct IpfixUdp {
    sock: UdpSocket,
    enc: IpfixEncoder,
    msgs: Vec<Vec<u8>>,
    /// Data records in `msgs` (for the records/lost counters).
    pending_records: u64,
    last_template: Option<Instant>,
}

impl IpfixUdp {
    pub fn open(hostport: &str) -> io::Result<IpfixUdp> {
        let sock = UdpSocket::bind(if hostport.starts_with('[') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        })?;
        sock.connect(hostport)
            .map_err(|e| io::Error::new(e.kind(), format!("ipfix+udp://{hostport}: {e}")))?;
        // Never block the exporter: a full socket buffer drops (and counts) the message.
        sock.set_nonblocking(true)?;
        Ok(IpfixUdp {
            sock,
            // Observation domain: the process id keeps probes on one host apart.
            enc: IpfixEncoder::new(std::process::id(), MTU),
            msgs: Vec::new(),
            pending_records: 0,
            last_template: None,
        })
    }

    fn send(&mut self, now_s: u64, rep: &mut SinkReport) {
        if self
            .last_template
            .is_none_or(|t| t.elapsed() >= TEMPLATE_REFRESH)
        {
            let t = self.enc.template_message(now_s as u32);
            if self.sock.send(&t).is_err() {
                rep.errors += 1;
            }
            self.last_template = Some(Instant::now());
        }
        for m in self.msgs.drain(..) {
            let n = crate::ipfix::data_records_in(&m) as u64;
            match self.sock.send(&m) {
                Ok(_) => {
                    rep.records += n;
                    rep.bytes += m.len() as u64;
                }
                Err(e) => {
                    rep.lost += n;
                    rep.errors += 1;
                    rep.last_error = Some(e.to_string());
                }
            }
        }
        self.pending_records = 0;
    }

    pub fn add(&mut self, r: &FlowRecord, now_s: u64, rep: &mut SinkReport) {
        self.enc.add(r, now_s as u32, &mut self.msgs);
        if !self.msgs.is_empty() {
            self.send(now_s, rep);
        }
    }

    /// Send the partly filled message too (idle, stop).
    pub fn flush(&mut self, rep: &mut SinkReport) {
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.enc.flush(now_s as u32, &mut self.msgs);
        self.send(now_s, rep);
    }
}
