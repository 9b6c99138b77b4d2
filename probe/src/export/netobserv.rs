//! NetObserv "Network Flows format" JSON lines (`--format netobserv`), see
//! `shared/reference/netobserv-flow-format.txt`.
//!
//! Two kinds of records, as NetObserv's agent + pipeline produce them:
//! - `_RecordType: "flowLog"`: uni-directional, one per direction that sent packets since the
//!   flow's previous report (`flow_stats`/`flow_purge` points), with that direction's deltas;
//!   `Src*` is the sender of that direction. Summing a connection's flowLogs gives its totals.
//! - conversation tracking, bidirectional, `Src*` = A = the initiator, `Dst*` = B = the responder:
//!   `newConnection` (the flow's first packet), `heartbeat` (every `--stats-interval`),
//!   `endConnection` (the flow left the table). `Bytes`/`Packets` are cumulative over both
//!   directions.
//!
//! Field semantics where the reference leaves room:
//! - `Bytes` are L2 frame bytes as captured; times are epoch ms of packets (capture time in
//!   replays). `TimeFlowStartMs`/`TimeFlowEndMs` of a flowLog are the first/last packet of that
//!   direction; of a conversation record, of the flow.
//! - `FlowDirection` (0 ingress, 1 egress, 2 inner) from `--local-net`: source local and
//!   destination not local = egress, the reverse = ingress, both local = inner; neither local
//!   (transit) is judged from the initiator as if it were local (Netify's rule): the initiator's
//!   sending direction is egress, the responder's ingress.
//! - `IfDirections`: `[0]`: the probe only receives (RX on a mirror/TAP port). `Interfaces`: the
//!   capture interface (`pcap0`, else the DPDK port name); both are one-element arrays as the
//!   NetObserv agent emits them.
//! - `Flags`: OR of TCP flags of the direction (flowLog) or both (conversation) since the flow
//!   began, with 0x100 SYN+ACK, 0x200 FIN+ACK, 0x400 RST+ACK. TCP only.
//! - `Dscp`: of the direction's first packet (A→B for conversation records).
//! - `DstMac`: the other endpoint's MAC as the flow table holds it: the source MAC of the reverse
//!   direction's first packet, until then the destination MAC of the flow's first packet.
//! - `SrcPort`/`DstPort`: TCP, UDP and SCTP only; `IcmpType`/`IcmpCode`: ICMP and ICMPv6 only.
//! - `Dns*`: the last query/response matched within the flow (only when the flow carried DNS);
//!   `DnsFlagsResponseCode` is the IANA RCODE mnemonic (`NoError`, `FormErr`, `ServFail`,
//!   `NXDomain`, `NotImp`, `Refused`, `YXDomain`, `YXRRSet`, `NXRRSet`, `NotAuth`, `NotZone`,
//!   `DSOTYPENI`, else `Unassigned`); `DnsLatencyMs` is 0 when unanswered.
//! - `TimeFlowRttNs`: handshake RTT at the observation point, SYN→SYN-ACK + SYN-ACK→ACK (a
//!   passive probe has no smoothed RTT); only when measured.
//! - `TimeReceived`: wall-clock seconds when the exporter encoded the record: the only field that
//!   differs between two replays of the same capture.
//! - `SrcSubnetLabel`/`DstSubnetLabel`: from `--subnet-label CIDR=NAME` (longest prefix wins);
//!   absent when no prefix matches.
//! - `Duplicate`: always false (one observation point per flow).
//! - `_HashId`: 16 hex digits of a 64-bit FNV-1a hash of the canonical 5-tuple, VLAN, port, flow
//!   id and active-timeout segment: the same for every record (flowLog or conversation) of one
//!   connection, unique per run.
//!
//! Not emitted: the Kubernetes fields (`*K8S_*`, `K8S_*`: no cluster context on a NIC), the
//! kernel drop fields (`PktDrop*`: no kernel path) and `DnsErrno` (no eBPF hook).
//!
//! Fields added beyond the reference (conversation records only):
//! - `Bytes_AB`, `Bytes_BA`, `Packets_AB`, `Packets_BA`: cumulative L2 bytes / packets per
//!   direction, A = initiator (NetObserv's conntrack `_AB`/`_BA` naming);
//! - `IpBytes_AB`, `IpBytes_BA`: cumulative IP-level bytes (IP header + payload) per direction;
//! - `EndReason` (`endConnection` only): `closed`, `expired`, `active`, `evicted`, `shutdown`
//!   (the same taxonomy as Netify's `flow_purge.reason`).

use super::flowhash::{self, Fnv1a};
use super::json::{hex_into, ip_text, lit, mac_text, num, str_lit, Text};
use super::localnet::{bytes, parse_cidr, prefix, prefix_match, LocalNets, Prefix};
use crate::flow::{FlowRecord, RecordKind};

/// Every field name this encoder may emit; the schema test checks output against it.
pub const FIELDS: [&str; 36] = [
    "_RecordType",
    "_HashId",
    "Bytes",
    "Packets",
    "SrcAddr",
    "DstAddr",
    "SrcMac",
    "DstMac",
    "SrcPort",
    "DstPort",
    "Proto",
    "Dscp",
    "Flags",
    "FlowDirection",
    "IfDirections",
    "Interfaces",
    "IcmpType",
    "IcmpCode",
    "DnsId",
    "DnsFlags",
    "DnsFlagsResponseCode",
    "DnsLatencyMs",
    "TimeFlowStartMs",
    "TimeFlowEndMs",
    "TimeFlowRttNs",
    "SrcSubnetLabel",
    "DstSubnetLabel",
    "Duplicate",
    "TimeReceived",
    // Additions (see the module comment).
    "Bytes_AB",
    "Bytes_BA",
    "Packets_AB",
    "Packets_BA",
    "IpBytes_AB",
    "IpBytes_BA",
    "EndReason",
];

/// Names from the reference list this encoder adds to (the documented additions).
pub const ADDED_FIELDS: [&str; 7] = [
    "Bytes_AB",
    "Bytes_BA",
    "Packets_AB",
    "Packets_BA",
    "IpBytes_AB",
    "IpBytes_BA",
    "EndReason",
];

/// `--subnet-label CIDR=NAME` prefixes; the longest matching prefix names an address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubnetLabels {
    /// Prefix, its length, the name and the name as a JSON string (escaped once, not per line).
    nets: Vec<(Prefix, u8, String, Vec<u8>)>,
}

impl SubnetLabels {
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<SubnetLabels, String> {
        let mut nets = Vec::new();
        for s in specs {
            let s = s.as_ref();
            let (cidr, name) = s
                .split_once('=')
                .ok_or_else(|| format!("invalid --subnet-label '{s}': expected CIDR=NAME"))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("invalid --subnet-label '{s}': empty name"));
            }
            let (addr, len) = parse_cidr(cidr)?;
            let (v, b) = bytes(addr);
            let mut json = Vec::new();
            str_lit(&mut json, name);
            nets.push((prefix(v, &b, len), len, name.to_string(), json));
        }
        // Longest prefix first: the first match is the most specific.
        nets.sort_by_key(|n| std::cmp::Reverse(n.1));
        Ok(SubnetLabels { nets })
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn label(&self, version: u8, a: &[u8; 16]) -> Option<&str> {
        self.find(version, a).map(|n| n.2.as_str())
    }

    /// The label as a quoted JSON string.
    fn label_json(&self, version: u8, a: &[u8; 16]) -> Option<&[u8]> {
        self.find(version, a).map(|n| n.3.as_slice())
    }

    fn find(&self, version: u8, a: &[u8; 16]) -> Option<&(Prefix, u8, String, Vec<u8>)> {
        let a = u128::from_be_bytes(*a);
        self.nets.iter().find(|n| prefix_match(&n.0, version, a))
    }
}

/// NetObserv's (IANA's) RCODE mnemonic of a DNS flags word.
pub fn rcode_name(flags: u16) -> &'static str {
    match flags & 0xf {
        0 => "NoError",
        1 => "FormErr",
        2 => "ServFail",
        3 => "NXDomain",
        4 => "NotImp",
        5 => "Refused",
        6 => "YXDomain",
        7 => "YXRRSet",
        8 => "NXRRSet",
        9 => "NotAuth",
        10 => "NotZone",
        11 => "DSOTYPENI",
        _ => "Unassigned",
    }
}

/// `FlowDirection` of a packet stream (see the module comment).
pub fn flow_direction(src_local: bool, dst_local: bool, src_is_initiator: bool) -> u8 {
    match (src_local, dst_local) {
        (true, true) => 2,
        (true, false) => 1,
        (false, true) => 0,
        (false, false) => u8::from(src_is_initiator),
    }
}

pub struct NetObservEncoder {
    local: LocalNets,
    labels: SubnetLabels,
    /// `["NAME"]` per port id, escaped once.
    ifaces: Vec<Vec<u8>>,
}

/// What every line of one record shares, computed once per record.
struct PerRecord<'a> {
    hash: [u8; 16],
    /// Initiator, responder: address text (each appears in every line of the record).
    addr: [Text<48>; 2],
    /// `dir[0]`, `dir[1]` source MACs as text.
    mac: [[u8; 17]; 2],
    /// Initiator, responder.
    local: [bool; 2],
    /// Subnet labels as JSON strings.
    label: [Option<&'a [u8]>; 2],
}

fn iface_json(name: &str) -> Vec<u8> {
    let mut v = vec![b'['];
    str_lit(&mut v, name);
    v.push(b']');
    v
}

impl NetObservEncoder {
    pub fn new(local: LocalNets, labels: SubnetLabels, ifaces: Vec<String>) -> Self {
        NetObservEncoder {
            local,
            labels,
            ifaces: ifaces.iter().map(|n| iface_json(n)).collect(),
        }
    }

    pub fn set_ifaces(&mut self, ifaces: Vec<String>) {
        self.ifaces = ifaces.iter().map(|n| iface_json(n)).collect();
    }

    fn iface(&self, port: u16) -> &[u8] {
        self.ifaces
            .get(port as usize)
            .map_or(b"[\"unknown\"]", Vec::as_slice)
    }

    /// `_HashId`: the same for every record of one connection (both orientations).
    pub fn hash_id(r: &FlowRecord) -> u64 {
        // Each endpoint's address then its port (not Kafka's order): the values must not change.
        let [lo, hi] = flowhash::endpoints(r);
        let mut h = Fnv1a::new();
        h.update(&[r.ip_version, r.proto]);
        h.update(&r.vlan.to_be_bytes());
        h.update(lo.0);
        h.update(&lo.1.to_be_bytes());
        h.update(hi.0);
        h.update(&hi.1.to_be_bytes());
        h.update(&r.port.to_be_bytes());
        h.update(&r.flow_id.to_be_bytes());
        h.update(&r.segment.to_be_bytes());
        h.finish()
    }

    /// Append the NetObserv lines for `r` to `out`; returns how many lines (0 to 3).
    /// `now_s` is `TimeReceived`.
    pub fn encode(&self, r: &FlowRecord, now_s: u64, out: &mut Vec<u8>) -> u64 {
        let v = r.ip_version;
        let mut hash = [0u8; 16];
        hex_into(&mut hash, &Self::hash_id(r).to_be_bytes());
        let labelled = !self.labels.is_empty();
        let label = |a: &[u8; 16]| labelled.then(|| self.labels.label_json(v, a)).flatten();
        let p = PerRecord {
            hash,
            addr: [ip_text(v, &r.init_ip), ip_text(v, &r.resp_ip)],
            mac: [mac_text(&r.dir[0].mac), mac_text(&r.dir[1].mac)],
            local: [
                self.local.contains(v, &r.init_ip),
                self.local.contains(v, &r.resp_ip),
            ],
            label: [label(&r.init_ip), label(&r.resp_ip)],
        };
        let mut n = 0;
        if r.kind != RecordKind::Start {
            for d in 0..2 {
                if r.dir[d].delta_packets > 0 {
                    self.line(r, &p, Some(d), now_s, out);
                    n += 1;
                }
            }
        }
        self.line(r, &p, None, now_s, out);
        n + 1
    }

    /// One line: a flowLog of direction `dir`, or the conversation record when `None`.
    fn line(
        &self,
        r: &FlowRecord,
        p: &PerRecord<'_>,
        dir: Option<usize>,
        now_s: u64,
        out: &mut Vec<u8>,
    ) {
        let s = dir.unwrap_or(0);
        let (src_port, dst_port) = if s == 0 {
            (r.init_port, r.resp_port)
        } else {
            (r.resp_port, r.init_port)
        };
        let rtype = match (dir, r.kind) {
            (Some(_), _) => "flowLog",
            (None, RecordKind::Start) => "newConnection",
            (None, RecordKind::Stats) => "heartbeat",
            (None, RecordKind::End) => "endConnection",
        };
        lit(out, b"{\"_RecordType\":\"");
        lit(out, rtype.as_bytes());
        lit(out, b"\",\"_HashId\":\"");
        lit(out, &p.hash);
        let (bytes, packets, flags) = match dir {
            Some(d) => (
                r.dir[d].delta_bytes,
                r.dir[d].delta_packets,
                r.dir[d].tcp_flags,
            ),
            None => (
                r.total_bytes(),
                r.total_packets(),
                r.dir[0].tcp_flags | r.dir[1].tcp_flags,
            ),
        };
        lit(out, b"\",\"Bytes\":");
        num(out, bytes);
        lit(out, b",\"Packets\":");
        num(out, packets);
        if dir.is_none() {
            lit(out, b",\"Bytes_AB\":");
            num(out, r.dir[0].bytes);
            lit(out, b",\"Bytes_BA\":");
            num(out, r.dir[1].bytes);
            lit(out, b",\"Packets_AB\":");
            num(out, r.dir[0].packets);
            lit(out, b",\"Packets_BA\":");
            num(out, r.dir[1].packets);
            lit(out, b",\"IpBytes_AB\":");
            num(out, r.dir[0].ip_bytes);
            lit(out, b",\"IpBytes_BA\":");
            num(out, r.dir[1].ip_bytes);
        }
        out.extend_from_slice(b",\"SrcAddr\":\"");
        p.addr[s].flush(out);
        out.extend_from_slice(b"\",\"DstAddr\":\"");
        p.addr[1 - s].flush(out);
        out.extend_from_slice(b"\",\"SrcMac\":\"");
        lit(out, &p.mac[s]);
        out.extend_from_slice(b"\",\"DstMac\":\"");
        lit(out, &p.mac[1 - s]);
        out.push(b'"');
        if matches!(r.proto, 6 | 17 | 132) {
            lit(out, b",\"SrcPort\":");
            num(out, src_port);
            lit(out, b",\"DstPort\":");
            num(out, dst_port);
        }
        lit(out, b",\"Proto\":");
        num(out, r.proto);
        lit(out, b",\"Dscp\":");
        num(out, r.dir[s].dscp);
        if r.proto == 6 {
            lit(out, b",\"Flags\":");
            num(out, flags);
        }
        let (src_local, dst_local) = (p.local[s], p.local[1 - s]);
        lit(out, b",\"FlowDirection\":");
        num(out, flow_direction(src_local, dst_local, s == 0));
        lit(out, b",\"IfDirections\":[0],\"Interfaces\":");
        lit(out, self.iface(r.port));
        if matches!(r.proto, 1 | 58) {
            lit(out, b",\"IcmpType\":");
            num(out, r.icmp_type);
            lit(out, b",\"IcmpCode\":");
            num(out, r.icmp_code);
        }
        if r.dns {
            lit(out, b",\"DnsId\":");
            num(out, r.dns_id);
            lit(out, b",\"DnsFlags\":");
            num(out, r.dns_flags);
            lit(out, b",\"DnsFlagsResponseCode\":\"");
            lit(out, rcode_name(r.dns_flags).as_bytes());
            lit(out, b"\",\"DnsLatencyMs\":");
            num(out, r.dns_latency_ms);
        }
        let (start, end) = match dir {
            Some(d) => (r.dir[d].first_ms, r.dir[d].last_ms),
            None => (r.first_ms, r.last_ms),
        };
        lit(out, b",\"TimeFlowStartMs\":");
        num(out, start);
        lit(out, b",\"TimeFlowEndMs\":");
        num(out, end);
        let rtt = r.rtt_syn_ns as u64 + r.rtt_ack_ns as u64;
        if rtt > 0 {
            lit(out, b",\"TimeFlowRttNs\":");
            num(out, rtt);
        }
        if let Some(l) = p.label[s] {
            out.extend_from_slice(b",\"SrcSubnetLabel\":");
            lit(out, l);
        }
        if let Some(l) = p.label[1 - s] {
            out.extend_from_slice(b",\"DstSubnetLabel\":");
            lit(out, l);
        }
        if dir.is_none() && r.kind == RecordKind::End {
            lit(out, b",\"EndReason\":\"");
            lit(out, r.reason.name().as_bytes());
            lit(out, b"\"");
        }
        lit(out, b",\"Duplicate\":false,\"TimeReceived\":");
        num(out, now_s);
        lit(out, b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{DirCounters, EndReason};
    use serde_json::Value;

    fn rec(kind: RecordKind) -> FlowRecord {
        let mut r = FlowRecord {
            flow_id: 7,
            kind,
            reason: if kind == RecordKind::End {
                EndReason::Closed
            } else {
                EndReason::None
            },
            ip_version: 4,
            proto: 6,
            init_port: 40000,
            resp_port: 443,
            first_ms: 1_700_000_000_000,
            last_ms: 1_700_000_001_500,
            rtt_syn_ns: 1_000_000,
            rtt_ack_ns: 500_000,
            ..Default::default()
        };
        r.init_ip[..4].copy_from_slice(&[10, 0, 0, 5]);
        r.resp_ip[..4].copy_from_slice(&[198, 51, 100, 7]);
        r.dir[0] = DirCounters {
            packets: 10,
            bytes: 1000,
            ip_bytes: 860,
            delta_packets: 4,
            delta_bytes: 400,
            first_ms: 1_700_000_000_000,
            last_ms: 1_700_000_001_400,
            tcp_flags: 0x02 | 0x10 | 0x01 | 0x200,
            mac: [2, 0, 0, 0, 0, 0xaa],
            dscp: 46,
            ..Default::default()
        };
        r.dir[1] = DirCounters {
            packets: 8,
            bytes: 9000,
            ip_bytes: 8888,
            delta_packets: 0,
            delta_bytes: 0,
            first_ms: 1_700_000_000_001,
            last_ms: 1_700_000_001_500,
            tcp_flags: 0x12 | 0x100,
            mac: [2, 0, 0, 0, 0, 0xbb],
            ..Default::default()
        };
        r
    }

    fn enc() -> NetObservEncoder {
        NetObservEncoder::new(
            LocalNets::default_nets(),
            SubnetLabels::parse(&["10.0.0.0/8=corp", "10.0.0.0/24=lab", "0.0.0.0/0=world"])
                .unwrap(),
            vec!["pcap0".into()],
        )
    }

    fn lines(r: &FlowRecord) -> Vec<Value> {
        let mut out = Vec::new();
        let n = enc().encode(r, 1234, &mut out);
        let v: Vec<Value> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("valid JSON"))
            .collect();
        assert_eq!(v.len() as u64, n);
        assert_eq!(out.last(), Some(&b'\n'));
        v
    }

    #[test]
    fn end_record_gives_flowlogs_per_active_direction_and_end_connection() {
        let mut r = rec(RecordKind::End);
        r.dir[1].delta_packets = 3;
        r.dir[1].delta_bytes = 4500;
        let v = lines(&r);
        assert_eq!(v.len(), 3);
        let (a, b, c) = (&v[0], &v[1], &v[2]);
        assert_eq!(a["_RecordType"], "flowLog");
        assert_eq!(a["SrcAddr"], "10.0.0.5");
        assert_eq!(a["DstAddr"], "198.51.100.7");
        assert_eq!(a["Bytes"], 400);
        assert_eq!(a["Packets"], 4);
        assert_eq!(a["FlowDirection"], 1, "local → remote is egress");
        assert_eq!(a["Dscp"], 46);
        assert_eq!(a["Flags"], 0x213);
        assert_eq!(a["SrcMac"], "02:00:00:00:00:aa");
        assert_eq!(a["DstMac"], "02:00:00:00:00:bb");
        assert_eq!(a["TimeFlowStartMs"], 1_700_000_000_000u64);
        assert_eq!(a["TimeFlowEndMs"], 1_700_000_001_400u64);
        assert_eq!(a["SrcSubnetLabel"], "lab", "longest prefix wins");
        assert_eq!(a["DstSubnetLabel"], "world");
        assert_eq!(b["_RecordType"], "flowLog");
        assert_eq!(b["SrcAddr"], "198.51.100.7");
        assert_eq!(b["SrcPort"], 443);
        assert_eq!(b["DstPort"], 40000);
        assert_eq!(b["Bytes"], 4500);
        assert_eq!(b["FlowDirection"], 0, "remote → local is ingress");
        assert_eq!(b["Flags"], 0x112);
        assert_eq!(c["_RecordType"], "endConnection");
        assert_eq!(c["Bytes"], 10000);
        assert_eq!(c["Packets"], 18);
        assert_eq!(c["Bytes_AB"], 1000);
        assert_eq!(c["Bytes_BA"], 9000);
        assert_eq!(c["Packets_AB"], 10);
        assert_eq!(c["Packets_BA"], 8);
        assert_eq!(c["IpBytes_AB"], 860);
        assert_eq!(c["IpBytes_BA"], 8888);
        assert_eq!(c["EndReason"], "closed");
        assert_eq!(c["Flags"], 0x213 | 0x112);
        assert_eq!(c["TimeFlowRttNs"], 1_500_000);
        for x in &v {
            assert_eq!(x["_HashId"], a["_HashId"]);
            assert_eq!(x["_HashId"].as_str().unwrap().len(), 16);
            assert_eq!(x["Interfaces"], serde_json::json!(["pcap0"]));
            assert_eq!(x["IfDirections"], serde_json::json!([0]));
            assert_eq!(x["Duplicate"], false);
            assert_eq!(x["TimeReceived"], 1234);
            assert_eq!(x["Proto"], 6);
            assert!(x.get("IcmpType").is_none());
            assert!(x.get("DnsId").is_none());
        }
    }

    #[test]
    fn start_and_stats_record_types() {
        let v = lines(&rec(RecordKind::Start));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0]["_RecordType"], "newConnection");
        assert!(v[0].get("EndReason").is_none());
        let v = lines(&rec(RecordKind::Stats));
        assert_eq!(
            v.len(),
            2,
            "only the direction with new packets gets a flowLog"
        );
        assert_eq!(v[0]["_RecordType"], "flowLog");
        assert_eq!(v[1]["_RecordType"], "heartbeat");
    }

    #[test]
    fn icmp_dns_and_ipv6() {
        let mut r = rec(RecordKind::Start);
        r.proto = 1;
        r.init_port = 0;
        r.resp_port = 0;
        r.icmp_type = 8;
        r.icmp_code = 0;
        let v = &lines(&r)[0];
        assert_eq!(v["IcmpType"], 8);
        assert_eq!(v["IcmpCode"], 0);
        assert!(v.get("SrcPort").is_none());
        assert!(v.get("Flags").is_none());

        let mut r = rec(RecordKind::Start);
        r.proto = 17;
        r.dns = true;
        r.dns_id = 0xbeef;
        r.dns_flags = 0x8183;
        r.dns_latency_ms = 12;
        r.ip_version = 6;
        r.init_ip = "fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets();
        r.resp_ip = "2001:db8::53"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        let v = &lines(&r)[0];
        assert_eq!(v["DnsId"], 0xbeef);
        assert_eq!(v["DnsFlags"], 0x8183);
        assert_eq!(v["DnsFlagsResponseCode"], "NXDomain");
        assert_eq!(v["DnsLatencyMs"], 12);
        assert_eq!(v["SrcAddr"], "fd00::1");
        assert_eq!(v["DstAddr"], "2001:db8::53");
        assert_eq!(v["FlowDirection"], 1);
        assert!(v.get("SrcSubnetLabel").is_none(), "IPv4 labels only");
    }

    #[test]
    fn directions_and_rcodes() {
        assert_eq!(flow_direction(true, true, true), 2);
        assert_eq!(flow_direction(true, false, false), 1);
        assert_eq!(flow_direction(false, true, true), 0);
        assert_eq!(flow_direction(false, false, true), 1);
        assert_eq!(flow_direction(false, false, false), 0);
        assert_eq!(rcode_name(0x8180), "NoError");
        assert_eq!(rcode_name(0x8182), "ServFail");
        assert_eq!(rcode_name(0x8185), "Refused");
        assert_eq!(rcode_name(0x000f), "Unassigned");
    }

    #[test]
    fn hash_id_is_per_connection() {
        let a = NetObservEncoder::hash_id(&rec(RecordKind::Start));
        let mut swapped = rec(RecordKind::End);
        std::mem::swap(&mut swapped.init_ip, &mut swapped.resp_ip);
        std::mem::swap(&mut swapped.init_port, &mut swapped.resp_port);
        assert_eq!(a, NetObservEncoder::hash_id(&swapped));
        let mut other = rec(RecordKind::Start);
        other.flow_id = 8;
        assert_ne!(a, NetObservEncoder::hash_id(&other));
        let mut seg = rec(RecordKind::Start);
        seg.segment = 1;
        assert_ne!(a, NetObservEncoder::hash_id(&seg));
    }

    #[test]
    fn subnet_labels_are_escaped() {
        let e = NetObservEncoder::new(
            LocalNets::default_nets(),
            SubnetLabels::parse(&["10.0.0.0/8=a\"b\\c\u{1}d"]).unwrap(),
            vec!["pcap0".into()],
        );
        let mut out = Vec::new();
        e.encode(&rec(RecordKind::Start), 1, &mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["SrcSubnetLabel"], "a\"b\\c\u{1}d");
    }

    #[test]
    fn subnet_label_errors() {
        assert!(SubnetLabels::parse(&["10.0.0.0/8"])
            .unwrap_err()
            .contains("CIDR=NAME"));
        assert!(SubnetLabels::parse(&["10.0.0.0/8="])
            .unwrap_err()
            .contains("empty name"));
        assert!(SubnetLabels::parse(&["10.0.0.0/99=x"]).is_err());
    }
}
