//! Every configured output: one encoder per format in use (a record is encoded once per format,
//! whatever the number of sinks of that format) and the sinks.

use super::flowhash::{self, Fnv1a};
use super::netify::NetifyEncoder;
use super::netobserv::{NetObservEncoder, SubnetLabels};
use super::sink::{Format, OutputSpec, Sink, SinkOptions, SinkReport};
use super::LocalNets;
use crate::flow::FlowRecord;

/// Encoded lines of one format waiting for the sinks; the buffer is reused across batches.
struct Batch {
    buf: Vec<u8>,
    lines: u64,
    /// Per record: (end offset in `buf`, flow key). Kept only when a keyed sink (Kafka) takes
    /// this format.
    marks: Vec<(usize, u64)>,
    keyed: bool,
}

impl Batch {
    fn new(keyed: bool) -> Batch {
        Batch {
            buf: Vec::with_capacity(512 * 1024),
            lines: 0,
            marks: Vec::new(),
            keyed,
        }
    }

    /// End the record just encoded; `key` is its flow key (meaningful when this batch is keyed).
    #[inline]
    fn mark(&mut self, key: u64) {
        if self.keyed {
            self.marks.push((self.buf.len(), key));
        }
    }
}

/// A flow's key for partitioning (Kafka message key): FNV-1a over IP version, protocol, VLAN and
/// the two endpoints in canonical order. The same for every record of the flow, both directions,
/// and every probe that sees it.
pub fn flow_key(r: &FlowRecord) -> u64 {
    let mut t = [0; flowhash::TUPLE_MAX];
    let n = flowhash::tuple(r, &mut t);
    let mut h = Fnv1a::new();
    h.update(&t[..n]);
    h.finish()
}

pub struct Outputs {
    netify: Option<(NetifyEncoder, Batch)>,
    netobserv: Option<(NetObservEncoder, Batch)>,
    /// Some sink speaks IPFIX (encodes per sink: sequence numbers are per session).
    ipfix: bool,
    /// Some batch goes to a keyed sink (Kafka): the flow key is computed once per record.
    keyed: bool,
    sinks: Vec<Sink>,
}

impl Outputs {
    /// Open every output (files now: a bad path fails here, before anything starts). Interface
    /// names come later, from `set_ifaces`.
    pub fn open(
        specs: &[OutputSpec],
        opts: &SinkOptions,
        local: LocalNets,
        labels: SubnetLabels,
    ) -> Result<Outputs, String> {
        let mut sinks = Vec::with_capacity(specs.len());
        for s in specs {
            sinks.push(Sink::open_spec(s, opts).map_err(|e| e.to_string())?);
        }
        let uses = |f: Format| specs.iter().any(|s| s.format == f);
        let keyed = |f: Format| sinks.iter().any(|s| s.format == f && s.keyed());
        Ok(Outputs {
            netify: uses(Format::Netify).then(|| {
                (
                    NetifyEncoder::new(local.clone(), Vec::new()),
                    Batch::new(keyed(Format::Netify)),
                )
            }),
            netobserv: uses(Format::NetObserv).then(|| {
                (
                    NetObservEncoder::new(local, labels, Vec::new()),
                    Batch::new(keyed(Format::NetObserv)),
                )
            }),
            ipfix: uses(Format::Ipfix),
            keyed: keyed(Format::Netify) || keyed(Format::NetObserv),
            sinks,
        })
    }

    /// Interface names are known once the ports are started (after the outputs are opened).
    pub fn set_ifaces(&mut self, ifaces: Vec<String>) {
        if let Some((e, _)) = &mut self.netify {
            e.set_ifaces(ifaces.clone());
        }
        if let Some((e, _)) = &mut self.netobserv {
            e.set_ifaces(ifaces);
        }
    }

    /// Encode `rs` in every format in use, record after record. `now_s` is the wall clock
    /// (NetObserv `TimeReceived`). Netify digests are computed two records at a time
    /// ([`NetifyEncoder::digests`]).
    pub fn encode_burst(&mut self, rs: &[FlowRecord], now_s: u64) {
        for pair in rs.chunks(2) {
            let digests = self.netify.as_ref().map(|(e, _)| e.digests(pair));
            for (i, r) in pair.iter().enumerate() {
                if self.ipfix {
                    for s in self.sinks.iter_mut().filter(|s| s.format == Format::Ipfix) {
                        s.encode_ipfix(r, now_s);
                    }
                }
                let key = if self.keyed { flow_key(r) } else { 0 };
                if let (Some((e, b)), Some(d)) = (&mut self.netify, &digests) {
                    e.encode_with(r, &d[i], &mut b.buf);
                    b.lines += 1;
                    b.mark(key);
                }
                if let Some((e, b)) = &mut self.netobserv {
                    b.lines += e.encode(r, now_s, &mut b.buf);
                    b.mark(key);
                }
            }
        }
    }

    /// Largest encoded batch waiting (bytes).
    pub fn pending(&self) -> usize {
        let n = self.netify.as_ref().map_or(0, |x| x.1.buf.len());
        n.max(self.netobserv.as_ref().map_or(0, |x| x.1.buf.len()))
    }

    /// Hand the encoded batches to their sinks and start new ones.
    pub fn write(&mut self) {
        for (fmt, b) in [
            (Format::Netify, self.netify.as_mut().map(|x| &mut x.1)),
            (Format::NetObserv, self.netobserv.as_mut().map(|x| &mut x.1)),
        ] {
            let Some(b) = b else { continue };
            if b.buf.is_empty() {
                continue;
            }
            for s in self.sinks.iter_mut().filter(|s| s.format == fmt) {
                if s.keyed() {
                    s.write_keyed(&b.buf, &b.marks);
                } else {
                    s.write(&b.buf, b.lines);
                }
            }
            b.buf.clear();
            b.lines = 0;
            b.marks.clear();
        }
    }

    pub fn flush(&mut self) {
        for s in &mut self.sinks {
            s.flush();
        }
    }

    /// Write what is left, flush, fsync files, drain sockets (bounded). Once, at stop.
    pub fn close(&mut self) {
        self.write();
        for s in &mut self.sinks {
            s.close();
        }
    }

    pub fn reports(&self) -> Vec<SinkReport> {
        self.sinks.iter().map(Sink::report).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sink::Target;
    use crate::flow::{DirCounters, RecordKind};

    #[test]
    fn two_formats_two_files() {
        let dir = std::env::temp_dir().join(format!("flowprobe-outs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let specs = [
            OutputSpec {
                format: Format::Netify,
                target: Target::File(dir.join("a.json")),
            },
            OutputSpec {
                format: Format::NetObserv,
                target: Target::File(dir.join("b.json")),
            },
        ];
        let mut o = Outputs::open(
            &specs,
            &SinkOptions::default(),
            LocalNets::default_nets(),
            SubnetLabels::default(),
        )
        .unwrap();
        o.set_ifaces(vec!["eth9".into()]);
        let mut r = FlowRecord {
            kind: RecordKind::End,
            ip_version: 4,
            proto: 17,
            ..Default::default()
        };
        r.dir[0] = DirCounters {
            packets: 2,
            bytes: 200,
            delta_packets: 2,
            delta_bytes: 200,
            ..Default::default()
        };
        r.dir[1] = r.dir[0];
        o.encode_burst(std::slice::from_ref(&r), 5);
        assert!(o.pending() > 0);
        o.close();
        let rep = o.reports();
        assert_eq!(rep[0].records, 1);
        assert_eq!(rep[1].records, 3, "two flowLogs and the endConnection");
        assert_eq!(rep[1].format, "netobserv");
        let a = std::fs::read_to_string(dir.join("a.json")).unwrap();
        assert!(a.contains("\"interface\":\"eth9\""), "{a}");
        let b = std::fs::read_to_string(dir.join("b.json")).unwrap();
        assert_eq!(b.lines().count(), 3);
        assert!(b.contains("\"Interfaces\":[\"eth9\"]"), "{b}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn flow_key_is_the_same_both_ways_and_differs_between_flows() {
        let mut a = FlowRecord {
            ip_version: 4,
            proto: 6,
            init_port: 40000,
            resp_port: 443,
            ..Default::default()
        };
        a.init_ip[..4].copy_from_slice(&[10, 0, 0, 1]);
        a.resp_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
        let mut b = a;
        std::mem::swap(&mut b.init_ip, &mut b.resp_ip);
        std::mem::swap(&mut b.init_port, &mut b.resp_port);
        b.kind = RecordKind::End;
        assert_eq!(flow_key(&a), flow_key(&b));
        let mut c = a;
        c.init_port = 40001;
        assert_ne!(flow_key(&a), flow_key(&c));
        c = a;
        c.vlan = 5;
        assert_ne!(flow_key(&a), flow_key(&c));
    }
}
