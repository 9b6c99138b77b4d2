//! Straight-line path for the shapes most of a tap's traffic has: Ethernet with at most one
//! 802.1Q tag, IPv4 without options or fragmentation, or IPv6 with at most a few hop-by-hop /
//! routing / destination-options headers, then TCP, UDP, or ICMP / ICMPv6 other than an error,
//! and VXLAN / GTP-U around such a packet. Everything else (and every error) goes to the general
//! layered parser, which this path must agree with exactly: `parse_frame_reference` is checked
//! against it by the unit tests, the corpus tests and the fuzz target.
//!
//! Why it is faster (fewer instructions and fewer mispredicted branches; figures in the README):
//! each header is one fixed-size array view read at constant indices, with no per-layer `Result`
//! plumbing or out-of-line calls; the tag/no-tag choice is made with masks, not a branch; a
//! reused slot is reset in a few wide stores (only the groups of `PacketMeta` not written anyway);
//! Linux's SYN option layout is recognised whole instead of walked; and a VXLAN or GTP-U packet's
//! inner headers are parsed by the same code straight into the slot, the outer endpoints moved
//! aside, instead of copying and resetting the whole `PacketMeta` per level.
//!
//! The rare continuations (IPv6 extension headers, other SYN option layouts, tunnels, the
//! general parser) are out of line and reached only by tail calls: nothing lives across a call,
//! so the common path saves and restores one register instead of six.

use super::ethernet::{self, is_tpid, ETHERTYPE_IPV4, ETHERTYPE_IPV6, TPID_8021Q};
use super::l4::{DNS_PORT as PORT_DNS, ICMP, ICMPV6, TCP, UDP};
use super::link::LINKTYPE_ETHERNET;
use super::tunnel::{udp_tunnel, PORT_GTP_U, PORT_VXLAN, UDP_TUNNEL_PORTS};
use super::{cap, general, l4, PacketMeta, ParseError, Tunnel, MAX_IPV6_EXT_HEADERS};

#[inline(always)]
fn be16(b: &[u8; 2]) -> u16 {
    u16::from_be_bytes(*b)
}

#[inline(always)]
fn at<const N: usize>(frame: &[u8], off: usize) -> Option<&[u8; N]> {
    frame.get(off..)?.first_chunk::<N>()
}

/// Parse an Ethernet frame into `m`: this path for the shapes it knows, else the general parser.
/// `frame` is not capped yet (`super::cap`): the headers parsed inline end within the first few
/// hundred bytes, where the cap changes nothing, so only the continuations that walk further
/// apply it.
#[inline(always)]
pub(super) fn parse(frame: &[u8], decap: bool, m: &mut PacketMeta) -> Result<(), ParseError> {
    let next = outer(frame, decap, m);
    finish(frame, decap, next, m)
}

/// What is left to do after the headers parsed inline.
enum Next {
    /// `m` holds the result.
    Done,
    /// `m` holds the result but for the MSS and window scale of the SYN options at these offsets.
    Options(usize, usize),
    /// `m` holds the IPv6 header; the extension header of this type at this offset follows.
    V6Ext(u8, usize),
    /// `m` holds a UDP packet to a tunnel port (with `decap`).
    Tunnel,
    /// More than one VLAN tag, or another TPID than 802.1Q's first: the outer ethertype.
    Tags(u16),
    /// A shape this path does not know: `m` unspecified.
    General,
}

/// The continuations, each the last thing `parse` does: nothing lives across its call.
#[inline(always)]
fn finish(frame: &[u8], decap: bool, next: Next, m: &mut PacketMeta) -> Result<(), ParseError> {
    match next {
        Next::Done => Ok(()),
        Next::Options(from, to) => syn_options(frame, decap, from, to, m),
        Next::V6Ext(kind, off) => v6_ext(cap(frame), decap, kind, off, m),
        Next::Tunnel => tunnel(cap(frame), m),
        Next::Tags(et) => tags(frame, decap, et, m),
        Next::General => general(LINKTYPE_ETHERNET, cap(frame), decap, m),
    }
}

/// Ethernet, IP and the transport of the outermost packet.
#[inline(always)]
fn outer(frame: &[u8], decap: bool, m: &mut PacketMeta) -> Next {
    let Some(h) = at::<18>(frame, 0) else {
        return Next::General;
    };
    reset(m);
    let (vlan, et, l3) = ethernet(h, 0);
    m.dst_mac = [h[0], h[1], h[2], h[3], h[4], h[5]];
    m.src_mac = [h[6], h[7], h[8], h[9], h[10], h[11]];
    m.vlan = vlan;
    match ip(frame, et, l3, m) {
        Some(rest) => after(rest, decap, m),
        None if is_tpid(et) => Next::Tags(be16(&[h[12], h[13]])),
        None => Next::General,
    }
}

/// A frame with the outer ethertype `et`, a TPID: the general parser's tag walk, then `ip` as
/// usual. Out of line (a tail call): QinQ and 802.1ad are rare on a tap.
#[inline(never)]
fn tags(frame: &[u8], decap: bool, et: u16, m: &mut PacketMeta) -> Result<(), ParseError> {
    let next = match ethernet::tags(frame, et, 14, m) {
        Ok((et, l3)) => match ip(frame, et, l3, m) {
            Some(rest) => after(rest, decap, m),
            None => Next::General,
        },
        Err(_) => Next::General,
    };
    finish(frame, decap, next, m)
}

/// What follows a parsed outermost packet.
#[inline(always)]
fn after(rest: Rest, decap: bool, m: &PacketMeta) -> Next {
    match rest {
        Rest::V6Ext(kind, off) => Next::V6Ext(kind, off),
        Rest::Options(from, to) => Next::Options(from, to),
        Rest::Nothing if decap && m.proto == UDP && is_tunnel_port(m.src_port, m.dst_port) => {
            Next::Tunnel
        }
        Rest::Nothing => Next::Done,
    }
}

/// The VLAN id and the ethertype after at most one 802.1Q tag, and the L3 offset. Selected with
/// masks, not a branch: tagged and untagged frames interleave unpredictably on a trunk.
#[inline(always)]
fn ethernet(h: &[u8; 18], off: usize) -> (u16, u16, usize) {
    let et = u16::from_be_bytes([h[12], h[13]]);
    let tagged = et == TPID_8021Q;
    let mask = u16::from(tagged).wrapping_neg();
    // Tag control and inner ethertype in one load (fewer instructions than two).
    let tag = u32::from_be_bytes([h[14], h[15], h[16], h[17]]);
    let vid = (tag >> 16) as u16 & 0x0fff;
    let inner = tag as u16;
    (
        vid & mask,
        (inner & mask) | (et & !mask),
        off + 14 + 4 * usize::from(tagged),
    )
}

/// Every field of `PacketMeta` but the first group (which every parse here writes whole) to its
/// default: one run of adjacent fields, so a few wide stores, before the parse writes what it
/// has. The pattern lists every field (no `..`), so a new one fails to compile until it is placed.
#[inline(always)]
fn reset(m: &mut PacketMeta) {
    let PacketMeta {
        // Written by every parse that succeeds (`outer`, `ip`, `transport`).
        dst_mac: _,
        src_mac: _,
        src_port: _,
        dst_port: _,
        vlan: _,
        ip_len: _,
        l3_offset: _,
        l4_offset: _,
        payload_offset: _,
        ip_version: _,
        proto: _,
        ttl: _,
        dscp: _,
        src_ip,
        dst_ip,
        tcp_seq,
        tcp_flags,
        icmp_type,
        icmp_code,
        dns,
        dns_id,
        dns_flags,
        tcp_mss,
        tcp_wscale,
        first_fragment,
        more_fragments,
        frag_offset,
        ip_id,
        tunnel_id,
        tunnel,
        outer_ip_version,
        icmp_inner_proto,
        icmp_inner_src_port,
        icmp_inner_dst_port,
        outer_src_ip,
        outer_dst_ip,
        icmp_inner_src_ip,
        icmp_inner_dst_ip,
    } = m;
    (*src_ip, *dst_ip) = ([0; 16], [0; 16]);
    *tcp_seq = 0;
    (*tcp_flags, *icmp_type, *icmp_code) = (0, 0, 0);
    (*dns, *dns_id, *dns_flags) = (false, 0, 0);
    (*tcp_mss, *tcp_wscale) = (0, None);
    (*first_fragment, *more_fragments, *frag_offset, *ip_id) = (false, false, 0, 0);
    (*tunnel_id, *tunnel, *outer_ip_version) = (0, Tunnel::None, 0);
    (
        *icmp_inner_proto,
        *icmp_inner_src_port,
        *icmp_inner_dst_port,
    ) = (0, 0, 0);
    (*outer_src_ip, *outer_dst_ip) = ([0; 16], [0; 16]);
    (*icmp_inner_src_ip, *icmp_inner_dst_ip) = ([0; 16], [0; 16]);
}

/// What `ip` or `transport` left to do.
enum Rest {
    Nothing,
    /// The options of a SYN at these offsets, in a layout `linux_syn_options` does not know.
    Options(usize, usize),
    /// IPv6 extension headers (`ip` only): the first one's type and offset.
    V6Ext(u8, usize),
}

/// IPv4 (IHL 5, not fragmented, sane total length) or IPv6, then `transport`, into `m`: every
/// field of the first two groups of `PacketMeta` but the MACs and the VLAN (with `Rest::V6Ext`,
/// only the IPv6 header's; with `Rest::Options`, all but the MSS and window scale). Returns None,
/// with those fields unspecified, for anything else.
#[inline(always)]
fn ip(frame: &[u8], et: u16, l3: usize, m: &mut PacketMeta) -> Option<Rest> {
    m.l3_offset = l3 as u16;
    match et {
        ETHERTYPE_IPV4 => {
            let h = at::<20>(frame, l3)?;
            let len = u16::from_be_bytes([h[2], h[3]]);
            // Options and fragments (the flags and offset but DF, tested as loaded): general
            // path.
            if h[0] != 0x45 || u16::from_le_bytes([h[6], h[7]]) & 0xff3f != 0 {
                return None;
            }
            m.ip_version = 4;
            // The other 12 bytes are zero already (see `reset`).
            m.src_ip[..4].copy_from_slice(&h[12..16]);
            m.dst_ip[..4].copy_from_slice(&h[16..20]);
            m.proto = h[9];
            m.ttl = h[8];
            m.dscp = h[1] >> 2;
            // A total length of 0 (TSO) or below the header: general path too. Tested apart, a
            // compare and a branch (next to the other tests it would be merged with them into
            // flag arithmetic).
            if len < 20 {
                return None;
            }
            m.ip_len = len;
            transport(frame, h[9], l3 + 20, m)
        }
        ETHERTYPE_IPV6 => {
            let h = at::<40>(frame, l3)?;
            if h[0] >> 4 != 6 {
                return None;
            }
            m.ip_version = 6;
            (m.src_ip, m.dst_ip) = match (h[8..24].first_chunk(), h[24..40].first_chunk()) {
                (Some(s), Some(d)) => (*s, *d),
                _ => return None,
            };
            m.ttl = h[7];
            m.dscp = ((h[0] << 4) | (h[1] >> 4)) >> 2;
            m.ip_len = u16::from_be_bytes([h[4], h[5]]).saturating_add(40);
            match h[6] {
                0 | 43 | 60 => Some(Rest::V6Ext(h[6], l3 + 40)),
                next => {
                    m.proto = next;
                    transport(frame, next, l3 + 40, m)
                }
            }
        }
        _ => None,
    }
}

/// Hop-by-hop (0), routing (43) and destination options (60) headers from `off`, the first of
/// type `next`: the protocol after them and its offset.
#[inline(always)]
fn ext_headers(frame: &[u8], mut next: u8, mut off: usize) -> Option<(u8, usize)> {
    let mut walked = 0;
    while matches!(next, 0 | 43 | 60) {
        if walked == MAX_IPV6_EXT_HEADERS {
            return None;
        }
        let e = at::<2>(frame, off)?;
        // Length in 8-byte units, not counting the first 8.
        let len = (usize::from(e[1]) + 1) * 8;
        if frame.len() < off + len {
            return None;
        }
        next = e[0];
        off += len;
        walked += 1;
    }
    Some((next, off))
}

/// `ext_headers`, then `transport` (with `proto`) after them.
#[inline(always)]
fn ext_transport(frame: &[u8], kind: u8, off: usize, m: &mut PacketMeta) -> Option<Rest> {
    let (p, l4) = ext_headers(frame, kind, off)?;
    m.proto = p;
    transport(frame, p, l4, m)
}

/// IPv6 with extension headers: the rest of `parse` after them. Out of line (a tail call), for
/// the registers of the common path.
#[inline(never)]
fn v6_ext(
    frame: &[u8],
    decap: bool,
    kind: u8,
    off: usize,
    m: &mut PacketMeta,
) -> Result<(), ParseError> {
    let next = match ext_transport(frame, kind, off, m) {
        // `transport` does not leave extension headers.
        Some(rest @ (Rest::Nothing | Rest::Options(..))) => after(rest, decap, m),
        Some(Rest::V6Ext(..)) | None => Next::General,
    };
    finish(frame, decap, next, m)
}

/// TCP, UDP, or ICMP / ICMPv6 other than an error (whose quote the general path reads) at `l4`,
/// into `m`: the offsets, the ports and the transport group of `PacketMeta` (the caller writes
/// `proto`).
#[inline(always)]
fn transport(frame: &[u8], proto: u8, l4: usize, m: &mut PacketMeta) -> Option<Rest> {
    m.l4_offset = l4 as u16;
    let mut rest = Rest::Nothing;
    // TCP first (most packets), its length test joined with `&`: one branch that is no longer a
    // plain protocol compare, so the tests stay an `if` chain instead of a search tree.
    let payload = if (proto == TCP) & (frame.len() >= l4 + 20) {
        let h = at::<20>(frame, l4)?;
        let hlen = usize::from(h[12] >> 4) * 4;
        // `hlen < 20 || frame.len() < l4 + hlen` in one compare.
        if hlen.wrapping_sub(20) > frame.len() - (l4 + 20) {
            return None;
        }
        // Both ports as one load and store.
        let ports = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        (m.src_port, m.dst_port) = ((ports >> 16) as u16, ports as u16);
        m.tcp_seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        m.tcp_flags = h[13];
        // Only the flags tested: most segments have options, and a SYN without (rare) takes
        // the walk, which finds nothing.
        if h[13] & 0x02 != 0 {
            match linux_syn_options(&frame[l4 + 20..l4 + hlen]) {
                Some(o) => (m.tcp_mss, m.tcp_wscale) = o,
                None => rest = Rest::Options(l4 + 20, l4 + hlen),
            }
        }
        l4 + hlen
    } else if proto == UDP {
        let h = at::<8>(frame, l4)?;
        let ports = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        (m.src_port, m.dst_port) = ((ports >> 16) as u16, ports as u16);
        if m.src_port == PORT_DNS || m.dst_port == PORT_DNS {
            // Only with the whole 12-byte DNS header captured (as in `l4`).
            if let Some(d) = at::<12>(frame, l4 + 8) {
                m.dns = true;
                m.dns_id = be16(&[d[0], d[1]]);
                m.dns_flags = be16(&[d[2], d[3]]);
            }
        }
        l4 + 8
    } else if proto == ICMP || proto == ICMPV6 {
        let h = at::<2>(frame, l4)?;
        if l4::icmp_error(proto, h[0]) {
            return None;
        }
        (m.icmp_type, m.icmp_code) = (h[0], h[1]);
        (m.src_port, m.dst_port) = (0, 0);
        l4
    } else {
        return None;
    };
    m.payload_offset = payload as u16;
    Some(rest)
}

/// MSS and window scale of Linux's SYN option layout (MSS, SACK permitted, timestamps, NOP,
/// window scale), which most SYNs and SYN-ACKs have: a few compares, the walk's result. Other
/// layouts: None.
#[inline(always)]
fn linux_syn_options(opts: &[u8]) -> Option<(u16, Option<u8>)> {
    let o: &[u8; 20] = opts.try_into().ok()?;
    (o[..2] == [2, 4] && o[4..8] == [4, 2, 8, 10] && o[16..19] == [1, 3, 3])
        .then(|| (u16::from_be_bytes([o[2], o[3]]), Some(o[19])))
}

/// Any other SYN option layout: the layered parser's walk, out of line. The options are always
/// there (`transport` checked the header length); the general parser behind the test only
/// keeps the result from being a constant, which would turn the tail call into a call (and
/// cost the common path a stack adjustment).
#[inline(never)]
fn syn_options(
    frame: &[u8],
    decap: bool,
    from: usize,
    to: usize,
    m: &mut PacketMeta,
) -> Result<(), ParseError> {
    match frame.get(from..to) {
        Some(opts) => {
            (m.tcp_mss, m.tcp_wscale) = l4::tcp_options(opts);
            Ok(())
        }
        None => general(LINKTYPE_ETHERNET, cap(frame), decap, m),
    }
}

/// A UDP packet to a tunnel port (in `m`, with `decap`): VXLAN or GTP-U around a packet `ip`
/// knows is parsed here, anything else by the general parser. Out of line: a second copy of `ip`.
#[inline(never)]
fn tunnel(frame: &[u8], m: &mut PacketMeta) -> Result<(), ParseError> {
    if inner(frame, m) {
        Ok(())
    } else {
        general(LINKTYPE_ETHERNET, frame, true, m)
    }
}

/// The inner packet of VXLAN or GTP-U, parsed straight into `m`, the outer endpoints moved
/// aside; false for other tunnels, nesting, and anything `ip` does not know.
#[inline(always)]
fn inner(frame: &[u8], m: &mut PacketMeta) -> bool {
    let (s, d, at_) = (m.src_port, m.dst_port, usize::from(m.payload_offset));
    let (kind, id, inner_l3, inner_et) = if s == PORT_GTP_U || d == PORT_GTP_U {
        // GTP-U v1 G-PDU without optional fields, then IP (the version nibble decides).
        let Some(g) = at::<9>(frame, at_) else {
            return false;
        };
        if g[0] != 0x30 || g[1] != 0xff {
            return false;
        }
        let et = match g[8] >> 4 {
            4 => ETHERTYPE_IPV4,
            6 => ETHERTYPE_IPV6,
            _ => return false,
        };
        let teid = u32::from_be_bytes([g[4], g[5], g[6], g[7]]);
        (Tunnel::GtpU, teid, at_ + 8, et)
    } else if d == PORT_VXLAN {
        // VXLAN with the I flag, then Ethernet; the inner VLAN tag (if any) keys the flow.
        let Some(v) = at::<26>(frame, at_) else {
            return false;
        };
        if v[0] & 0x08 == 0 {
            return false;
        }
        let Some(e) = v[8..26].first_chunk::<18>() else {
            return false;
        };
        let (ivlan, et, l3) = ethernet(e, at_ + 8);
        if ivlan != 0 {
            m.vlan = ivlan;
        }
        (
            Tunnel::Vxlan,
            u32::from_be_bytes([0, v[4], v[5], v[6]]),
            l3,
            et,
        )
    } else {
        // Another tunnel: the general path looks behind it.
        return false;
    };
    // The outer packet becomes the tunnel's metadata; the inner one overwrites every other
    // field the outer wrote, once those `ip` and `transport` expect zero are again.
    m.tunnel = kind;
    m.tunnel_id = id;
    m.outer_ip_version = m.ip_version;
    (m.outer_src_ip, m.outer_dst_ip) = (m.src_ip, m.dst_ip);
    (m.src_ip, m.dst_ip) = ([0; 16], [0; 16]);
    (m.src_port, m.dst_port) = (0, 0);
    (m.dns, m.dns_id, m.dns_flags) = (false, 0, 0);
    let rest = match ip(frame, inner_et, inner_l3, m) {
        Some(Rest::V6Ext(kind, off)) => ext_transport(frame, kind, off, m),
        rest => rest,
    };
    match rest {
        Some(Rest::Nothing) => !(m.proto == UDP && is_tunnel_port(m.src_port, m.dst_port)),
        Some(Rest::Options(from, to)) => {
            (m.tcp_mss, m.tcp_wscale) = l4::tcp_options(&frame[from..to]);
            true
        }
        // A tunnel inside the tunnel: the general path handles nesting.
        Some(Rest::V6Ext(..)) | None => false,
    }
}

/// UDP ports the general path looks behind for a tunnel header.
#[inline(always)]
fn is_tunnel_port(s: u16, d: u16) -> bool {
    // Most UDP is not tunnelled: two bit tests rule nearly all of it out before the compares.
    (tunnel_bucket(s) || tunnel_bucket(d)) && udp_tunnel(s, d).is_some()
}

/// Bit `(p >> 2) & 63` set for each tunnel port `p` (none shared with DNS, NTP or QUIC).
const TUNNEL_BUCKETS: u64 = {
    let mut mask = 0;
    let mut i = 0;
    while i < UDP_TUNNEL_PORTS.len() {
        mask |= 1 << ((UDP_TUNNEL_PORTS[i] >> 2) & 63);
        i += 1;
    }
    mask
};

/// `p` may be a tunnel port (false: it is not).
#[inline(always)]
fn tunnel_bucket(p: u16) -> bool {
    TUNNEL_BUCKETS >> ((p >> 2) & 63) & 1 != 0
}

#[cfg(test)]
mod tests {
    use super::super::ethernet;
    use super::super::testutil::*;
    use super::super::tunnel::udp_tunnel;
    use super::super::{parse_frame_reference, PacketMeta, Tunnel};
    use super::{after, ext_transport, inner, ip, outer, syn_options, tunnel_bucket, Next};

    /// This path alone: true when it parsed `frame` without the general parser.
    fn parse(frame: &[u8], decap: bool, m: &mut PacketMeta) -> bool {
        let mut next = outer(frame, decap, m);
        if let Next::Tags(et) = next {
            next = match ethernet::tags(frame, et, 14, m)
                .ok()
                .and_then(|(et, l3)| ip(frame, et, l3, m))
            {
                Some(rest) => after(rest, decap, m),
                None => Next::General,
            };
        }
        if let Next::V6Ext(kind, off) = next {
            next = match ext_transport(frame, kind, off, m) {
                Some(rest) => after(rest, decap, m),
                None => Next::General,
            };
        }
        match next {
            Next::Done => true,
            Next::Options(from, to) => syn_options(frame, decap, from, to, m).is_ok(),
            Next::Tunnel => inner(frame, m),
            Next::Tags(..) | Next::V6Ext(..) | Next::General => false,
        }
    }

    /// The bucket filter lets every tunnel port through, on either side.
    #[test]
    fn tunnel_buckets_cover_every_tunnel_port() {
        for p in 0..=u16::MAX {
            if udp_tunnel(p, 1).is_some() || udp_tunnel(1, p).is_some() {
                assert!(tunnel_bucket(p), "{p}");
            }
        }
        assert!(![53, 123, 443].into_iter().any(tunnel_bucket));
    }

    /// The shapes of the benchmark's realistic mix take this path (a silent fallback to the
    /// general parser would still be correct, only slower), with the reference's result.
    #[test]
    fn common_shapes_take_the_fast_path() {
        let seg = tcp(
            1,
            443,
            2,
            3,
            0x10,
            4,
            &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
            &[0; 9],
        );
        let v4 = ipv4(6, 0x4000, &[], &seg);
        // MSS, SACK permitted, timestamps, NOP, window scale.
        let linux = [
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let v6 = ipv6(0, &cat(&[&ext_generic(60, 0), &ext_generic(6, 1), &seg]));
        let frames = [
            eth(&[], 0x0800, &v4),
            eth(
                &[(0x8100, 7)],
                0x0800,
                &ipv4(17, 0, &[], &udp(5, 6, &[0; 30])),
            ),
            eth(&[], 0x86dd, &v6),
            eth(
                &[],
                0x0800,
                &ipv4(
                    17,
                    0,
                    &[],
                    &udp(
                        9,
                        4789,
                        &cat(&[&[8, 0, 0, 0, 0, 0, 1, 0], &eth(&[], 0x86dd, &v6)]),
                    ),
                ),
            ),
            eth(
                &[],
                0x0800,
                &ipv4(
                    17,
                    0,
                    &[],
                    &udp(2152, 2152, &cat(&[&[0x30, 0xff, 0, 0, 0, 0, 0, 1], &v4])),
                ),
            ),
            // ICMP and ICMPv6 echo.
            eth(
                &[],
                0x0800,
                &ipv4(1, 0, &[], &icmp(8, 0, [0, 1, 0, 2], &[0; 8])),
            ),
            eth(
                &[(0x8100, 9)],
                0x86dd,
                &ipv6(58, &icmp(129, 0, [0; 4], &[])),
            ),
            // Two tags (QinQ), and an 802.1ad outer tag.
            eth(&[(0x8100, 10), (0x8100, 11)], 0x0800, &v4),
            eth(&[(0x88a8, 12), (0x8100, 13)], 0x86dd, &v6),
            // SYNs with Linux's option layout and with another one.
            eth(
                &[],
                0x0800,
                &ipv4(6, 0, &[], &tcp(1, 2, 3, 0, 0x02, 5, &linux, &[])),
            ),
            eth(
                &[],
                0x0800,
                &ipv4(
                    6,
                    0,
                    &[],
                    &tcp(1, 2, 3, 0, 0x12, 5, &[2, 4, 5, 0x78, 1, 3, 3, 7], &[]),
                ),
            ),
        ];
        // A slot that held a tunnelled DNS packet, an ICMP error, a fragment.
        let used = PacketMeta {
            tunnel: Tunnel::Vxlan,
            tunnel_id: 7,
            outer_ip_version: 4,
            outer_src_ip: [1; 16],
            icmp_inner_proto: 17,
            icmp_inner_dst_ip: [2; 16],
            icmp_inner_src_port: 3,
            dns: true,
            dns_id: 4,
            first_fragment: true,
            ip_id: 5,
            tcp_mss: 1400,
            tcp_wscale: Some(2),
            icmp_type: 3,
            src_ip: [6; 16],
            ..PacketMeta::default()
        };
        for f in &frames {
            let mut m = used;
            assert!(parse(f, true, &mut m), "{f:02x?}");
            assert_eq!(Ok(m), parse_frame_reference(1, f, true));
        }
    }
}
