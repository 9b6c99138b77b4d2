//! Netify-style JSON lines: `flow` (start), `flow_stats` (periodic), `flow_purge` (end).
//!
//! Field names and units follow the Netify Agent v5 Core Plugin records (`../shared/reference/`):
//! times in epoch milliseconds, bytes are L2 frame bytes. `local_*`/`other_*` counters in
//! `flow_stats`/`flow_purge` cover the packets since the previous report of the flow (so they sum
//! to `total_*` over a flow's reports); `total_*` are cumulative.
//!
//! flowprobe extension: a `flow` record of a decapsulated flow (`FlowRecord::tunnel` set) carries
//! `flow.tunnel.{type, id, outer_ip_version, outer_src_ip, outer_dst_ip}`: the outermost tunnel
//! (`type`: `gre`, `erspan`, `vxlan`, `geneve`, `gtpu`, `ipinip`, `pptp`), its id (GRE key, VNI,
//! TEID, ERSPAN session) and outer IP endpoints. Absent for plain flows.
//!
//! flowprobe extension: a `flow_stats`/`flow_purge` record of a flow that ICMP errors quoted in
//! the reported segment carries `flow.flowprobe_icmp_errors.{count, type, code}` (count in the
//! segment, type/code of the last error). Absent when there were none.

use super::flowhash;
use super::json::{boolean, ip, lit, mac, num, tunnel_name};
use super::localnet::{other_type_of, LocalNets};
use crate::flow::{FlowRecord, RecordKind};
use crate::sha1x2::{compress2, IV};

pub struct NetifyEncoder {
    local: LocalNets,
    /// Each port's interface name (`interface` field and part of the digest) and what it
    /// contributes to a record, by port id.
    ports: Vec<Port>,
    /// The same for ports without a name.
    unknown: Port,
}

/// What an interface name contributes to every record, rendered once.
struct Port {
    name: String,
    /// Per `RecordKind`: the line's constant start, up to `"internal":`.
    head: [Vec<u8>; 3],
    /// The digest's SHA-1 message with the tuple left out, for an IPv4 then an IPv6 tuple: the
    /// name, padding and bit length after the tuple's place, and the block count (1 or 2).
    /// `None` when it needs more than two blocks.
    msg: [Option<([u8; 128], usize)>; 2],
}

/// Tuple lengths (`flowhash::tuple`) for IPv4 and IPv6.
const TUPLE_LEN: [usize; 2] = [16, flowhash::TUPLE_MAX];

impl Port {
    fn new(iface: &str) -> Port {
        let msg = TUPLE_LEN.map(|n| {
            let len = n + iface.len();
            if len > 128 - 9 {
                return None;
            }
            let mut m = [0u8; 128];
            m[n..len].copy_from_slice(iface.as_bytes());
            m[len] = 0x80;
            let blocks = if len < 64 - 8 { 1 } else { 2 };
            m[64 * blocks - 8..64 * blocks].copy_from_slice(&(8 * len as u64).to_be_bytes());
            Some((m, blocks))
        });
        Port {
            name: iface.to_owned(),
            head: heads(iface),
            msg,
        }
    }
}

/// The local side of a record: which direction index is the local endpoint's.
struct Sides {
    local: usize,
    internal: bool,
    /// Whether the other side's address is in a local net too.
    other_local: bool,
}

impl NetifyEncoder {
    pub fn new(local: LocalNets, ifaces: Vec<String>) -> Self {
        NetifyEncoder {
            local,
            ports: ifaces.iter().map(|n| Port::new(n)).collect(),
            unknown: Port::new("unknown"),
        }
    }

    /// Interface names become known once the ports are started, after the outputs are opened.
    pub fn set_ifaces(&mut self, ifaces: Vec<String>) {
        self.ports = ifaces.iter().map(|n| Port::new(n)).collect();
    }

    fn port(&self, port: u16) -> &Port {
        self.ports.get(port as usize).unwrap_or(&self.unknown)
    }

    fn sides(&self, r: &FlowRecord) -> Sides {
        let il = self.local.contains(r.ip_version, &r.init_ip);
        let rl = self.local.contains(r.ip_version, &r.resp_ip);
        Sides {
            // The initiator is the local side unless only the responder is local.
            local: usize::from(!il && rl),
            internal: il && rl,
            other_local: if !il && rl { il } else { rl },
        }
    }

    /// Netify's digest: SHA-1 over the 7-tuple (IP version, protocol, VLAN, the two endpoints in
    /// canonical order, interface). Stable for the flow's life; equal for both directions.
    pub fn digest(&self, r: &FlowRecord, out: &mut Vec<u8>) {
        digest_hex(out, &self.digest_state(r));
    }

    /// The digest as SHA-1 state words (big-endian words of the 20-byte hash).
    fn digest_state(&self, r: &FlowRecord) -> [u32; 5] {
        let Some((m, blocks)) = self.digest_msg(r) else {
            use sha1::Digest;
            let mut t = [0; flowhash::TUPLE_MAX];
            let n = flowhash::tuple(r, &mut t);
            let mut h = sha1::Sha1::new();
            h.update(&t[..n]);
            h.update(self.port(r.port).name.as_bytes());
            let h = h.finalize();
            return std::array::from_fn(|i| {
                u32::from_be_bytes(h[4 * i..4 * i + 4].try_into().unwrap())
            });
        };
        let mut st = IV;
        for b in m.chunks_exact(64).take(blocks) {
            let b = sha1::digest::generic_array::GenericArray::from_slice(b);
            sha1::compress(&mut st, std::slice::from_ref(b));
        }
        st
    }

    /// The digest's padded SHA-1 message and its block count (1 or 2): the port's pre-padded
    /// message with the tuple written in (the `Digest` wrapper's buffering cost as much as the
    /// SHA-NI rounds). `None` when the interface name needs more than two blocks.
    #[inline]
    fn digest_msg(&self, r: &FlowRecord) -> Option<([u8; 128], usize)> {
        let (msg, blocks) = self.port(r.port).msg[usize::from(r.ip_version != 4)].as_ref()?;
        let mut m = *msg;
        let t: &mut [u8; flowhash::TUPLE_MAX] = (&mut m[..flowhash::TUPLE_MAX]).try_into().unwrap();
        flowhash::tuple(r, t);
        Some((m, *blocks))
    }

    /// The digests of one or two records (`rs.len()` ≤ 2; the second is unused for one): two
    /// one-block messages (every IPv4 flow, IPv6 with names up to 15 bytes) are compressed
    /// together ([`crate::sha1x2`]), others one by one.
    pub fn digests(&self, rs: &[FlowRecord]) -> [[u32; 5]; 2] {
        if let [a, b] = rs {
            if let (Some((ma, 1)), Some((mb, 1))) = (self.digest_msg(a), self.digest_msg(b)) {
                let mut st = [IV, IV];
                // 128-byte messages: their first 64 bytes always exist.
                compress2(
                    &mut st,
                    [ma.first_chunk().unwrap(), mb.first_chunk().unwrap()],
                );
                return st;
            }
        }
        let mut st = [IV; 2];
        for (s, r) in st.iter_mut().zip(rs) {
            *s = self.digest_state(r);
        }
        st
    }

    /// Encodes a burst of records: the same lines as [`NetifyEncoder::encode`] on each in turn,
    /// the digests computed two at a time.
    pub fn encode_burst(&self, rs: &[FlowRecord], out: &mut Vec<u8>) {
        for pair in rs.chunks(2) {
            let d = self.digests(pair);
            for (r, d) in pair.iter().zip(&d) {
                self.encode_with(r, d, out);
            }
        }
    }

    pub fn encode(&self, r: &FlowRecord, out: &mut Vec<u8>) {
        self.encode_with(r, &self.digest_state(r), out);
    }

    /// [`NetifyEncoder::encode`] with the record's digest state given (see
    /// [`NetifyEncoder::digests`]).
    pub fn encode_with(&self, r: &FlowRecord, digest: &[u32; 5], out: &mut Vec<u8>) {
        let s = self.sides(r);
        let (l, o) = (s.local, 1 - s.local);
        let ep = |d: usize| {
            if d == 0 {
                (&r.init_ip, r.init_port)
            } else {
                (&r.resp_ip, r.resp_port)
            }
        };
        lit(out, &self.port(r.port).head[r.kind as usize]);
        boolean(out, s.internal);
        lit(out, b",");
        if r.kind == RecordKind::End {
            lit(out, b"\"reason\":\"");
            lit(out, r.reason.name().as_bytes());
            lit(out, b"\",");
        }
        lit(out, b"\"flow\":{\"digest\":\"");
        digest_hex(out, digest);
        lit(out, b"\",\"digest_prev\":[],");
        match r.kind {
            RecordKind::Start => {
                let (lip, lport) = ep(l);
                let (oip, oport) = ep(o);
                lit(out, b"\"ip_version\":");
                num(out, r.ip_version);
                lit(out, b",\"ip_protocol\":");
                num(out, r.proto);
                lit(out, b",\"vlan_id\":");
                num(out, r.vlan);
                lit(out, b",\"local_origin\":");
                boolean(out, l == 0);
                lit(out, b",\"local_ip\":\"");
                ip(out, r.ip_version, lip);
                lit(out, b"\",\"local_mac\":\"");
                mac(out, &r.dir[l].mac);
                lit(out, b"\",\"local_port\":");
                num(out, lport);
                lit(out, b",\"other_ip\":\"");
                ip(out, r.ip_version, oip);
                lit(out, b"\",\"other_mac\":\"");
                mac(out, &r.dir[o].mac);
                lit(out, b"\",\"other_port\":");
                num(out, oport);
                lit(out, b",\"other_type\":\"");
                lit(
                    out,
                    other_type_of(r.ip_version, oip, s.other_local).as_bytes(),
                );
                lit(out, b"\",\"first_seen_at\":");
                num(out, r.first_ms);
                lit(out, b",\"last_seen_at\":");
                num(out, r.last_ms);
                if r.tunnel != crate::parse::Tunnel::None {
                    lit(out, b",\"tunnel\":{\"type\":\"");
                    tunnel_name(out, r.tunnel);
                    lit(out, b"\",\"id\":");
                    num(out, r.tunnel_id);
                    lit(out, b",\"outer_ip_version\":");
                    num(out, r.outer_ip_version);
                    lit(out, b",\"outer_src_ip\":\"");
                    ip(out, r.outer_ip_version, &r.outer_src_ip);
                    lit(out, b"\",\"outer_dst_ip\":\"");
                    ip(out, r.outer_ip_version, &r.outer_dst_ip);
                    lit(out, b"\"}");
                }
                lit(out, b"}}\n");
            }
            RecordKind::Stats | RecordKind::End => {
                let (ld, od) = (&r.dir[l], &r.dir[o]);
                lit(out, b"\"detection_packets\":");
                num(out, r.detection_packets);
                lit(out, b",\"last_seen_at\":");
                num(out, r.last_ms);
                lit(out, b",\"local_bytes\":");
                num(out, ld.delta_bytes);
                lit(out, b",\"local_packets\":");
                num(out, ld.delta_packets);
                lit(out, b",\"local_rate\":");
                num(out, ld.rate);
                lit(out, b",\"other_bytes\":");
                num(out, od.delta_bytes);
                lit(out, b",\"other_packets\":");
                num(out, od.delta_packets);
                lit(out, b",\"other_rate\":");
                num(out, od.rate);
                lit(out, b",");
                if r.proto == 6 {
                    lit(out, b"\"tcp\":{\"resets\":");
                    num(out, r.tcp_resets);
                    lit(out, b",\"retrans\":");
                    num(out, r.tcp_retrans);
                    lit(out, b",\"seq_errors\":");
                    num(out, r.tcp_seq_errors);
                    lit(out, b"},");
                }
                if r.icmp_errors > 0 {
                    lit(out, b"\"flowprobe_icmp_errors\":{\"count\":");
                    num(out, r.icmp_errors);
                    lit(out, b",\"type\":");
                    num(out, r.icmp_error_type);
                    lit(out, b",\"code\":");
                    num(out, r.icmp_error_code);
                    lit(out, b"},");
                }
                lit(out, b"\"total_bytes\":");
                num(out, r.total_bytes());
                lit(out, b",\"total_packets\":");
                num(out, r.total_packets());
                lit(out, b"}}\n");
            }
        }
    }
}

/// The 40 hex digits of a digest's state words.
fn digest_hex(out: &mut Vec<u8>, st: &[u32; 5]) {
    let mut h = [0u8; 40];
    for (d, &w) in h.chunks_exact_mut(8).zip(st) {
        d.copy_from_slice(&hex8(w).to_le_bytes());
    }
    lit(out, &h);
}

/// The eight lowercase hex digits of `w`, most significant first, as the bytes of a
/// little-endian `u64`: the nibbles spread to one a byte and turned into ASCII in registers
/// (a table lookup and a 2-byte copy per byte cost twice the instructions).
#[inline]
fn hex8(w: u32) -> u64 {
    // Nibble k of `w` after this is text digit k: bytes reversed, then each byte's two nibbles.
    let w = w.swap_bytes();
    let w = (w >> 4) & 0x0f0f_0f0f | (w & 0x0f0f_0f0f) << 4;
    let mut x = u64::from(w);
    x = (x | x << 16) & 0x0000_ffff_0000_ffff;
    x = (x | x << 8) & 0x00ff_00ff_00ff_00ff;
    x = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f;
    // Digits 10-15 are letters: 'a' - '0' - 10 = 39 more where a nibble + 6 carries into bit 4.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    x + 0x3030_3030_3030_3030 + letters * 39
}

/// `{"type":"KIND","interface":"NAME","internal":` for each `RecordKind`.
fn heads(iface: &str) -> [Vec<u8>; 3] {
    RecordKind::ALL.map(|k| {
        let mut h = Vec::new();
        lit(&mut h, b"{\"type\":\"");
        lit(&mut h, k.name().as_bytes());
        lit(&mut h, b"\",\"interface\":\"");
        lit(&mut h, iface.as_bytes());
        lit(&mut h, b"\",\"internal\":");
        h
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{DirCounters, EndReason};
    use serde_json::Value;

    fn rec(kind: RecordKind) -> FlowRecord {
        let mut r = FlowRecord {
            kind,
            reason: if kind == RecordKind::End {
                EndReason::Expired
            } else {
                EndReason::None
            },
            ip_version: 4,
            proto: 6,
            vlan: 12,
            init_port: 40000,
            resp_port: 443,
            first_ms: 1_700_000_000_000,
            last_ms: 1_700_000_001_500,
            tcp_retrans: 2,
            detection_packets: 3,
            ..Default::default()
        };
        // The initiator is remote; the responder is local: local = responder.
        r.init_ip[..4].copy_from_slice(&[198, 51, 100, 7]);
        r.resp_ip[..4].copy_from_slice(&[10, 0, 0, 5]);
        r.dir[0] = DirCounters {
            packets: 10,
            bytes: 1000,
            delta_packets: 4,
            delta_bytes: 400,
            rate: 400,
            mac: [2, 0, 0, 0, 0, 0xaa],
            ..Default::default()
        };
        r.dir[1] = DirCounters {
            packets: 8,
            bytes: 9000,
            delta_packets: 3,
            delta_bytes: 4500,
            rate: 3000,
            mac: [2, 0, 0, 0, 0, 0xbb],
            ..Default::default()
        };
        r
    }

    fn enc() -> NetifyEncoder {
        NetifyEncoder::new(LocalNets::default_nets(), vec!["pcap0".into()])
    }

    fn json(r: &FlowRecord) -> Value {
        let mut out = Vec::new();
        enc().encode(r, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn start_record_orients_local_and_other() {
        let v = json(&rec(RecordKind::Start));
        assert_eq!(v["type"], "flow");
        assert_eq!(v["interface"], "pcap0");
        assert_eq!(v["internal"], false);
        let f = &v["flow"];
        assert_eq!(f["local_ip"], "10.0.0.5");
        assert_eq!(f["local_port"], 443);
        assert_eq!(f["local_mac"], "02:00:00:00:00:bb");
        assert_eq!(f["local_origin"], false);
        assert_eq!(f["other_ip"], "198.51.100.7");
        assert_eq!(f["other_type"], "remote");
        assert_eq!(f["vlan_id"], 12);
        assert_eq!(f["ip_protocol"], 6);
        assert_eq!(f["first_seen_at"], 1_700_000_000_000u64);
        assert_eq!(f["digest"].as_str().unwrap().len(), 40);
    }

    #[test]
    fn purge_record_has_every_reference_attribute() {
        let v = json(&rec(RecordKind::End));
        assert_eq!(v["type"], "flow_purge");
        assert_eq!(v["reason"], "expired");
        let f = &v["flow"];
        for k in [
            "detection_packets",
            "digest",
            "digest_prev",
            "last_seen_at",
            "local_bytes",
            "local_packets",
            "local_rate",
            "other_bytes",
            "other_packets",
            "other_rate",
            "tcp",
            "total_bytes",
            "total_packets",
        ] {
            assert!(!f[k].is_null(), "missing flow.{k}");
        }
        assert_eq!(f["local_bytes"], 4500);
        assert_eq!(f["local_packets"], 3);
        assert_eq!(f["other_rate"], 400);
        assert_eq!(f["total_packets"], 18);
        assert_eq!(f["total_bytes"], 10000);
        assert_eq!(f["tcp"]["retrans"], 2);
        assert_eq!(f["detection_packets"], 3);
    }

    #[test]
    fn digest_is_the_same_for_every_record_of_a_flow_and_differs_by_vlan() {
        let d = |r: &FlowRecord| json(r)["flow"]["digest"].clone();
        let a = d(&rec(RecordKind::Start));
        assert_eq!(a, d(&rec(RecordKind::Stats)));
        assert_eq!(a, d(&rec(RecordKind::End)));
        let mut swapped = rec(RecordKind::End);
        std::mem::swap(&mut swapped.init_ip, &mut swapped.resp_ip);
        std::mem::swap(&mut swapped.init_port, &mut swapped.resp_port);
        assert_eq!(a, d(&swapped), "orientation does not change the digest");
        let mut v = rec(RecordKind::End);
        v.vlan = 13;
        assert_ne!(a, d(&v));
    }

    /// The hand-padded SHA-1 against the `Digest` API: one and two blocks (names up to the
    /// two-block limit) and the fallback beyond it, IPv4 and IPv6.
    #[test]
    fn digest_matches_sha1_over_name_lengths() {
        use sha1::Digest;
        for v6 in [false, true] {
            let mut r = rec(RecordKind::End);
            if v6 {
                r.ip_version = 6;
                r.init_ip = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
                r.resp_ip = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
            }
            for len in 0..150 {
                let name: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
                let e = NetifyEncoder::new(LocalNets::default_nets(), vec![name.clone()]);
                let mut out = Vec::new();
                e.digest(&r, &mut out);
                let mut t = [0; flowhash::TUPLE_MAX];
                let n = flowhash::tuple(&r, &mut t);
                let mut h = sha1::Sha1::new();
                h.update(&t[..n]);
                h.update(name.as_bytes());
                let want: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(out, want.as_bytes(), "v6 {v6}, name length {len}");
            }
        }
    }

    #[test]
    fn hex8_matches_format() {
        let mut x = 0x9e37_79b9u32;
        for w in [0, 1, 9, 10, 15, 0x1234_5678, 0x89ab_cdef, u32::MAX]
            .into_iter()
            .chain(std::iter::from_fn(|| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                Some(x)
            }))
            .take(10_000)
        {
            assert_eq!(hex8(w).to_le_bytes(), *format!("{w:08x}").as_bytes());
        }
    }

    /// A burst (digests two at a time) encodes exactly what record-by-record encoding does:
    /// IPv4 and IPv6 mixed in every pairing, ports whose names give one-, two- and
    /// three-block digest messages, odd burst lengths.
    #[test]
    fn burst_encodes_like_one_by_one() {
        let names: Vec<String> = [0usize, 6, 15, 16, 40, 47, 48, 100, 130]
            .iter()
            .map(|&n| (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect())
            .collect();
        let e = NetifyEncoder::new(LocalNets::default_nets(), names.clone());
        let kinds = [RecordKind::Start, RecordKind::Stats, RecordKind::End];
        let rs: Vec<FlowRecord> = (0..97u16)
            .map(|i| {
                let mut r = rec(kinds[usize::from(i % 3)]);
                r.port = i % (names.len() as u16 + 1); // the last: a port without a name
                r.init_port = 1000 + i;
                r.vlan = i % 5;
                if (i / 2) % 3 == 1 || i % 7 == 0 {
                    r.ip_version = 6;
                    r.init_ip = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i as u8];
                    r.resp_ip = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 5];
                }
                r
            })
            .collect();
        for n in [0, 1, 2, 3, 64, 97] {
            let (mut one, mut burst) = (Vec::new(), Vec::new());
            for r in &rs[..n] {
                e.encode(r, &mut one);
            }
            e.encode_burst(&rs[..n], &mut burst);
            assert_eq!(
                String::from_utf8_lossy(&burst),
                String::from_utf8_lossy(&one),
                "burst of {n}"
            );
        }
    }

    #[test]
    fn other_type_follows_the_other_side() {
        let other = |init: [u8; 4], resp: [u8; 4]| {
            let mut r = rec(RecordKind::Start);
            r.init_ip[..4].copy_from_slice(&init);
            r.resp_ip[..4].copy_from_slice(&resp);
            let v = json(&r);
            (v["internal"].clone(), v["flow"]["other_type"].clone())
        };
        assert_eq!(
            other([10, 0, 0, 1], [10, 0, 0, 2]),
            (true.into(), "local".into())
        );
        assert_eq!(
            other([10, 0, 0, 1], [8, 8, 8, 8]),
            (false.into(), "remote".into())
        );
        assert_eq!(
            other([8, 8, 8, 8], [10, 0, 0, 1]),
            (false.into(), "remote".into())
        );
        assert_eq!(
            other([8, 8, 8, 8], [224, 0, 0, 1]),
            (false.into(), "multicast".into())
        );
        assert_eq!(
            other([10, 0, 0, 1], [255; 4]),
            (false.into(), "broadcast".into())
        );
    }

    #[test]
    fn unknown_port_is_named_unknown() {
        let mut r = rec(RecordKind::Stats);
        r.port = 3;
        let v = json(&r);
        assert_eq!(v["interface"], "unknown");
        assert_eq!(v["type"], "flow_stats");
    }

    #[test]
    fn start_record_carries_tunnel_metadata_only_when_tunnelled() {
        let v = json(&rec(RecordKind::Start));
        assert!(v["flow"].get("tunnel").is_none());
        let mut r = rec(RecordKind::Start);
        r.tunnel = crate::parse::Tunnel::Vxlan;
        r.tunnel_id = 4242;
        r.outer_ip_version = 4;
        r.outer_src_ip[..4].copy_from_slice(&[192, 0, 2, 1]);
        r.outer_dst_ip[..4].copy_from_slice(&[192, 0, 2, 2]);
        let v = json(&r);
        let t = &v["flow"]["tunnel"];
        assert_eq!(t["type"], "vxlan");
        assert_eq!(t["id"], 4242);
        assert_eq!(t["outer_ip_version"], 4);
        assert_eq!(t["outer_src_ip"], "192.0.2.1");
        assert_eq!(t["outer_dst_ip"], "192.0.2.2");
        assert_eq!(
            v["flow"]["local_ip"], "10.0.0.5",
            "the inner flow is the key"
        );
    }

    #[test]
    fn udp_stats_have_no_tcp_object() {
        let mut r = rec(RecordKind::Stats);
        r.proto = 17;
        let v = json(&r);
        assert_eq!(v["type"], "flow_stats");
        assert!(v["flow"]["tcp"].is_null());
        assert!(v.get("reason").is_none());
    }
}
