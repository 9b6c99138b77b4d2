//! Tunnel detection after a parsed outer IP packet: where the inner packet starts and what it
//! is. A header that does not look like its tunnel (wrong version, control message, too short)
//! leaves the packet as the outer flow: `None`, not an error.

use super::link::{self, L3};
use super::{view, PacketMeta, Tunnel};

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;
const IPPROTO_UDP: u8 = 17;

pub(super) const PORT_GTP_U: u16 = 2152;
pub(super) const PORT_VXLAN: u16 = 4789;
const PORT_GENEVE: u16 = 6081;
const PORT_CAPWAP_DATA: u16 = 5247;
const PORT_TZSP: u16 = 37008;
/// Every port `udp_tunnel` tests, on either side.
pub(super) const UDP_TUNNEL_PORTS: [u16; 5] = [
    PORT_GTP_U,
    PORT_VXLAN,
    PORT_GENEVE,
    PORT_CAPWAP_DATA,
    PORT_TZSP,
];

/// The tunnels announced by UDP ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum UdpTunnel {
    GtpU,
    Vxlan,
    Geneve,
    Capwap,
    Tzsp,
}

/// The tunnel a UDP port pair announces, in the order `detect` tries them: the one table the
/// layered parser and the fast path (which must leave these packets to it) share.
#[inline(always)]
pub(super) fn udp_tunnel(s: u16, d: u16) -> Option<UdpTunnel> {
    if s == PORT_GTP_U || d == PORT_GTP_U {
        Some(UdpTunnel::GtpU)
    } else if d == PORT_VXLAN {
        Some(UdpTunnel::Vxlan)
    } else if d == PORT_GENEVE {
        Some(UdpTunnel::Geneve)
    } else if s == PORT_CAPWAP_DATA || d == PORT_CAPWAP_DATA {
        Some(UdpTunnel::Capwap)
    } else if s == PORT_TZSP || d == PORT_TZSP {
        Some(UdpTunnel::Tzsp)
    } else {
        None
    }
}

const GRE_CHECKSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQ: u16 = 0x1000;
const GRE_ACK: u16 = 0x0080;
const GRE_PROTO_TEB: u16 = 0x6558;
const GRE_PROTO_ERSPAN2: u16 = 0x88be;
const GRE_PROTO_ERSPAN3: u16 = 0x22eb;
const GRE_PROTO_PPP: u16 = 0x880b;

/// GTP-U extension headers walked before the packet is left as the outer flow.
const MAX_GTP_EXT: usize = 8;
/// TZSP tags walked before the packet is left as the outer flow.
const MAX_TZSP_TAGS: usize = 16;

/// What follows the tunnel header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inner {
    Ethernet,
    /// An ethertype names the inner protocol (SNAP).
    Ethertype(u16),
    Ip(L3),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Found {
    pub kind: Tunnel,
    pub id: u32,
    pub inner: Inner,
    pub off: usize,
}

/// Inner packet of the outer packet just parsed into `meta`, if it is a tunnel.
#[inline]
pub(super) fn detect(frame: &[u8], meta: &PacketMeta) -> Option<Found> {
    // A non-first fragment has no tunnel header; a first one is unwrapped as far as captured.
    if meta.frag_offset != 0 {
        return None;
    }
    let l4 = usize::from(meta.l4_offset);
    let ip = |l3, kind| {
        Some(Found {
            kind,
            id: 0,
            inner: Inner::Ip(l3),
            off: l4,
        })
    };
    match meta.proto {
        IPPROTO_IPIP => ip(L3::V4, Tunnel::IpInIp),
        IPPROTO_IPV6 => ip(L3::V6, Tunnel::IpInIp),
        IPPROTO_GRE => gre(frame, l4),
        IPPROTO_UDP => {
            let payload = usize::from(meta.payload_offset);
            match udp_tunnel(meta.src_port, meta.dst_port)? {
                UdpTunnel::GtpU => gtp_u(frame, payload),
                UdpTunnel::Vxlan => vxlan(frame, payload),
                UdpTunnel::Geneve => geneve(frame, payload),
                UdpTunnel::Capwap => capwap(frame, payload),
                UdpTunnel::Tzsp => tzsp(frame, payload),
            }
        }
        _ => None,
    }
}

fn found(kind: Tunnel, id: u32, inner: Inner, off: usize) -> Option<Found> {
    Some(Found {
        kind,
        id,
        inner,
        off,
    })
}

/// GRE (RFC 2784/2890) with its optional fields, ERSPAN II/III behind it, and enhanced GRE
/// version 1 (PPTP, RFC 2637) carrying PPP.
fn gre(frame: &[u8], at: usize) -> Option<Found> {
    let h: &[u8; 4] = view(frame, at).ok()?;
    let flags = u16::from_be_bytes([h[0], h[1]]);
    let proto = u16::from_be_bytes([h[2], h[3]]);
    let mut off = at + 4;
    match flags & 0x0007 {
        0 => {
            if flags & GRE_ROUTING != 0 {
                return None;
            }
            if flags & GRE_CHECKSUM != 0 {
                off += 4;
            }
            let mut key = 0;
            if flags & GRE_KEY != 0 {
                key = u32::from_be_bytes(*view::<4>(frame, off).ok()?);
                off += 4;
            }
            let seq = flags & GRE_SEQ != 0;
            if seq {
                off += 4;
            }
            match proto {
                0x0800 => found(Tunnel::Gre, key, Inner::Ip(L3::V4), off),
                0x86dd => found(Tunnel::Gre, key, Inner::Ip(L3::V6), off),
                GRE_PROTO_TEB => found(Tunnel::Gre, key, Inner::Ethernet, off),
                // ERSPAN type I has no header (and no sequence number); type II has 8 bytes.
                GRE_PROTO_ERSPAN2 if !seq => found(Tunnel::Erspan, 0, Inner::Ethernet, off),
                GRE_PROTO_ERSPAN2 => {
                    let e: &[u8; 8] = view(frame, off).ok()?;
                    found(Tunnel::Erspan, session(e), Inner::Ethernet, off + 8)
                }
                GRE_PROTO_ERSPAN3 => {
                    // 12 bytes, plus an 8-byte platform sub-header when the O bit is set.
                    let e: &[u8; 12] = view(frame, off).ok()?;
                    let len = if e[11] & 0x01 != 0 { 20 } else { 12 };
                    found(Tunnel::Erspan, session(e), Inner::Ethernet, off + len)
                }
                _ => None,
            }
        }
        1 => {
            // Enhanced GRE: the key is (payload length, call id), and it is mandatory.
            if flags & GRE_KEY == 0 || proto != GRE_PROTO_PPP {
                return None;
            }
            let k: &[u8; 4] = view(frame, off).ok()?;
            let (payload_len, call_id) = (
                u16::from_be_bytes([k[0], k[1]]),
                u16::from_be_bytes([k[2], k[3]]),
            );
            off += 4;
            if flags & GRE_SEQ != 0 {
                off += 4;
            }
            if flags & GRE_ACK != 0 {
                off += 4;
            }
            if payload_len == 0 {
                // Acknowledgement only: stays the outer GRE flow.
                return None;
            }
            // PPP control traffic (LCP, IPCP...) stays the outer flow too.
            let (l3, off) = link::ppp(frame, off).ok()?;
            found(Tunnel::Pptp, u32::from(call_id), Inner::Ip(l3), off)
        }
        _ => None,
    }
}

/// ERSPAN session id: the low 10 bits of the second 16-bit word.
fn session(e: &[u8]) -> u32 {
    match e {
        [_, _, a, b, ..] => u32::from(u16::from_be_bytes([*a, *b]) & 0x03ff),
        _ => 0,
    }
}

/// GTP-U (3GPP TS 29.281): version 1, G-PDU (message 0xff) only; then the optional sequence /
/// N-PDU / next-extension word and the extension header chain.
fn gtp_u(frame: &[u8], at: usize) -> Option<Found> {
    let h: &[u8; 8] = view(frame, at).ok()?;
    if h[0] >> 5 != 1 || h[1] != 0xff {
        return None;
    }
    let teid = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let mut off = at + 8;
    if h[0] & 0x07 != 0 {
        let opt: &[u8; 4] = view(frame, off).ok()?;
        off += 4;
        let mut next = if h[0] & 0x04 != 0 { opt[3] } else { 0 };
        let mut walked = 0;
        while next != 0 {
            if walked == MAX_GTP_EXT {
                return None;
            }
            // Length in 4-byte units, counting itself; the last byte names the next one.
            let len = usize::from(view::<1>(frame, off).ok()?[0]) * 4;
            if len == 0 {
                return None;
            }
            next = *frame.get(off + len - 1)?;
            off += len;
            walked += 1;
        }
    }
    // Empty G-PDUs (echo of a path) have nothing to key on.
    view::<1>(frame, off).ok()?;
    found(Tunnel::GtpU, teid, Inner::Ip(L3::ByNibble), off)
}

/// VXLAN (RFC 7348): the I flag says the VNI is valid; Ethernet follows the 8 bytes.
fn vxlan(frame: &[u8], at: usize) -> Option<Found> {
    let h: &[u8; 8] = view(frame, at).ok()?;
    if h[0] & 0x08 == 0 {
        return None;
    }
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    found(Tunnel::Vxlan, vni, Inner::Ethernet, at + 8)
}

/// Geneve (RFC 8926): version 0, options length in 4-byte units, protocol type like GRE.
fn geneve(frame: &[u8], at: usize) -> Option<Found> {
    let h: &[u8; 8] = view(frame, at).ok()?;
    if h[0] >> 6 != 0 {
        return None;
    }
    let off = at + 8 + usize::from(h[0] & 0x3f) * 4;
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    let inner = match u16::from_be_bytes([h[2], h[3]]) {
        GRE_PROTO_TEB => Inner::Ethernet,
        0x0800 => Inner::Ip(L3::V4),
        0x86dd => Inner::Ip(L3::V6),
        _ => return None,
    };
    found(Tunnel::Geneve, vni, inner, off)
}

/// CAPWAP data channel (RFC 5415): HLEN in 4-byte words; T clear means an 802.3 frame follows,
/// T set with WBID 1 a native 802.11 data frame, then LLC/SNAP. Cisco access points write the
/// frame control bytes swapped (`xx 08`), which nDPI accepts too.
fn capwap(frame: &[u8], at: usize) -> Option<Found> {
    let h: &[u8; 4] = view(frame, at).ok()?;
    if h[0] >> 4 != 0 {
        return None;
    }
    let off = at + usize::from(h[1] >> 3) * 4;
    if h[2] & 0x01 == 0 {
        return found(Tunnel::Capwap, 0, Inner::Ethernet, off);
    }
    if (h[2] >> 1) & 0x1f != 1 {
        return None;
    }
    let fc: &[u8; 2] = view(frame, off).ok()?;
    let snap = if fc[0] & 0x0c == 0x08 {
        // 24-byte data header, 2 more for QoS data subtypes.
        off + 24 + if fc[0] & 0x80 != 0 { 2 } else { 0 }
    } else if fc[1] == 0x08 {
        off + 24
    } else {
        return None;
    };
    let llc: &[u8; 8] = view(frame, snap).ok()?;
    if llc[..3] != [0xaa, 0xaa, 0x03] {
        return None;
    }
    // A non-IP inner frame (EAPOL, ARP) is still tunnel traffic: it fails as NotIp, as in nDPI.
    let et = u16::from_be_bytes([llc[6], llc[7]]);
    found(Tunnel::Capwap, 0, Inner::Ethertype(et), snap + 8)
}

/// TZSP: version 1, received-packet type 0, Ethernet encapsulation (1), then tagged fields up
/// to the END tag.
fn tzsp(frame: &[u8], at: usize) -> Option<Found> {
    let h: &[u8; 4] = view(frame, at).ok()?;
    if h[0] != 1 || h[1] != 0 || u16::from_be_bytes([h[2], h[3]]) != 1 {
        return None;
    }
    let mut off = at + 4;
    for _ in 0..MAX_TZSP_TAGS {
        match view::<1>(frame, off).ok()?[0] {
            0 => off += 1,
            1 => return found(Tunnel::Tzsp, 0, Inner::Ethernet, off + 1),
            _ => off += 2 + usize::from(view::<2>(frame, off).ok()?[1]),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{parse_frame, PacketMeta, ParseError, Tunnel, MAX_TUNNEL_DEPTH};

    const IN_SRC: [u8; 4] = [172, 16, 0, 1];
    const IN_DST: [u8; 4] = [172, 16, 0, 2];

    /// Inner IPv4 + TCP SYN 1111 -> 80 with its own addresses.
    fn inner_v4() -> Vec<u8> {
        let mut p = ipv4(
            6,
            0,
            &[],
            &tcp(1111, 80, 9, 0, 0x02, 64, &[2, 4, 5, 0x78], &[]),
        );
        p[12..16].copy_from_slice(&IN_SRC);
        p[16..20].copy_from_slice(&IN_DST);
        p
    }

    fn outer_udp(dport: u16, payload: &[u8]) -> Vec<u8> {
        eth(
            &[(0x8100, 7)],
            0x0800,
            &ipv4(17, 0, &[], &udp(50000, dport, payload)),
        )
    }

    /// Inner flow fields, outer endpoints, tunnel identity.
    fn check_inner(m: &PacketMeta, kind: Tunnel, id: u32) {
        assert_eq!(
            (m.ip_version, m.proto, m.src_port, m.dst_port),
            (4, 6, 1111, 80)
        );
        assert_eq!((&m.src_ip[..4], &m.dst_ip[..4]), (&IN_SRC[..], &IN_DST[..]));
        assert_eq!((m.tcp_flags, m.tcp_mss), (0x02, 1400));
        assert_eq!((m.tunnel, m.tunnel_id, m.outer_ip_version), (kind, id, 4));
        assert_eq!(
            (&m.outer_src_ip[..4], &m.outer_dst_ip[..4]),
            (&V4_SRC[..], &V4_DST[..])
        );
        assert_eq!(m.payload_offset as usize, m.l4_offset as usize + 24);
    }

    fn both(frame: &[u8]) -> (PacketMeta, PacketMeta) {
        (
            parse_frame(1, frame, false).unwrap(),
            parse_frame(1, frame, true).unwrap(),
        )
    }

    #[test]
    fn vxlan_inner_ethernet_and_vlan() {
        let inner = eth(&[(0x8100, 300)], 0x0800, &inner_v4());
        let vx = cat(&[&[0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0], &inner]);
        let frame = outer_udp(4789, &vx);
        let (outer, m) = both(&frame);
        assert_eq!(
            (outer.proto, outer.dst_port, outer.tunnel),
            (17, 4789, Tunnel::None)
        );
        check_inner(&m, Tunnel::Vxlan, 0x123456);
        // Capture MACs stay; the inner tag is the one that separates inner flows.
        assert_eq!((m.src_mac, m.vlan), (SRC_MAC, 300));
        assert_eq!(m.l3_offset as usize, 18 + 28 + 8 + 18);
        // I flag clear: not VXLAN, the outer UDP flow.
        let mut bad = vx.clone();
        bad[0] = 0;
        assert_eq!(
            parse_frame(1, &outer_udp(4789, &bad), true)
                .unwrap()
                .dst_port,
            4789
        );
        // VXLAN header present, inner frame cut: the inner error.
        assert_eq!(
            parse_frame(1, &frame[..frame.len() - 30], true),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn gtp_u_with_extension_headers() {
        let plain = cat(&[&[0x30, 0xff, 0, 40, 0xde, 0xad, 0xbe, 0xef], &inner_v4()]);
        check_inner(&both(&outer_udp(2152, &plain)).1, Tunnel::GtpU, 0xdead_beef);
        // E flag: seq/N-PDU/next word, then a PDU session container (len 1) -> another (len 2).
        let ext = cat(&[
            &[0x34, 0xff, 0, 0, 0, 0, 0, 5],
            &[0, 0, 0, 0x85],
            &[1, 0x10, 0x01, 0x85],
            &[2, 0, 0, 0, 0, 0, 0, 0],
            &inner_v4(),
        ]);
        let m = parse_frame(1, &outer_udp(2152, &ext), true).unwrap();
        check_inner(&m, Tunnel::GtpU, 5);
        // Source port 2152 works as well (downlink).
        let mut down = eth(&[], 0x0800, &ipv4(17, 0, &[], &udp(2152, 2152, &plain)));
        check_inner(
            &parse_frame(1, &down, true).unwrap(),
            Tunnel::GtpU,
            0xdead_beef,
        );
        // Echo request (type 1) is GTP signalling on the outer flow.
        down[42 + 1] = 1;
        let m = parse_frame(1, &down, true).unwrap();
        assert_eq!((m.tunnel, m.dst_port), (Tunnel::None, 2152));
        // A zero-length extension leaves the outer flow (never loops).
        let mut zero = ext.clone();
        zero[12] = 0;
        let m = parse_frame(1, &outer_udp(2152, &zero), true).unwrap();
        assert_eq!((m.tunnel, m.src_port), (Tunnel::None, 50000));
    }

    #[test]
    fn gre_variants() {
        let gre = |flags: u16, proto: u16, opts: &[u8], inner: &[u8]| {
            let mut g = flags.to_be_bytes().to_vec();
            g.extend_from_slice(&proto.to_be_bytes());
            g.extend_from_slice(opts);
            g.extend_from_slice(inner);
            eth(&[], 0x0800, &ipv4(47, 0, &[], &g))
        };
        check_inner(&both(&gre(0, 0x0800, &[], &inner_v4())).1, Tunnel::Gre, 0);
        // Checksum + key + sequence.
        let f = gre(
            0xb000,
            0x0800,
            &[0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 1],
            &inner_v4(),
        );
        let (outer, m) = both(&f);
        assert_eq!((outer.proto, outer.tunnel), (47, Tunnel::None));
        check_inner(&m, Tunnel::Gre, 42);
        // Transparent Ethernet bridging.
        let f = gre(
            0x2000,
            0x6558,
            &[0, 0, 0, 7],
            &eth(&[], 0x0800, &inner_v4()),
        );
        check_inner(&parse_frame(1, &f, true).unwrap(), Tunnel::Gre, 7);
        // ERSPAN II (sequence present) with session 0x155, ERSPAN III with the O bit.
        let e2 = [0x10, 0x00, 0x01, 0x55, 0, 0, 0, 0];
        let f = gre(
            0x1000,
            0x88be,
            &[0, 0, 0, 1],
            &cat(&[&e2, &eth(&[], 0x0800, &inner_v4())]),
        );
        check_inner(&parse_frame(1, &f, true).unwrap(), Tunnel::Erspan, 0x155);
        let mut e3 = vec![0x20, 0, 0x02, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0x01];
        e3.extend_from_slice(&[0; 8]);
        let f = gre(
            0x1000,
            0x22eb,
            &[0, 0, 0, 1],
            &cat(&[&e3, &eth(&[], 0x0800, &inner_v4())]),
        );
        check_inner(&parse_frame(1, &f, true).unwrap(), Tunnel::Erspan, 0x20a);
        // ERSPAN I: no sequence, no header.
        let f = gre(0, 0x88be, &[], &eth(&[], 0x0800, &inner_v4()));
        check_inner(&parse_frame(1, &f, true).unwrap(), Tunnel::Erspan, 0);
        // PPTP: enhanced GRE (version 1, key, sequence) carrying PPP/IPv4, call id 0x77.
        let ppp = cat(&[&[0xff, 0x03, 0x00, 0x21], &inner_v4()]);
        let len = ppp.len() as u8;
        let f = gre(0x3001, 0x880b, &[0, len, 0, 0x77, 0, 0, 0, 1], &ppp);
        check_inner(&parse_frame(1, &f, true).unwrap(), Tunnel::Pptp, 0x77);
        // PPTP acknowledgement only, and LCP: the outer GRE flow.
        let ack = gre(0x2081, 0x880b, &[0, 0, 0, 0x77, 0, 0, 0, 1], &[]);
        assert_eq!(parse_frame(1, &ack, true).unwrap().proto, 47);
        let lcp = gre(
            0x3001,
            0x880b,
            &[0, 8, 0, 0x77, 0, 0, 0, 1],
            &[0xff, 3, 0xc0, 0x21, 1, 1, 0, 4],
        );
        assert_eq!(parse_frame(1, &lcp, true).unwrap().tunnel, Tunnel::None);
        // Routing present / unknown protocol: outer.
        assert_eq!(
            parse_frame(1, &gre(0x4000, 0x0800, &[], &inner_v4()), true)
                .unwrap()
                .proto,
            47
        );
        assert_eq!(
            parse_frame(1, &gre(0, 0x880b, &[], &inner_v4()), true)
                .unwrap()
                .proto,
            47
        );
    }

    #[test]
    fn ip_in_ip_all_four() {
        let m = parse_frame(1, &eth(&[], 0x0800, &ipv4(4, 0, &[], &inner_v4())), true).unwrap();
        check_inner(&m, Tunnel::IpInIp, 0);
        let v6in4 = ipv4(41, 0, &[], &ipv6(17, &udp(5, 6, &[])));
        let m = parse_frame(1, &eth(&[], 0x0800, &v6in4), true).unwrap();
        assert_eq!(
            (m.ip_version, m.src_ip, m.src_port, m.outer_ip_version),
            (6, V6_SRC, 5, 4)
        );
        let m = parse_frame(101, &ipv6(4, &inner_v4()), true).unwrap();
        assert_eq!((m.ip_version, m.src_port, m.outer_ip_version), (4, 1111, 6));
        assert_eq!((m.outer_src_ip, m.tunnel), (V6_SRC, Tunnel::IpInIp));
        let m = parse_frame(101, &ipv6(41, &ipv6(58, &icmp(128, 0, [0; 4], &[]))), true).unwrap();
        assert_eq!(
            (m.ip_version, m.proto, m.icmp_type, m.outer_ip_version),
            (6, 58, 128, 6)
        );
        // Without decap the outer packet is the flow.
        let m = parse_frame(101, &ipv6(4, &inner_v4()), false).unwrap();
        assert_eq!((m.ip_version, m.proto, m.tunnel), (6, 4, Tunnel::None));
    }

    #[test]
    fn geneve_capwap_tzsp() {
        // Geneve with 8 bytes of options, inner Ethernet, VNI 0xabcdef.
        let gn = cat(&[
            &[0x02, 0, 0x65, 0x58, 0xab, 0xcd, 0xef, 0],
            &[0; 8],
            &eth(&[], 0x0800, &inner_v4()),
        ]);
        check_inner(
            &parse_frame(1, &outer_udp(6081, &gn), true).unwrap(),
            Tunnel::Geneve,
            0xabcdef,
        );
        // CAPWAP 802.11 data (HLEN 4 words, T=1, WBID=1), LLC/SNAP, IPv4.
        let mut wifi = vec![0x08, 0x01];
        wifi.resize(24, 0);
        let cw = cat(&[
            &[0x00, 0x20, 0x03, 0x00],
            &[0; 12],
            &wifi,
            &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00],
            &inner_v4(),
        ]);
        check_inner(
            &parse_frame(1, &outer_udp(5247, &cw), true).unwrap(),
            Tunnel::Capwap,
            0,
        );
        // ... carrying EAPOL: tunnel traffic that is not IP.
        let mut eapol = cw.clone();
        eapol[16 + 24 + 6..16 + 24 + 8].copy_from_slice(&[0x88, 0x8e]);
        assert_eq!(
            parse_frame(1, &outer_udp(5247, &eapol), true),
            Err(ParseError::NotIp)
        );
        // CAPWAP T=0: an 802.3 frame.
        let cw3 = cat(&[
            &[0x00, 0x10, 0x00, 0x00],
            &[0; 4],
            &eth(&[], 0x0800, &inner_v4()),
        ]);
        check_inner(
            &parse_frame(1, &outer_udp(5247, &cw3), true).unwrap(),
            Tunnel::Capwap,
            0,
        );
        // TZSP: version 1, received, Ethernet; a padding tag, a 2-byte tag, END.
        let tz = cat(&[
            &[1, 0, 0, 1, 0, 10, 2, 0xaa, 0xbb, 1],
            &eth(&[], 0x0800, &inner_v4()),
        ]);
        check_inner(
            &parse_frame(1, &outer_udp(37008, &tz), true).unwrap(),
            Tunnel::Tzsp,
            0,
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut p = inner_v4();
        for _ in 0..MAX_TUNNEL_DEPTH {
            p = ipv4(4, 0, &[], &p);
        }
        let m = parse_frame(101, &p, true).unwrap();
        assert_eq!((m.src_port, m.tunnel), (1111, Tunnel::IpInIp));
        let deeper = ipv4(4, 0, &[], &p);
        assert_eq!(
            parse_frame(101, &deeper, true),
            Err(ParseError::TunnelDepth)
        );
        assert_eq!(parse_frame(101, &deeper, false).unwrap().proto, 4);
    }

    #[test]
    fn non_first_fragment_of_a_tunnel_is_not_unwrapped() {
        let f = eth(&[], 0x0800, &ipv4(47, 100, &[], &[0; 40]));
        let m = parse_frame(1, &f, true).unwrap();
        assert_eq!((m.proto, m.frag_offset, m.tunnel), (47, 100, Tunnel::None));
    }
}
