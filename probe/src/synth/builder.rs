//! Builds complete Ethernet frames (optional 802.1Q tags, IPv4/IPv6, TCP/UDP/ICMP) with valid
//! IPv4 header and transport checksums, plus [`check_frame`], an independent verifier that
//! re-walks a frame and re-sums every checksum.
//!
//! Frames shorter than the Ethernet minimum (60 bytes without FCS) are zero-padded as they would
//! be on the wire; IP lengths exclude that padding, so a parser must trust the IP length, not the
//! frame length.

use std::net::{IpAddr, Ipv4Addr};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Shortest Ethernet frame without the 4-byte FCS.
pub const ETH_MIN_FRAME: usize = 60;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_ECHO_REQUEST: u8 = 8;
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ECHO_REPLY: u8 = 129;

/// A transport payload: explicit bytes, or a length filled with a fixed readable pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Bytes(Vec<u8>),
    Len(usize),
}

impl Payload {
    pub fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            Payload::Len(n) => *n,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The transport layer of a frame. Checksums and length fields are always computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum L4 {
    /// `options` are raw TCP option bytes; their length must be a multiple of 4 and at most 40
    /// (see [`tcp_options_syn`] and [`tcp_options_ts`]).
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        options: Vec<u8>,
        payload_len: usize,
    },
    Udp {
        sport: u16,
        dport: u16,
        payload: Payload,
    },
    /// Echo-style ICMP (id and sequence in the rest-of-header). ICMPv6 (next header 58, checksum
    /// over the pseudo-header) when the addresses are IPv6; the type is used as given.
    Icmp {
        ty: u8,
        code: u8,
        id: u16,
        seq: u16,
        payload_len: usize,
    },
    /// Any other protocol number, pattern payload, no checksum.
    Raw { proto: u8, payload_len: usize },
}

/// Everything needed to build one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameSpec {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// 802.1Q tags, outermost first (TPID 0x8100 each, PCP/DEI zero).
    pub vlans: Vec<u16>,
    /// Both addresses must be the same family.
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Upper 6 bits of the TOS / traffic class byte.
    pub dscp: u8,
    /// IPv4 identification (the DF bit is always set); unused for IPv6.
    pub ip_id: u16,
    pub l4: L4,
}

impl FrameSpec {
    /// A spec with placeholder MACs (locally administered), no VLAN, TTL 64, DSCP 0, IP id 0.
    pub fn new(src_ip: IpAddr, dst_ip: IpAddr, l4: L4) -> Self {
        FrameSpec {
            src_mac: [0x02, 0, 0, 0, 0, 1],
            dst_mac: [0x02, 0, 0, 0, 0, 2],
            vlans: Vec::new(),
            src_ip,
            dst_ip,
            ttl: 64,
            dscp: 0,
            ip_id: 0,
            l4,
        }
    }
}

/// Builds the frame into a new vector.
///
/// # Panics
/// If the addresses are of different families, the TCP options are malformed in length, or the
/// IP packet would exceed 65535 bytes.
pub fn build(spec: &FrameSpec) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    build_into(spec, &mut out);
    out
}

/// Builds the frame into `out` (cleared first), so a generator can reuse one buffer.
/// Panics as [`build`].
pub fn build_into(spec: &FrameSpec, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&spec.dst_mac);
    out.extend_from_slice(&spec.src_mac);
    for &vid in &spec.vlans {
        out.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    }
    let v6 = match (spec.src_ip, spec.dst_ip) {
        (IpAddr::V4(_), IpAddr::V4(_)) => false,
        (IpAddr::V6(_), IpAddr::V6(_)) => true,
        _ => panic!("FrameSpec mixes IPv4 and IPv6 addresses"),
    };
    out.extend_from_slice(&(if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 }).to_be_bytes());

    let (proto, l4_len) = match &spec.l4 {
        L4::Tcp {
            options,
            payload_len,
            ..
        } => {
            assert!(
                options.len() % 4 == 0 && options.len() <= 40,
                "TCP options must be 4-aligned, <= 40 bytes"
            );
            (PROTO_TCP, 20 + options.len() + payload_len)
        }
        L4::Udp { payload, .. } => (PROTO_UDP, 8 + payload.len()),
        L4::Icmp { payload_len, .. } => {
            (if v6 { PROTO_ICMPV6 } else { PROTO_ICMP }, 8 + payload_len)
        }
        L4::Raw { proto, payload_len } => (*proto, *payload_len),
    };

    let l3 = out.len();
    let tos = spec.dscp << 2;
    match (spec.src_ip, spec.dst_ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(20 + l4_len).expect("IPv4 packet longer than 65535 bytes");
            out.extend_from_slice(&[0x45, tos]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&spec.ip_id.to_be_bytes());
            out.extend_from_slice(&[0x40, 0x00, spec.ttl, proto, 0, 0]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let c = checksum(&out[l3..l3 + 20], 0);
            out[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let plen = u16::try_from(l4_len).expect("IPv6 payload longer than 65535 bytes");
            let vtf = (6u32 << 28) | (u32::from(tos) << 20);
            out.extend_from_slice(&vtf.to_be_bytes());
            out.extend_from_slice(&plen.to_be_bytes());
            out.extend_from_slice(&[proto, spec.ttl]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        _ => unreachable!(),
    }

    let l4 = out.len();
    // Offset of the checksum inside the transport header, if the protocol has one.
    let csum_at = match &spec.l4 {
        L4::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            options,
            payload_len,
        } => {
            out.extend_from_slice(&sport.to_be_bytes());
            out.extend_from_slice(&dport.to_be_bytes());
            out.extend_from_slice(&seq.to_be_bytes());
            out.extend_from_slice(&ack.to_be_bytes());
            out.push((((20 + options.len()) / 4) as u8) << 4);
            out.push(*flags);
            out.extend_from_slice(&window.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
            out.extend_from_slice(options);
            fill_pattern(out, *payload_len);
            Some(16)
        }
        L4::Udp {
            sport,
            dport,
            payload,
        } => {
            out.extend_from_slice(&sport.to_be_bytes());
            out.extend_from_slice(&dport.to_be_bytes());
            out.extend_from_slice(&(l4_len as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            match payload {
                Payload::Bytes(b) => out.extend_from_slice(b),
                Payload::Len(n) => fill_pattern(out, *n),
            }
            Some(6)
        }
        L4::Icmp {
            ty,
            code,
            id,
            seq,
            payload_len,
        } => {
            out.extend_from_slice(&[*ty, *code, 0, 0]);
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&seq.to_be_bytes());
            fill_pattern(out, *payload_len);
            Some(2)
        }
        L4::Raw { payload_len, .. } => {
            fill_pattern(out, *payload_len);
            None
        }
    };
    if let Some(at) = csum_at {
        // ICMPv4 has no pseudo-header; TCP, UDP and ICMPv6 do.
        let init = if proto == PROTO_ICMP {
            0
        } else {
            pseudo_header_sum(spec.src_ip, spec.dst_ip, proto, l4_len)
        };
        let mut c = checksum(&out[l4..], init);
        if proto == PROTO_UDP && c == 0 {
            c = 0xffff; // 0 means "no checksum" in UDP
        }
        out[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
    }
    if out.len() < ETH_MIN_FRAME {
        out.resize(ETH_MIN_FRAME, 0);
    }
}

const PATTERN: &[u8] = b"flowprobe synthetic payload 0123456789 ";

/// Appends `n` bytes of a fixed text pattern: readable in a hex dump, not all zero so that
/// checksum mistakes show.
fn fill_pattern(out: &mut Vec<u8>, mut n: usize) {
    while n > 0 {
        let k = n.min(PATTERN.len());
        out.extend_from_slice(&PATTERN[..k]);
        n -= k;
    }
}

/// One's-complement sum of 16-bit big-endian words (odd tail padded with zero) plus `init`,
/// not yet folded.
fn sum_words(data: &[u8], init: u32) -> u64 {
    let mut sum = u64::from(init);
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u64::from(*b) << 8;
    }
    sum
}

fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// RFC 1071 Internet checksum of `data`, starting from a partial sum (e.g. a pseudo-header).
pub fn checksum(data: &[u8], init: u32) -> u16 {
    !fold(sum_words(data, init))
}

/// Folded sum of the TCP/UDP/ICMPv6 pseudo-header (RFC 793 / RFC 8200 §8.1).
pub fn pseudo_header_sum(src: IpAddr, dst: IpAddr, proto: u8, l4_len: usize) -> u32 {
    let sum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum_words(&s.octets(), 0) + sum_words(&d.octets(), 0) + u64::from(proto) + l4_len as u64
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            sum_words(&s.octets(), 0)
                + sum_words(&d.octets(), 0)
                + sum_words(&(l4_len as u32).to_be_bytes(), 0)
                + u64::from(proto)
        }
        _ => panic!("pseudo-header with mixed address families"),
    };
    u32::from(fold(sum))
}

/// Linux's SYN option layout (20 bytes): MSS, SACK permitted, timestamps, NOP, window scale.
pub fn tcp_options_syn(mss: u16, wscale: u8, ts_val: u32, ts_ecr: u32) -> Vec<u8> {
    let mut o = Vec::with_capacity(20);
    o.extend_from_slice(&[2, 4]);
    o.extend_from_slice(&mss.to_be_bytes());
    o.extend_from_slice(&[4, 2, 8, 10]);
    o.extend_from_slice(&ts_val.to_be_bytes());
    o.extend_from_slice(&ts_ecr.to_be_bytes());
    o.extend_from_slice(&[1, 3, 3, wscale]);
    o
}

/// NOP, NOP, timestamps (12 bytes): what every segment of a Linux connection carries, which is
/// why pure ACKs are 66 bytes rather than 54.
pub fn tcp_options_ts(ts_val: u32, ts_ecr: u32) -> Vec<u8> {
    let mut o = Vec::with_capacity(12);
    o.extend_from_slice(&[1, 1, 8, 10]);
    o.extend_from_slice(&ts_val.to_be_bytes());
    o.extend_from_slice(&ts_ecr.to_be_bytes());
    o
}

pub const DNS_TYPE_A: u16 = 1;
pub const DNS_RCODE_NOERROR: u8 = 0;
pub const DNS_RCODE_NXDOMAIN: u8 = 3;

fn dns_header(out: &mut Vec<u8>, id: u16, flags: u16, qd: u16, an: u16) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for count in [qd, an, 0, 0] {
        out.extend_from_slice(&count.to_be_bytes());
    }
}

fn dns_question(out: &mut Vec<u8>, qname: &str) {
    for label in qname
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    out.extend_from_slice(&DNS_TYPE_A.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // class IN
}

/// A recursive DNS query (RD set) for the A record of `qname`.
pub fn dns_query(id: u16, qname: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(18 + qname.len());
    dns_header(&mut out, id, 0x0100, 1, 0);
    dns_question(&mut out, qname);
    out
}

/// The response to [`dns_query`]: the question echoed, then one A answer (name compressed to the
/// question, TTL 300) when `answer` is given. `rcode` goes in the low 4 flag bits (3 = NXDOMAIN).
pub fn dns_response(id: u16, qname: &str, answer: Option<Ipv4Addr>, rcode: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(34 + qname.len());
    let flags = 0x8180 | u16::from(rcode & 0x0f); // QR, RD, RA
    dns_header(&mut out, id, flags, 1, u16::from(answer.is_some()));
    dns_question(&mut out, qname);
    if let Some(a) = answer {
        out.extend_from_slice(&[0xc0, 12]); // pointer to the question name
        out.extend_from_slice(&DNS_TYPE_A.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&300u32.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&a.octets());
    }
    out
}

/// What [`check_frame`] found in a frame whose checksums all verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    pub vlans: Vec<u16>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub ttl: u8,
    pub dscp: u8,
    /// TCP/UDP ports, 0 otherwise.
    pub sport: u16,
    pub dport: u16,
    /// TCP only (0 otherwise).
    pub tcp_flags: u8,
    pub seq: u32,
    pub ack: u32,
    /// ICMP type/code/id/seq (0 otherwise).
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub icmp_id: u16,
    pub icmp_seq: u16,
    /// Transport payload bytes (after the TCP/UDP/ICMP header).
    pub payload_len: usize,
    /// Zero bytes after the IP packet (Ethernet minimum-size padding).
    pub padding: usize,
}

/// Independently re-parses a frame built by [`build`] and verifies the IPv4 header checksum and
/// the TCP/UDP/ICMP/ICMPv6 checksum by summing each covered region *including* the stored
/// checksum (which must total 0xffff) rather than by recomputing it the way `build` does.
/// Handles 802.1Q/802.1ad tags; not IPv6 extension headers or IP options beyond IHL.
pub fn check_frame(frame: &[u8]) -> Result<FrameInfo, String> {
    let need = |n: usize, what: &str| {
        if frame.len() < n {
            Err(format!(
                "frame of {} bytes ends inside the {what}",
                frame.len()
            ))
        } else {
            Ok(())
        }
    };
    need(14, "Ethernet header")?;
    let mut off = 12;
    let mut vlans = Vec::new();
    let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    while ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
        need(off + 6, "VLAN tag")?;
        vlans.push(u16::from_be_bytes([frame[off + 2], frame[off + 3]]) & 0x0fff);
        off += 4;
        ethertype = u16::from_be_bytes([frame[off], frame[off + 1]]);
    }
    let l3 = off + 2;
    let (src, dst, proto, ttl, dscp, l4, ip_end) = match ethertype {
        ETHERTYPE_IPV4 => {
            need(l3 + 20, "IPv4 header")?;
            let h = &frame[l3..];
            if h[0] >> 4 != 4 {
                return Err(format!("IPv4 ethertype with version {}", h[0] >> 4));
            }
            let ihl = usize::from(h[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            if ihl < 20 || total < ihl || l3 + total > frame.len() {
                return Err(format!(
                    "bad IPv4 lengths ihl={ihl} total={total} frame={}",
                    frame.len()
                ));
            }
            if fold(sum_words(&h[..ihl], 0)) != 0xffff {
                return Err("bad IPv4 header checksum".to_string());
            }
            let s: [u8; 4] = h[12..16].try_into().unwrap();
            let d: [u8; 4] = h[16..20].try_into().unwrap();
            (
                IpAddr::from(s),
                IpAddr::from(d),
                h[9],
                h[8],
                h[1] >> 2,
                l3 + ihl,
                l3 + total,
            )
        }
        ETHERTYPE_IPV6 => {
            need(l3 + 40, "IPv6 header")?;
            let h = &frame[l3..];
            if h[0] >> 4 != 6 {
                return Err(format!("IPv6 ethertype with version {}", h[0] >> 4));
            }
            let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            if l3 + 40 + plen > frame.len() {
                return Err(format!("IPv6 payload length {plen} beyond the frame"));
            }
            let s: [u8; 16] = h[8..24].try_into().unwrap();
            let d: [u8; 16] = h[24..40].try_into().unwrap();
            let tc = ((h[0] & 0x0f) << 4) | (h[1] >> 4);
            (
                IpAddr::from(s),
                IpAddr::from(d),
                h[6],
                h[7],
                tc >> 2,
                l3 + 40,
                l3 + 40 + plen,
            )
        }
        other => return Err(format!("not IP: ethertype 0x{other:04x}")),
    };
    let seg = &frame[l4..ip_end];
    let padding = frame.len() - ip_end;
    if frame[ip_end..].iter().any(|&b| b != 0) {
        return Err("non-zero bytes after the IP packet".to_string());
    }
    let mut info = FrameInfo {
        vlans,
        src,
        dst,
        proto,
        ttl,
        dscp,
        sport: 0,
        dport: 0,
        tcp_flags: 0,
        seq: 0,
        ack: 0,
        icmp_type: 0,
        icmp_code: 0,
        icmp_id: 0,
        icmp_seq: 0,
        payload_len: seg.len(),
        padding,
    };
    let pseudo = |p: u8| u32::from(fold(pseudo_sum_independent(src, dst, p, seg.len())));
    let verify = |init: u32, what: &str| {
        if fold(sum_words(seg, init)) == 0xffff {
            Ok(())
        } else {
            Err(format!("bad {what} checksum"))
        }
    };
    match proto {
        PROTO_TCP => {
            if seg.len() < 20 {
                return Err("segment shorter than a TCP header".to_string());
            }
            let doff = usize::from(seg[12] >> 4) * 4;
            if doff < 20 || doff > seg.len() {
                return Err(format!("bad TCP data offset {doff}"));
            }
            verify(pseudo(proto), "TCP")?;
            info.sport = u16::from_be_bytes([seg[0], seg[1]]);
            info.dport = u16::from_be_bytes([seg[2], seg[3]]);
            info.seq = u32::from_be_bytes(seg[4..8].try_into().unwrap());
            info.ack = u32::from_be_bytes(seg[8..12].try_into().unwrap());
            info.tcp_flags = seg[13];
            info.payload_len = seg.len() - doff;
        }
        PROTO_UDP => {
            if seg.len() < 8 || usize::from(u16::from_be_bytes([seg[4], seg[5]])) != seg.len() {
                return Err("UDP length disagrees with the IP length".to_string());
            }
            if !(src.is_ipv4() && seg[6] == 0 && seg[7] == 0) {
                verify(pseudo(proto), "UDP")?;
            }
            info.sport = u16::from_be_bytes([seg[0], seg[1]]);
            info.dport = u16::from_be_bytes([seg[2], seg[3]]);
            info.payload_len = seg.len() - 8;
        }
        PROTO_ICMP | PROTO_ICMPV6 => {
            if seg.len() < 8 {
                return Err("ICMP message shorter than 8 bytes".to_string());
            }
            if (proto == PROTO_ICMPV6) != src.is_ipv6() {
                return Err(format!("ICMP protocol {proto} with the wrong IP version"));
            }
            verify(
                if proto == PROTO_ICMPV6 {
                    pseudo(proto)
                } else {
                    0
                },
                "ICMP",
            )?;
            info.icmp_type = seg[0];
            info.icmp_code = seg[1];
            info.icmp_id = u16::from_be_bytes([seg[4], seg[5]]);
            info.icmp_seq = u16::from_be_bytes([seg[6], seg[7]]);
            info.payload_len = seg.len() - 8;
        }
        _ => {}
    }
    Ok(info)
}

/// Pseudo-header sum built byte-by-byte as the RFC lays it out, deliberately not sharing code
/// with [`pseudo_header_sum`], so the verifier does not inherit the builder's mistakes.
fn pseudo_sum_independent(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u64 {
    let mut ph = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&d.octets());
            ph.extend_from_slice(&[0, proto]);
            ph.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            ph.extend_from_slice(&s.octets());
            ph.extend_from_slice(&d.octets());
            ph.extend_from_slice(&(len as u32).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => unreachable!("addresses come from one header"),
    }
    sum_words(&ph, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn v6(last: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
    }

    fn tcp(flags: u8, payload_len: usize) -> L4 {
        L4::Tcp {
            sport: 40000,
            dport: 443,
            seq: 0x1122_3344,
            ack: 0x5566_7788,
            flags,
            window: 501,
            options: tcp_options_ts(1000, 2000),
            payload_len,
        }
    }

    #[test]
    fn ipv4_header_checksum_known_value() {
        // The classic worked example: 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7.
        let spec = FrameSpec::new(
            v4(192, 168, 0, 1),
            v4(192, 168, 0, 199),
            L4::Udp {
                sport: 1,
                dport: 2,
                payload: Payload::Len(115 - 28),
            },
        );
        let f = build(&spec);
        assert_eq!(
            &f[14..34],
            &[
                0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
                0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7
            ]
        );
    }

    #[test]
    fn rfc1071_checksum_example() {
        // RFC 1071 §3: words 0001 f203 f4f5 f6f7 sum to ddf2 (folded), checksum 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0),
            0x220d
        );
        // Odd length pads with a zero byte.
        assert_eq!(checksum(&[0xff], 0), !0xff00);
    }

    #[test]
    fn all_kinds_verify_in_both_families_with_vlans() {
        let l4s = [
            tcp(TCP_SYN, 0),
            tcp(TCP_ACK, 0),
            tcp(TCP_PSH | TCP_ACK, 1448),
            tcp(TCP_ACK, 1), // odd length
            L4::Udp {
                sport: 5353,
                dport: 53,
                payload: Payload::Bytes(dns_query(7, "www.example.com")),
            },
            L4::Udp {
                sport: 1,
                dport: 2,
                payload: Payload::Len(0),
            },
            L4::Icmp {
                ty: ICMP_ECHO_REQUEST,
                code: 0,
                id: 77,
                seq: 3,
                payload_len: 56,
            },
            L4::Raw {
                proto: 47,
                payload_len: 9,
            },
        ];
        for (src, dst) in [(v4(10, 1, 2, 3), v4(198, 51, 100, 7)), (v6(1), v6(2))] {
            for vlans in [vec![], vec![100], vec![10, 20]] {
                for l4 in &l4s {
                    let mut spec = FrameSpec::new(src, dst, l4.clone());
                    spec.vlans = vlans.clone();
                    spec.dscp = 46;
                    spec.ttl = 57;
                    let f = build(&spec);
                    let info = check_frame(&f).unwrap_or_else(|e| panic!("{e}: {spec:?}"));
                    assert_eq!((info.src, info.dst, &info.vlans), (src, dst, &vlans));
                    assert_eq!((info.ttl, info.dscp), (57, 46));
                    assert!(f.len() >= ETH_MIN_FRAME);
                    match l4 {
                        L4::Tcp {
                            flags,
                            payload_len,
                            seq,
                            ..
                        } => {
                            assert_eq!(
                                (info.proto, info.tcp_flags, info.payload_len),
                                (6, *flags, *payload_len)
                            );
                            assert_eq!((info.sport, info.dport, info.seq), (40000, 443, *seq));
                        }
                        L4::Icmp { .. } => {
                            let want = if src.is_ipv6() {
                                PROTO_ICMPV6
                            } else {
                                PROTO_ICMP
                            };
                            assert_eq!(
                                (info.proto, info.icmp_id, info.icmp_seq, info.payload_len),
                                (want, 77, 3, 56)
                            );
                        }
                        L4::Udp { payload, .. } => assert_eq!(info.payload_len, payload.len()),
                        L4::Raw { .. } => assert_eq!((info.proto, info.payload_len), (47, 9)),
                    }
                }
            }
        }
    }

    #[test]
    fn frame_lengths_and_padding() {
        // Pure ACK with timestamps: 14 + 20 + 32 = 66, no padding.
        let f = build(&FrameSpec::new(
            v4(10, 0, 0, 1),
            v4(10, 0, 0, 2),
            tcp(TCP_ACK, 0),
        ));
        assert_eq!(f.len(), 66);
        // Empty UDP over IPv4 is 42 bytes of headers, padded to 60.
        let f = build(&FrameSpec::new(
            v4(10, 0, 0, 1),
            v4(10, 0, 0, 2),
            L4::Udp {
                sport: 1,
                dport: 2,
                payload: Payload::Len(0),
            },
        ));
        assert_eq!(f.len(), 60);
        assert_eq!(check_frame(&f).unwrap().padding, 18);
        // Full-size segment over IPv6 with a tag: 14 + 4 + 40 + 32 + 1428.
        let mut spec = FrameSpec::new(v6(1), v6(2), tcp(TCP_ACK, 1428));
        spec.vlans = vec![5];
        assert_eq!(build(&spec).len(), 1518);
    }

    #[test]
    fn verifier_catches_corruption() {
        let specs = [
            FrameSpec::new(v4(10, 0, 0, 1), v4(10, 0, 0, 2), tcp(TCP_ACK, 100)),
            FrameSpec::new(
                v6(1),
                v6(2),
                L4::Udp {
                    sport: 1,
                    dport: 2,
                    payload: Payload::Len(30),
                },
            ),
            FrameSpec::new(
                v6(1),
                v6(2),
                L4::Icmp {
                    ty: 128,
                    code: 0,
                    id: 1,
                    seq: 1,
                    payload_len: 8,
                },
            ),
        ];
        for spec in &specs {
            let good = build(spec);
            check_frame(&good).unwrap();
            // Flip one bit in the source address (covered by both IPv4 and pseudo-header sums),
            // then in the last payload byte.
            let ip_src = if spec.src_ip.is_ipv4() {
                14 + 12
            } else {
                14 + 8
            };
            for at in [ip_src + 3, good.len() - 1] {
                let mut bad = good.clone();
                bad[at] ^= 0x01;
                assert!(
                    check_frame(&bad).is_err(),
                    "corruption at {at} undetected in {spec:?}"
                );
            }
        }
    }

    #[test]
    fn udp_zero_checksum_becomes_ffff() {
        // Search payload bytes until the natural checksum is 0; then it must be sent as 0xffff.
        let src = v4(10, 0, 0, 1);
        let dst = v4(10, 0, 0, 2);
        let found = (0..=u16::MAX).find_map(|x| {
            let spec = FrameSpec::new(
                src,
                dst,
                L4::Udp {
                    sport: 9,
                    dport: 9,
                    payload: Payload::Bytes(x.to_be_bytes().to_vec()),
                },
            );
            let f = build(&spec);
            (f[40..42] == [0xff, 0xff]).then_some(f)
        });
        let f = found.expect("some 2-byte payload yields checksum 0");
        check_frame(&f).unwrap();
    }

    #[test]
    fn dns_payloads() {
        let q = dns_query(0x1234, "www.example.com");
        let mut want = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(q, want);

        let r = dns_response(
            0x1234,
            "www.example.com.",
            Some(Ipv4Addr::new(203, 0, 113, 9)),
            0,
        );
        assert_eq!(&r[0..12], &[0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(&r[12..q.len()], &q[12..]);
        assert_eq!(
            &r[q.len()..],
            &[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 203, 0, 113, 9]
        );

        let nx = dns_response(1, "nope.example.org", None, DNS_RCODE_NXDOMAIN);
        assert_eq!(&nx[2..8], &[0x81, 0x83, 0, 1, 0, 0]);
        assert_eq!(nx.len(), 12 + 18 + 4);
    }

    #[test]
    fn syn_options_layout() {
        let o = tcp_options_syn(1460, 7, 0xaabbccdd, 0);
        assert_eq!(o.len(), 20);
        assert_eq!(&o[..4], &[2, 4, 0x05, 0xb4]);
        assert_eq!(&o[16..], &[1, 3, 3, 7]);
        let f = build(&FrameSpec::new(
            v4(10, 0, 0, 1),
            v4(10, 0, 0, 2),
            L4::Tcp {
                sport: 1,
                dport: 2,
                seq: 0,
                ack: 0,
                flags: TCP_SYN,
                window: 64240,
                options: o,
                payload_len: 0,
            },
        ));
        assert_eq!(f.len(), 74);
        assert_eq!(f[14 + 20 + 12] >> 4, 10);
    }

    #[test]
    #[should_panic(expected = "mixes IPv4 and IPv6")]
    fn mixed_families_panic() {
        build(&FrameSpec::new(
            v4(10, 0, 0, 1),
            v6(1),
            L4::Raw {
                proto: 0,
                payload_len: 0,
            },
        ));
    }
}
