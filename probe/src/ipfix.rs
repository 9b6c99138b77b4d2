//! IPFIX (RFC 7011) encoding of flow records as bidirectional flows (RFC 5103).
//!
//! Pure: records in, messages (byte vectors) out; the exporter sends them over UDP or TCP.
//! Two templates (IPv4 and IPv6) with standard information elements; the reverse direction uses
//! the RFC 5103 reverse elements (enterprise bit, PEN 29305, same element id). Messages stay
//! within the configured MTU; sequence numbers count the data records sent before each message in
//! the observation domain, as RFC 7011 §3.1 requires.

use crate::flow::{EndReason, FlowRecord, RecordKind};

/// RFC 5103 reverse information elements' private enterprise number.
pub const REVERSE_PEN: u32 = 29305;
pub const TEMPLATE_V4: u16 = 256;
pub const TEMPLATE_V6: u16 = 257;
const HEADER_LEN: usize = 16;
const SET_HEADER_LEN: usize = 4;

/// (element id, length, reverse?) of one field, in template order.
type Field = (u16, u16, bool);

const fn fields(v6: bool) -> [Field; 21] {
    let (src, dst, icmp) = if v6 { (27, 28, 139) } else { (8, 12, 32) };
    let alen = if v6 { 16 } else { 4 };
    [
        (src, alen, false), // sourceIPv{4,6}Address
        (dst, alen, false), // destinationIPv{4,6}Address
        (7, 2, false),      // sourceTransportPort
        (11, 2, false),     // destinationTransportPort
        (4, 1, false),      // protocolIdentifier
        (58, 2, false),     // vlanId
        (10, 4, false),     // ingressInterface
        (5, 1, false),      // ipClassOfService
        (56, 6, false),     // sourceMacAddress
        (80, 6, false),     // destinationMacAddress
        (icmp, 2, false),   // icmpTypeCodeIPv{4,6}
        (152, 8, false),    // flowStartMilliseconds
        (153, 8, false),    // flowEndMilliseconds
        (136, 1, false),    // flowEndReason
        (1, 8, false),      // octetDeltaCount
        (2, 8, false),      // packetDeltaCount
        (6, 2, false),      // tcpControlBits
        (1, 8, true),       // reverseOctetDeltaCount
        (2, 8, true),       // reversePacketDeltaCount
        (6, 2, true),       // reverseTcpControlBits
        (239, 1, false),    // biflowDirection
    ]
}

fn record_len(v6: bool) -> usize {
    fields(v6).iter().map(|f| f.1 as usize).sum()
}

/// IPFIX flowEndReason (RFC 7011 / IANA): idle 1, active 2, end of flow 3, forced 4, lack of
/// resources 5. Periodic updates (`flow_stats`) are reported as active-timeout exports.
pub fn end_reason_code(r: &FlowRecord) -> u8 {
    match (r.kind, r.reason) {
        (RecordKind::Stats, _) => 2,
        (_, EndReason::Expired) => 1,
        (_, EndReason::Active) => 2,
        (_, EndReason::Closed) => 3,
        (_, EndReason::Shutdown) => 4,
        (_, EndReason::Evicted) => 5,
        _ => 0,
    }
}

/// Builds IPFIX messages for one observation domain.
pub struct IpfixEncoder {
    domain: u32,
    mtu: usize,
    /// Data records sent in this domain so far (the next message's sequence number).
    seq: u32,
    msg: Vec<u8>,
    /// Offset of the open set's header in `msg`, and its template id.
    open_set: Option<(usize, u16)>,
    records_in_msg: u32,
}

impl IpfixEncoder {
    /// `mtu`: the largest message in bytes (e.g. 1400 for UDP over Ethernet).
    pub fn new(domain: u32, mtu: usize) -> Self {
        let mtu = mtu.clamp(HEADER_LEN + SET_HEADER_LEN + record_len(true), 65535);
        IpfixEncoder {
            domain,
            mtu,
            seq: 0,
            msg: Vec::with_capacity(mtu),
            open_set: None,
            records_in_msg: 0,
        }
    }

    pub fn sequence(&self) -> u32 {
        self.seq
    }

    fn start_msg(&mut self) {
        self.msg.clear();
        self.msg.extend_from_slice(&[0u8; HEADER_LEN]);
        self.open_set = None;
        self.records_in_msg = 0;
    }

    fn close_set(&mut self) {
        if let Some((off, _)) = self.open_set.take() {
            let len = (self.msg.len() - off) as u16;
            self.msg[off + 2..off + 4].copy_from_slice(&len.to_be_bytes());
        }
    }

    fn finish_msg(&mut self, export_time_s: u32, seq: u32) -> Vec<u8> {
        self.close_set();
        let len = self.msg.len() as u16;
        let h = &mut self.msg[..HEADER_LEN];
        h[0..2].copy_from_slice(&10u16.to_be_bytes());
        h[2..4].copy_from_slice(&len.to_be_bytes());
        h[4..8].copy_from_slice(&export_time_s.to_be_bytes());
        h[8..12].copy_from_slice(&seq.to_be_bytes());
        h[12..16].copy_from_slice(&self.domain.to_be_bytes());
        std::mem::take(&mut self.msg)
    }

    /// A message carrying both templates (sent first, and periodically over UDP).
    pub fn template_message(&mut self, export_time_s: u32) -> Vec<u8> {
        let pending = std::mem::take(&mut self.msg);
        let pending_set = self.open_set.take();
        let pending_n = self.records_in_msg;
        self.start_msg();
        let off = self.msg.len();
        self.msg.extend_from_slice(&2u16.to_be_bytes());
        self.msg.extend_from_slice(&0u16.to_be_bytes());
        for (id, v6) in [(TEMPLATE_V4, false), (TEMPLATE_V6, true)] {
            let f = fields(v6);
            self.msg.extend_from_slice(&id.to_be_bytes());
            self.msg.extend_from_slice(&(f.len() as u16).to_be_bytes());
            for (ie, len, rev) in f {
                if rev {
                    self.msg.extend_from_slice(&(ie | 0x8000).to_be_bytes());
                    self.msg.extend_from_slice(&len.to_be_bytes());
                    self.msg.extend_from_slice(&REVERSE_PEN.to_be_bytes());
                } else {
                    self.msg.extend_from_slice(&ie.to_be_bytes());
                    self.msg.extend_from_slice(&len.to_be_bytes());
                }
            }
        }
        self.open_set = Some((off, 2));
        // Template messages carry no data records: the sequence number does not advance.
        let m = self.finish_msg(export_time_s, self.seq);
        self.msg = pending;
        self.open_set = pending_set;
        self.records_in_msg = pending_n;
        m
    }

    /// Add one record (Start records are not exported: IPFIX reports counters). Completed
    /// messages are appended to `out`.
    pub fn add(&mut self, r: &FlowRecord, export_time_s: u32, out: &mut Vec<Vec<u8>>) {
        if r.kind == RecordKind::Start {
            return;
        }
        let v6 = r.ip_version == 6;
        let tid = if v6 { TEMPLATE_V6 } else { TEMPLATE_V4 };
        let need = record_len(v6)
            + if matches!(self.open_set, Some((_, t)) if t == tid) {
                0
            } else {
                SET_HEADER_LEN
            };
        if self.msg.is_empty() {
            self.start_msg();
        } else if self.msg.len() + need > self.mtu {
            self.flush(export_time_s, out);
            self.start_msg();
        }
        if !matches!(self.open_set, Some((_, t)) if t == tid) {
            self.close_set();
            let off = self.msg.len();
            self.msg.extend_from_slice(&tid.to_be_bytes());
            self.msg.extend_from_slice(&0u16.to_be_bytes());
            self.open_set = Some((off, tid));
        }
        self.encode(r, v6);
        self.records_in_msg += 1;
    }

    /// Finish the message being built, if any.
    pub fn flush(&mut self, export_time_s: u32, out: &mut Vec<Vec<u8>>) {
        if self.records_in_msg == 0 {
            self.msg.clear();
            self.open_set = None;
            return;
        }
        let n = self.records_in_msg;
        let seq = self.seq;
        out.push(self.finish_msg(export_time_s, seq));
        self.seq = self.seq.wrapping_add(n);
        self.records_in_msg = 0;
    }

    fn encode(&mut self, r: &FlowRecord, v6: bool) {
        let alen = if v6 { 16 } else { 4 };
        let m = &mut self.msg;
        let (a, b) = (&r.dir[0], &r.dir[1]);
        m.extend_from_slice(&r.init_ip[..alen]);
        m.extend_from_slice(&r.resp_ip[..alen]);
        m.extend_from_slice(&r.init_port.to_be_bytes());
        m.extend_from_slice(&r.resp_port.to_be_bytes());
        m.push(r.proto);
        m.extend_from_slice(&r.vlan.to_be_bytes());
        m.extend_from_slice(&(r.port as u32).to_be_bytes());
        m.push(a.dscp << 2);
        m.extend_from_slice(&a.mac);
        m.extend_from_slice(&b.mac);
        let icmp = if r.proto == 1 || r.proto == 58 {
            (r.icmp_type as u16) << 8 | r.icmp_code as u16
        } else {
            0
        };
        m.extend_from_slice(&icmp.to_be_bytes());
        m.extend_from_slice(&r.first_ms.to_be_bytes());
        m.extend_from_slice(&r.last_ms.to_be_bytes());
        m.push(end_reason_code(r));
        m.extend_from_slice(&a.delta_bytes.to_be_bytes());
        m.extend_from_slice(&a.delta_packets.to_be_bytes());
        m.extend_from_slice(&(a.tcp_flags & 0xff).to_be_bytes());
        m.extend_from_slice(&b.delta_bytes.to_be_bytes());
        m.extend_from_slice(&b.delta_packets.to_be_bytes());
        m.extend_from_slice(&(b.tcp_flags & 0xff).to_be_bytes());
        // biflowDirection 1: initiator (the source is the flow's initiator).
        m.push(1);
    }
}

/// Data records in a message built by [`IpfixEncoder`] (its data sets only).
pub fn data_records_in(m: &[u8]) -> usize {
    let mut o = HEADER_LEN;
    let mut n = 0;
    while o + SET_HEADER_LEN <= m.len() {
        let id = u16::from_be_bytes([m[o], m[o + 1]]);
        let len = u16::from_be_bytes([m[o + 2], m[o + 3]]) as usize;
        if len < SET_HEADER_LEN || o + len > m.len() {
            break;
        }
        if id == TEMPLATE_V4 || id == TEMPLATE_V6 {
            n += (len - SET_HEADER_LEN) / record_len(id == TEMPLATE_V6);
        }
        o += len;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::DirCounters;

    fn rec(v6: bool, i: u16) -> FlowRecord {
        let mut r = FlowRecord {
            kind: RecordKind::End,
            reason: EndReason::Closed,
            ip_version: if v6 { 6 } else { 4 },
            proto: 6,
            init_port: 40000 + i,
            resp_port: 443,
            first_ms: 1_700_000_000_000,
            last_ms: 1_700_000_000_500,
            ..Default::default()
        };
        r.init_ip[0] = 10;
        r.resp_ip[0] = 192;
        r.dir[0] = DirCounters {
            delta_packets: 3,
            delta_bytes: 300,
            tcp_flags: 0x1b | 0x200,
            ..Default::default()
        };
        r.dir[1] = DirCounters {
            delta_packets: 2,
            delta_bytes: 2000,
            tcp_flags: 0x12,
            ..Default::default()
        };
        r
    }

    fn u16_at(b: &[u8], o: usize) -> u16 {
        u16::from_be_bytes([b[o], b[o + 1]])
    }
    fn u32_at(b: &[u8], o: usize) -> u32 {
        u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
    }

    #[test]
    fn template_message_layout() {
        let mut e = IpfixEncoder::new(7, 1400);
        let m = e.template_message(1234);
        assert_eq!(u16_at(&m, 0), 10);
        assert_eq!(u16_at(&m, 2) as usize, m.len());
        assert_eq!(u32_at(&m, 4), 1234);
        assert_eq!(u32_at(&m, 8), 0);
        assert_eq!(u32_at(&m, 12), 7);
        assert_eq!(u16_at(&m, 16), 2, "template set");
        assert_eq!(u16_at(&m, 18) as usize, m.len() - 16);
        assert_eq!(u16_at(&m, 20), TEMPLATE_V4);
        assert_eq!(u16_at(&m, 22), 21);
        // 18 plain fields (4 B) + 3 reverse fields (8 B) per template.
        assert_eq!(m.len(), 16 + 4 + 2 * (4 + 18 * 4 + 3 * 8));
    }

    #[test]
    fn messages_respect_mtu_and_sequence_counts_records() {
        let mut e = IpfixEncoder::new(1, 512);
        let mut out = Vec::new();
        for i in 0..20 {
            e.add(&rec(i % 3 == 0, i), 99, &mut out);
        }
        e.flush(99, &mut out);
        assert!(out.len() > 1);
        let mut seq = 0u32;
        let mut records = 0usize;
        for m in &out {
            assert!(m.len() <= 512);
            assert_eq!(u16_at(m, 2) as usize, m.len());
            assert_eq!(u32_at(m, 8), seq, "sequence = data records sent before");
            // Walk the sets and count records by template.
            let mut o = 16;
            let mut n = 0;
            while o < m.len() {
                let (id, len) = (u16_at(m, o), u16_at(m, o + 2) as usize);
                let rl = record_len(id == TEMPLATE_V6);
                assert_eq!((len - 4) % rl, 0);
                n += (len - 4) / rl;
                o += len;
            }
            assert_eq!(o, m.len());
            seq += n as u32;
            records += n;
        }
        assert_eq!(records, 20);
        assert_eq!(e.sequence(), 20);
    }

    #[test]
    fn start_records_are_not_exported_and_reasons_map() {
        let mut e = IpfixEncoder::new(1, 1400);
        let mut out = Vec::new();
        let mut s = rec(false, 1);
        s.kind = RecordKind::Start;
        e.add(&s, 1, &mut out);
        e.flush(1, &mut out);
        assert!(out.is_empty());
        let mut r = rec(false, 1);
        for (reason, code) in [
            (EndReason::Expired, 1),
            (EndReason::Active, 2),
            (EndReason::Closed, 3),
            (EndReason::Shutdown, 4),
            (EndReason::Evicted, 5),
        ] {
            r.reason = reason;
            assert_eq!(end_reason_code(&r), code);
        }
        r.kind = RecordKind::Stats;
        assert_eq!(end_reason_code(&r), 2);
    }

    #[test]
    fn data_record_fields() {
        let mut e = IpfixEncoder::new(1, 1400);
        let mut out = Vec::new();
        e.add(&rec(false, 5), 1, &mut out);
        e.flush(1, &mut out);
        let m = &out[0];
        let d = &m[20..];
        assert_eq!(&d[0..4], &[10, 0, 0, 0]);
        assert_eq!(&d[4..8], &[192, 0, 0, 0]);
        assert_eq!(u16_at(d, 8), 40005);
        assert_eq!(u16_at(d, 10), 443);
        assert_eq!(d[12], 6);
        // octetDeltaCount after src/dst/ports/proto/vlan/if/tos/macs/icmp/start/end/reason.
        let o = 4 + 4 + 2 + 2 + 1 + 2 + 4 + 1 + 6 + 6 + 2 + 8 + 8 + 1;
        assert_eq!(u64::from_be_bytes(d[o..o + 8].try_into().unwrap()), 300);
        assert_eq!(u64::from_be_bytes(d[o + 8..o + 16].try_into().unwrap()), 3);
        assert_eq!(u16_at(d, o + 16), 0x1b);
        assert_eq!(
            u64::from_be_bytes(d[o + 18..o + 26].try_into().unwrap()),
            2000
        );
    }
}
