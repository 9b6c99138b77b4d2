//! IPv6 header (RFC 8200) and its extension header chain.

use super::{fail, l4, view, PacketMeta, ParseError, MAX_IPV6_EXT_HEADERS};

const HEADER_LEN: usize = 40;

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const AUTH: u8 = 51;
const DEST_OPTIONS: u8 = 60;
const MOBILITY: u8 = 135;

const FRAGMENT_HEADER_LEN: usize = 8;
const FRAGMENT_MORE: u16 = 0x0001;

/// Parse the IPv6 header at `l3`, walk the extension headers, then the transport header.
#[inline]
pub(super) fn parse(frame: &[u8], l3: usize, meta: &mut PacketMeta) -> Result<(), ParseError> {
    let Some(&ver) = frame.get(l3) else {
        return fail(ParseError::Truncated);
    };
    if ver >> 4 != 6 {
        return fail(ParseError::BadIpVersion);
    }
    let hdr: &[u8; HEADER_LEN] = view(frame, l3)?;
    let traffic_class = (hdr[0] << 4) | (hdr[1] >> 4);
    meta.ip_version = 6;
    meta.dscp = traffic_class >> 2;
    // 40 + 65535 does not fit the u16 field; such a packet is far beyond any MTU anyway.
    meta.ip_len = u16::from_be_bytes([hdr[4], hdr[5]]).saturating_add(HEADER_LEN as u16);
    meta.ttl = hdr[7];
    meta.src_ip.copy_from_slice(&hdr[8..24]);
    meta.dst_ip.copy_from_slice(&hdr[24..40]);
    meta.l3_offset = l3 as u16;

    let mut next = hdr[6];
    let mut off = l3 + HEADER_LEN;
    let mut walked = 0;
    while matches!(
        next,
        HOP_BY_HOP | ROUTING | FRAGMENT | AUTH | DEST_OPTIONS | MOBILITY
    ) {
        if walked == MAX_IPV6_EXT_HEADERS {
            return fail(ParseError::ExtHeaderDepth);
        }
        // Every extension header starts with (next header, length); only the length unit differs.
        let ext: &[u8; 2] = view(frame, off)?;
        let len = match next {
            FRAGMENT => {
                let frag: &[u8; FRAGMENT_HEADER_LEN] = view(frame, off)?;
                let field = u16::from_be_bytes([frag[2], frag[3]]);
                meta.frag_offset = field >> 3;
                meta.more_fragments = field & FRAGMENT_MORE != 0;
                if meta.frag_offset != 0 || meta.more_fragments {
                    // An atomic fragment (RFC 6946) is not fragmented: no id, as for IPv4.
                    meta.ip_id = u32::from_be_bytes([frag[4], frag[5], frag[6], frag[7]]);
                }
                if meta.frag_offset != 0 {
                    // No transport header follows: keyed by the fragment table (see ipv4).
                    return l4::fragment(off + FRAGMENT_HEADER_LEN, frag[0], meta);
                }
                meta.first_fragment = meta.more_fragments;
                FRAGMENT_HEADER_LEN
            }
            AUTH => (usize::from(ext[1]) + 2) * 4,
            _ => (usize::from(ext[1]) + 1) * 8,
        };
        // The whole header must be present: the next one (or the transport) starts after it.
        if frame.len() < off + len {
            return fail(ParseError::Truncated);
        }
        next = ext[0];
        off += len;
        walked += 1;
    }
    l4::parse(frame, off, next, meta)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{parse_ethernet, parse_ip, PacketMeta, ParseError, MAX_IPV6_EXT_HEADERS};

    #[test]
    fn tcp_fields() {
        let seg = tcp(
            49152,
            22,
            0x0102_0304,
            0xa0b0_c0d0,
            0x12,
            65535,
            &[2, 4, 5, 0xb4],
            b"hi",
        );
        let frame = eth(&[], 0x86dd, &ipv6(6, &seg));
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(
            m,
            PacketMeta {
                src_mac: SRC_MAC,
                dst_mac: DST_MAC,
                vlan: 0,
                ip_version: 6,
                src_ip: V6_SRC,
                dst_ip: V6_DST,
                proto: 6,
                src_port: 49152,
                dst_port: 22,
                tcp_flags: 0x12,
                tcp_seq: 0x0102_0304,
                icmp_type: 0,
                icmp_code: 0,
                ttl: V6_HOP_LIMIT,
                dscp: 10,
                ip_len: 40 + 24 + 2,
                l3_offset: 14,
                l4_offset: 54,
                payload_offset: 78,
                first_fragment: false,
                // SYN|ACK with the MSS option.
                tcp_mss: 1460,
                ..Default::default()
            }
        );
    }

    #[test]
    fn hop_by_hop_dest_options_first_fragment() {
        let rest = cat(&[
            &ext_generic(60, 0),        // hop-by-hop, 8 bytes -> dest options
            &ext_generic(44, 1),        // dest options, 16 bytes -> fragment
            &ext_fragment(17, 0, true), // first fragment -> UDP
            &udp(546, 547, &[0; 16]),
        ]);
        let frame = eth(&[(0x8100, 300)], 0x86dd, &ipv6(0, &rest));
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(m.vlan, 300);
        assert_eq!(m.l3_offset, 18);
        assert_eq!(m.l4_offset, 18 + 40 + 8 + 16 + 8);
        assert_eq!(m.payload_offset, m.l4_offset + 8);
        assert_eq!(m.proto, 17);
        assert_eq!((m.src_port, m.dst_port), (546, 547));
        assert!(m.first_fragment);
        assert_eq!(m.ip_len, 40 + rest.len() as u16);
    }

    #[test]
    fn routing_auth_mobility_lengths() {
        // AH with payload length 4: (4 + 2) * 4 = 24 bytes.
        let mut ah = vec![6, 4];
        ah.resize(24, 0xaa);
        let rest = cat(&[
            &ext_generic(51, 2), // routing, 24 bytes -> AH
            &ah,
            &tcp(1, 2, 3, 4, 0x01, 5, &[], &[]),
        ]);
        let m = parse_ethernet(&eth(&[], 0x86dd, &ipv6(43, &rest))).unwrap();
        assert_eq!(m.l4_offset, 14 + 40 + 24 + 24);
        assert_eq!(
            (m.proto, m.src_port, m.dst_port, m.tcp_flags),
            (6, 1, 2, 0x01)
        );
        // Mobility header (binding refresh request): no transport after it.
        let m = parse_ethernet(&eth(&[], 0x86dd, &ipv6(135, &ext_generic(59, 0)))).unwrap();
        assert_eq!((m.proto, m.l4_offset, m.payload_offset), (59, 62, 62));
    }

    #[test]
    fn non_first_fragment_has_no_ports() {
        let rest = cat(&[&ext_fragment(6, 181, true), &[0u8; 32]]);
        let frame = eth(&[], 0x86dd, &ipv6(44, &rest));
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(
            (m.frag_offset, m.more_fragments, m.first_fragment),
            (181, true, false)
        );
        assert_eq!(
            (m.proto, m.src_port, m.tcp_flags, m.ip_id),
            (6, 0, 0, 0xdead_beef)
        );
        assert_eq!((m.l4_offset, m.payload_offset), (62, 62));
        // Last fragment (M clear) behind a hop-by-hop header.
        let rest = cat(&[&ext_generic(44, 0), &ext_fragment(17, 1, false), &[0u8; 8]]);
        let m = parse_ethernet(&eth(&[], 0x86dd, &ipv6(0, &rest))).unwrap();
        assert_eq!((m.frag_offset, m.more_fragments, m.proto), (1, false, 17));
        assert_eq!((m.l4_offset, m.src_port, m.ip_id), (70, 0, 0xdead_beef));
        // Atomic fragment: offset 0, M clear; the transport header is there.
        let rest = cat(&[&ext_fragment(17, 0, false), &udp(7, 8, &[])]);
        let m = parse_ethernet(&eth(&[], 0x86dd, &ipv6(44, &rest))).unwrap();
        assert_eq!(
            (m.src_port, m.ip_id, m.first_fragment, m.frag_offset),
            (7, 0, false, 0)
        );
    }

    #[test]
    fn icmpv6() {
        let ns = icmp(135, 0, [0; 4], &V6_DST);
        let m = parse_ethernet(&eth(&[], 0x86dd, &ipv6(58, &ns))).unwrap();
        assert_eq!((m.proto, m.icmp_type, m.icmp_code), (58, 135, 0));
        assert_eq!((m.src_port, m.dst_port), (0, 0));
        assert_eq!((m.l4_offset, m.payload_offset), (54, 54));
        assert_eq!(m.ttl, V6_HOP_LIMIT);
        // Echo request behind a hop-by-hop header (MLD-style).
        let rest = cat(&[&ext_generic(58, 0), &icmp(128, 0, [0, 1, 0, 1], &[])]);
        let m = parse_ethernet(&eth(&[], 0x86dd, &ipv6(0, &rest))).unwrap();
        assert_eq!((m.proto, m.icmp_type, m.l4_offset), (58, 128, 62));
    }

    #[test]
    fn no_next_header() {
        let m = parse_ethernet(&eth(&[], 0x86dd, &ipv6(59, &[]))).unwrap();
        assert_eq!((m.proto, m.src_port, m.dst_port), (59, 0, 0));
        assert_eq!((m.l4_offset, m.payload_offset, m.ip_len), (54, 54, 40));
    }

    #[test]
    fn ext_header_depth() {
        let chain = |n: usize| {
            let mut rest = Vec::new();
            for i in 0..n {
                rest.extend(ext_generic(if i + 1 == n { 17 } else { 60 }, 0));
            }
            rest.extend(udp(1, 2, &[]));
            eth(&[], 0x86dd, &ipv6(60, &rest))
        };
        let m = parse_ethernet(&chain(MAX_IPV6_EXT_HEADERS)).unwrap();
        assert_eq!(m.l4_offset as usize, 54 + 8 * MAX_IPV6_EXT_HEADERS);
        assert_eq!((m.src_port, m.dst_port), (1, 2));
        assert_eq!(
            parse_ethernet(&chain(MAX_IPV6_EXT_HEADERS + 1)),
            Err(ParseError::ExtHeaderDepth)
        );
    }

    #[test]
    fn ext_header_beyond_frame_is_truncated() {
        // Claims 2048 bytes of hop-by-hop options.
        let rest = cat(&[&[59, 255], &[0u8; 30]]);
        assert_eq!(
            parse_ethernet(&eth(&[], 0x86dd, &ipv6(0, &rest))),
            Err(ParseError::Truncated)
        );
        // Fragment header cut after 4 bytes.
        let rest = ext_fragment(6, 0, true);
        let frame = eth(&[], 0x86dd, &ipv6(44, &rest[..4]));
        assert_eq!(parse_ethernet(&frame), Err(ParseError::Truncated));
    }

    #[test]
    fn bad_version_and_short_header() {
        let mut p = ipv6(59, &[]);
        p[0] = 0x40;
        assert_eq!(
            parse_ethernet(&eth(&[], 0x86dd, &p)),
            Err(ParseError::BadIpVersion)
        );
        let p = ipv6(59, &[]);
        assert_eq!(
            parse_ethernet(&eth(&[], 0x86dd, &p[..39])),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn jumbo_payload_length_saturates() {
        let mut p = ipv6(59, &[]);
        p[4..6].copy_from_slice(&0xfff0u16.to_be_bytes());
        assert_eq!(parse_ip(&p).unwrap().ip_len, u16::MAX);
    }

    #[test]
    fn parse_ip_raw_ipv6() {
        let p = ipv6(17, &udp(5000, 5001, &[1, 2, 3]));
        let m = parse_ip(&p).unwrap();
        assert_eq!((m.src_mac, m.dst_mac, m.vlan), ([0; 6], [0; 6], 0));
        assert_eq!((m.ip_version, m.src_ip, m.dst_ip), (6, V6_SRC, V6_DST));
        assert_eq!((m.l3_offset, m.l4_offset, m.payload_offset), (0, 40, 48));
        assert_eq!(
            (m.proto, m.src_port, m.dst_port, m.ip_len),
            (17, 5000, 5001, 51)
        );
        assert_eq!((m.dscp, m.ttl), (10, V6_HOP_LIMIT));
    }
}
