//! IPv4 header (RFC 791). Options are skipped via IHL; the checksum is not verified (the NIC or
//! the sender's stack owns that, and a flow probe counts the packet either way).

use super::{fail, l4, view, PacketMeta, ParseError};

const MIN_HEADER_LEN: usize = 20;
const FLAG_MORE_FRAGMENTS: u16 = 0x2000;
const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;

/// Parse the IPv4 header at `l3` and the transport header after it.
#[inline]
pub(super) fn parse(frame: &[u8], l3: usize, meta: &mut PacketMeta) -> Result<(), ParseError> {
    // Version and IHL first, so a wrong-version packet is named as such even when short.
    let Some(&ver_ihl) = frame.get(l3) else {
        return fail(ParseError::Truncated);
    };
    if ver_ihl >> 4 != 4 {
        return fail(ParseError::BadIpVersion);
    }
    let header_len = usize::from(ver_ihl & 0x0f) * 4;
    if header_len < MIN_HEADER_LEN {
        return fail(ParseError::BadHeaderLen);
    }
    let hdr: &[u8; MIN_HEADER_LEN] = view(frame, l3)?;
    // Options are not read, but the transport header starts after them.
    if frame.len() < l3 + header_len {
        return fail(ParseError::Truncated);
    }
    let mut total_len = u16::from_be_bytes([hdr[2], hdr[3]]);
    if total_len == 0 {
        // Captured before TCP segmentation offload: the NIC fills the length in later. Take
        // what was captured, as Wireshark and nDPI do.
        total_len = u16::try_from(frame.len() - l3).unwrap_or(u16::MAX);
    }
    if usize::from(total_len) < header_len {
        return fail(ParseError::BadTotalLen);
    }
    let frag = u16::from_be_bytes([hdr[6], hdr[7]]);
    let frag_offset = frag & FRAGMENT_OFFSET_MASK;
    meta.more_fragments = frag & FLAG_MORE_FRAGMENTS != 0;
    meta.frag_offset = frag_offset;
    if frag_offset != 0 || meta.more_fragments {
        // Key of the fragment table; 0 for unfragmented packets so equal packets compare equal.
        meta.ip_id = u32::from(u16::from_be_bytes([hdr[4], hdr[5]]));
    }
    meta.first_fragment = meta.more_fragments && frag_offset == 0;
    meta.ip_version = 4;
    meta.dscp = hdr[1] >> 2;
    meta.ip_len = total_len;
    meta.ttl = hdr[8];
    meta.src_ip[..4].copy_from_slice(&hdr[12..16]);
    meta.dst_ip[..4].copy_from_slice(&hdr[16..20]);
    meta.l3_offset = l3 as u16;
    if frag_offset != 0 {
        // A non-first fragment carries no transport header: the flow engine attributes it
        // through its fragment table (addresses, protocol, ip_id).
        return l4::fragment(l3 + header_len, hdr[9], meta);
    }
    l4::parse(frame, l3 + header_len, hdr[9], meta)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{parse_ethernet, parse_ip, PacketMeta, ParseError};

    fn v4_ip(addr: [u8; 4]) -> [u8; 16] {
        let mut ip = [0; 16];
        ip[..4].copy_from_slice(&addr);
        ip
    }

    #[test]
    fn udp_fields() {
        let frame = eth(
            &[],
            0x0800,
            &ipv4(17, 0x4000, &[], &udp(40000, 53, &[7; 12])),
        );
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(
            m,
            PacketMeta {
                src_mac: SRC_MAC,
                dst_mac: DST_MAC,
                vlan: 0,
                ip_version: 4,
                src_ip: v4_ip(V4_SRC),
                dst_ip: v4_ip(V4_DST),
                proto: 17,
                src_port: 40000,
                dst_port: 53,
                ttl: V4_TTL,
                dscp: 46,
                ip_len: 20 + 8 + 12,
                l3_offset: 14,
                l4_offset: 34,
                payload_offset: 42,
                first_fragment: false, // DF alone is not fragmentation
                // Port 53 with 12 payload bytes of 7s: read as a DNS header.
                dns: true,
                dns_id: 0x0707,
                dns_flags: 0x0707,
                ..PacketMeta::default()
            }
        );
    }

    #[test]
    fn options_are_skipped() {
        // Record-route style option of 8 bytes: IHL 7.
        let opts = [0x07, 0x07, 0x04, 0, 0, 0, 0, 0x01];
        let frame = eth(
            &[],
            0x0800,
            &ipv4(6, 0, &opts, &tcp(1234, 80, 5, 0, 0x02, 1024, &[], &[])),
        );
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(m.l3_offset, 14);
        assert_eq!(m.l4_offset, 14 + 28);
        assert_eq!(m.payload_offset, 14 + 28 + 20);
        assert_eq!(m.ip_len, 48);
        assert_eq!(
            (m.src_port, m.dst_port, m.tcp_flags, m.tcp_seq),
            (1234, 80, 0x02, 5)
        );
        // Ends inside the options: the transport header cannot be located.
        assert_eq!(
            parse_ethernet(&frame[..14 + 24]),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn icmp_echo() {
        let echo = icmp(8, 0, [0x00, 0x01, 0x00, 0x2a], &[0x61; 32]);
        let frame = eth(&[], 0x0800, &ipv4(1, 0, &[], &echo));
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(m.proto, 1);
        assert_eq!((m.icmp_type, m.icmp_code), (8, 0));
        assert_eq!((m.src_port, m.dst_port), (0, 0));
        assert_eq!(m.l4_offset, 34);
        assert_eq!(m.payload_offset, 34);
        assert_eq!(m.ip_len, 20 + 8 + 32);
        // Port unreachable reply.
        let unreach = icmp(3, 3, [0; 4], &[]);
        let m = parse_ethernet(&eth(&[], 0x0800, &ipv4(1, 0, &[], &unreach))).unwrap();
        assert_eq!((m.icmp_type, m.icmp_code), (3, 3));
    }

    #[test]
    fn non_first_fragment_has_no_ports() {
        // Offset 185 (1480 bytes), MF set; then the last fragment, MF clear.
        let body = [0xffu8; 40];
        let frame = eth(&[], 0x0800, &ipv4(17, 0x2000 | 185, &[], &body));
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(
            (m.frag_offset, m.more_fragments, m.first_fragment),
            (185, true, false)
        );
        assert_eq!(
            (m.proto, m.src_port, m.dst_port, m.ip_id),
            (17, 0, 0, 0x1234)
        );
        assert_eq!((m.l4_offset, m.payload_offset, m.ip_len), (34, 34, 60));
        assert_eq!(m.src_ip[..4], V4_SRC);
        let frame = eth(&[], 0x0800, &ipv4(6, 370, &[], &body));
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(
            (m.frag_offset, m.more_fragments, m.first_fragment),
            (370, false, false)
        );
        assert_eq!(
            (m.proto, m.src_port, m.tcp_flags, m.ip_id),
            (6, 0, 0, 0x1234)
        );
        // Unfragmented (DF): no id, no fragment fields.
        let m = parse_ethernet(&eth(&[], 0x0800, &ipv4(17, 0x4000, &[], &udp(1, 2, &[])))).unwrap();
        assert_eq!((m.ip_id, m.frag_offset, m.more_fragments), (0, 0, false));
    }

    #[test]
    fn first_fragment_keeps_ports() {
        let seg = tcp(5555, 443, 1, 2, 0x18, 512, &[], &[0; 100]);
        let frame = eth(&[], 0x0800, &ipv4(6, 0x2000, &[], &seg));
        let m = parse_ethernet(&frame).unwrap();
        assert!(m.first_fragment);
        assert_eq!(
            (m.more_fragments, m.frag_offset, m.ip_id),
            (true, 0, 0x1234)
        );
        assert_eq!((m.src_port, m.dst_port, m.tcp_flags), (5555, 443, 0x18));
        assert_eq!(m.payload_offset, 54);
        let udp_frag = eth(&[], 0x0800, &ipv4(17, 0x2000, &[], &udp(9, 10, &[0; 64])));
        let m = parse_ethernet(&udp_frag).unwrap();
        assert!(m.first_fragment);
        assert_eq!((m.src_port, m.dst_port), (9, 10));
    }

    #[test]
    fn bad_ihl() {
        for ihl in 0..5u8 {
            let mut p = ipv4(17, 0, &[], &udp(1, 2, &[]));
            p[0] = 0x40 | ihl;
            assert_eq!(
                parse_ethernet(&eth(&[], 0x0800, &p)),
                Err(ParseError::BadHeaderLen)
            );
        }
        // IHL 15 (60 bytes) in a 48-byte packet: the header does not fit the frame.
        let mut p = ipv4(17, 0, &[], &udp(1, 2, &[0; 20]));
        p[0] = 0x4f;
        p[2..4].copy_from_slice(&60u16.to_be_bytes());
        assert_eq!(
            parse_ethernet(&eth(&[], 0x0800, &p)),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn bad_version() {
        for v in [0u8, 5, 6, 15] {
            let mut p = ipv4(17, 0, &[], &udp(1, 2, &[]));
            p[0] = (v << 4) | 5;
            assert_eq!(
                parse_ethernet(&eth(&[], 0x0800, &p)),
                Err(ParseError::BadIpVersion)
            );
        }
        // The version is checked before the length: one byte is enough to reject.
        let frame = eth(&[], 0x0800, &[0x65]);
        assert_eq!(parse_ethernet(&frame), Err(ParseError::BadIpVersion));
    }

    #[test]
    fn bad_total_len() {
        let mut p = ipv4(17, 0, &[], &udp(1, 2, &[]));
        p[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            parse_ethernet(&eth(&[], 0x0800, &p)),
            Err(ParseError::BadTotalLen)
        );
        // Smaller than a header with options.
        let mut p = ipv4(17, 0, &[1, 1, 1, 1], &udp(1, 2, &[]));
        p[2..4].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(
            parse_ethernet(&eth(&[], 0x0800, &p)),
            Err(ParseError::BadTotalLen)
        );
        // Exactly the header: valid, and with the UDP bytes present the ports are still read.
        p[2..4].copy_from_slice(&24u16.to_be_bytes());
        let m = parse_ethernet(&eth(&[], 0x0800, &p)).unwrap();
        assert_eq!((m.ip_len, m.src_port, m.dst_port), (24, 1, 2));
    }

    #[test]
    fn padding_and_capture_truncation_are_accepted() {
        // 60-byte minimum frame: 14 + 20 + 8 + 18 bytes of padding.
        let mut frame = eth(&[], 0x0800, &ipv4(17, 0, &[], &udp(7, 8, &[])));
        frame.resize(60, 0);
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!((m.ip_len, m.payload_offset, m.src_port), (28, 42, 7));
        // Snaplen 64 on a 1500-byte packet.
        let big = eth(
            &[],
            0x0800,
            &ipv4(6, 0, &[], &tcp(1, 2, 3, 4, 0x10, 5, &[], &[0; 1446])),
        );
        let m = parse_ethernet(&big[..64]).unwrap();
        assert_eq!((m.ip_len, m.payload_offset, m.tcp_flags), (1486, 54, 0x10));
    }

    #[test]
    fn parse_ip_raw_ipv4() {
        let p = ipv4(17, 0, &[], &udp(123, 123, &[0; 48]));
        let m = parse_ip(&p).unwrap();
        assert_eq!(m.src_mac, [0; 6]);
        assert_eq!(m.dst_mac, [0; 6]);
        assert_eq!(m.vlan, 0);
        assert_eq!(m.ip_version, 4);
        assert_eq!(m.src_ip, v4_ip(V4_SRC));
        assert_eq!(m.dst_ip, v4_ip(V4_DST));
        assert_eq!((m.l3_offset, m.l4_offset, m.payload_offset), (0, 20, 28));
        assert_eq!(
            (m.proto, m.src_port, m.dst_port, m.ip_len),
            (17, 123, 123, 76)
        );
        assert_eq!(parse_ip(&p[..27]), Err(ParseError::Truncated));
    }
}
