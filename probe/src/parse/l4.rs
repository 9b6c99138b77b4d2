//! Transport header at `l4_offset`, shared by IPv4 and IPv6.
//!
//! Ports are filled for TCP and UDP only, because flow keys use ports only for those. SCTP and
//! every other protocol get ports 0 and `payload_offset == l4_offset`.

use super::{fail, view, PacketMeta, ParseError};

pub(super) const ICMP: u8 = 1;
pub(super) const TCP: u8 = 6;
pub(super) const UDP: u8 = 17;
pub(super) const ICMPV6: u8 = 58;

const TCP_MIN_HEADER_LEN: usize = 20;
const TCP_SYN: u8 = 0x02;
const TCP_OPT_END: u8 = 0;
const TCP_OPT_NOP: u8 = 1;
const TCP_OPT_MSS: u8 = 2;
const TCP_OPT_WSCALE: u8 = 3;
pub(super) const DNS_PORT: u16 = 53;
const ICMP_HEADER_LEN: usize = 8;
const DNS_HEADER_LEN: usize = 12;
const UDP_HEADER_LEN: usize = 8;

/// Fill `proto`, the offsets and the transport fields for the header at `l4`.
#[inline]
pub(super) fn parse(
    frame: &[u8],
    l4: usize,
    proto: u8,
    meta: &mut PacketMeta,
) -> Result<(), ParseError> {
    meta.proto = proto;
    meta.l4_offset = l4 as u16;
    let payload = match proto {
        TCP => {
            let hdr: &[u8; TCP_MIN_HEADER_LEN] = view(frame, l4)?;
            let header_len = usize::from(hdr[12] >> 4) * 4;
            if header_len < TCP_MIN_HEADER_LEN {
                return fail(ParseError::BadHeaderLen);
            }
            // Options are not read, but payload_offset must point inside the frame.
            if frame.len() < l4 + header_len {
                return fail(ParseError::Truncated);
            }
            meta.src_port = u16::from_be_bytes([hdr[0], hdr[1]]);
            meta.dst_port = u16::from_be_bytes([hdr[2], hdr[3]]);
            meta.tcp_seq = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
            meta.tcp_flags = hdr[13];
            if hdr[13] & TCP_SYN != 0 && header_len > TCP_MIN_HEADER_LEN {
                (meta.tcp_mss, meta.tcp_wscale) =
                    tcp_options(&frame[l4 + TCP_MIN_HEADER_LEN..l4 + header_len]);
            }
            l4 + header_len
        }
        UDP => {
            let hdr: &[u8; UDP_HEADER_LEN] = view(frame, l4)?;
            meta.src_port = u16::from_be_bytes([hdr[0], hdr[1]]);
            meta.dst_port = u16::from_be_bytes([hdr[2], hdr[3]]);
            if meta.src_port == DNS_PORT || meta.dst_port == DNS_PORT {
                if let Ok(dns) = view::<4>(frame, l4 + UDP_HEADER_LEN) {
                    // Only when the whole 12-byte header was captured, so a cut datagram is
                    // not mistaken for a DNS message.
                    if frame.len() >= l4 + UDP_HEADER_LEN + DNS_HEADER_LEN {
                        meta.dns = true;
                        meta.dns_id = u16::from_be_bytes([dns[0], dns[1]]);
                        meta.dns_flags = u16::from_be_bytes([dns[2], dns[3]]);
                    }
                }
            }
            l4 + UDP_HEADER_LEN
        }
        // The type/code pair is what a flow keys on; the rest of the message is payload.
        ICMP | ICMPV6 => {
            let hdr: &[u8; 2] = view(frame, l4)?;
            meta.icmp_type = hdr[0];
            meta.icmp_code = hdr[1];
            if icmp_error(proto, hdr[0]) {
                icmp_quote(frame, l4 + ICMP_HEADER_LEN, proto == ICMP, meta);
            }
            l4
        }
        _ => l4,
    };
    meta.payload_offset = payload as u16;
    Ok(())
}

/// ICMP (`proto` 1) types 3, 4, 5, 11, 12 and ICMPv6 types 1-4: errors, which quote the header
/// of the packet that caused them.
#[inline(always)]
pub(super) fn icmp_error(proto: u8, icmp_type: u8) -> bool {
    match proto {
        ICMP => matches!(icmp_type, 3 | 4 | 5 | 11 | 12),
        _ => matches!(icmp_type, 1..=4),
    }
}

/// A non-first fragment: the protocol is known, the transport header is in another fragment.
#[inline]
pub(super) fn fragment(l4: usize, proto: u8, meta: &mut PacketMeta) -> Result<(), ParseError> {
    meta.proto = proto;
    meta.l4_offset = l4 as u16;
    meta.payload_offset = l4 as u16;
    Ok(())
}

/// The quoted header of an ICMP error at `off`: best effort, since the quote is often cut (RFC
/// 792 only promises 8 bytes past the IP header) and a missing quote does not make the ICMP
/// packet itself unattributable. Only the fixed IPv6 header is read (no extension walk).
fn icmp_quote(frame: &[u8], off: usize, v4: bool, meta: &mut PacketMeta) {
    let (proto, l4) = if v4 {
        let Ok(ip) = view::<20>(frame, off) else {
            return;
        };
        if ip[0] >> 4 != 4 || ip[0] & 0x0f < 5 {
            return;
        }
        meta.icmp_inner_src_ip[..4].copy_from_slice(&ip[12..16]);
        meta.icmp_inner_dst_ip[..4].copy_from_slice(&ip[16..20]);
        // A quoted non-first fragment has no ports.
        let frag_offset = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
        let l4 = off + usize::from(ip[0] & 0x0f) * 4;
        (ip[9], (frag_offset == 0).then_some(l4))
    } else {
        let Ok(ip) = view::<40>(frame, off) else {
            return;
        };
        if ip[0] >> 4 != 6 {
            return;
        }
        meta.icmp_inner_src_ip.copy_from_slice(&ip[8..24]);
        meta.icmp_inner_dst_ip.copy_from_slice(&ip[24..40]);
        (ip[6], Some(off + 40))
    };
    meta.icmp_inner_proto = proto;
    if let (TCP | UDP, Some(l4)) = (proto, l4) {
        if let Ok(ports) = view::<4>(frame, l4) {
            meta.icmp_inner_src_port = u16::from_be_bytes([ports[0], ports[1]]);
            meta.icmp_inner_dst_port = u16::from_be_bytes([ports[2], ports[3]]);
        }
    }
}

/// MSS and window scale from the options of a SYN (the only segment that may carry them). The
/// walk is bounded by the 40 option bytes; a malformed option ends it without error, since the
/// segment itself is still attributable.
pub(super) fn tcp_options(opts: &[u8]) -> (u16, Option<u8>) {
    let (mut mss, mut wscale) = (0, None);
    let mut i = 0;
    // A lone last byte can only be END or NOP: nothing to read there.
    while let Some(&[kind, len]) = opts.get(i..i + 2) {
        match kind {
            TCP_OPT_END => break,
            TCP_OPT_NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(len);
        if len < 2 || len > opts.len() - i {
            break;
        }
        match (kind, opts.get(i + 2..i + len)) {
            (TCP_OPT_MSS, Some(&[a, b])) => mss = u16::from_be_bytes([a, b]),
            (TCP_OPT_WSCALE, Some(&[s])) => wscale = Some(s),
            _ => {}
        }
        i += len;
    }
    (mss, wscale)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{PacketMeta, ParseError};
    use super::parse;

    fn run(seg: &[u8], proto: u8) -> Result<PacketMeta, ParseError> {
        // Put the segment behind 10 bytes of filler to check offsets are frame-relative.
        let mut frame = vec![0xee; 10];
        frame.extend_from_slice(seg);
        let mut m = PacketMeta::default();
        parse(&frame, 10, proto, &mut m).map(|()| m)
    }

    #[test]
    fn tcp_with_options() {
        let opts = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]; // NOP NOP timestamps
        let m = run(&tcp(80, 61000, 7, 8, 0x11, 300, &opts, b"data"), 6).unwrap();
        assert_eq!((m.proto, m.src_port, m.dst_port), (6, 80, 61000));
        assert_eq!((m.tcp_seq, m.tcp_flags), (7, 0x11));
        assert_eq!((m.l4_offset, m.payload_offset), (10, 10 + 32));
    }

    #[test]
    fn syn_options_mss_and_wscale() {
        // MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
        let opts = [
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let m = run(&tcp(1, 2, 3, 0, 0x02, 5, &opts, &[]), 6).unwrap();
        assert_eq!((m.tcp_mss, m.tcp_wscale), (1460, Some(7)));
        // Not a SYN: options ignored.
        let m = run(&tcp(1, 2, 3, 0, 0x10, 5, &opts, &[]), 6).unwrap();
        assert_eq!((m.tcp_mss, m.tcp_wscale), (0, None));
        // Malformed lengths (0, past the end) stop the walk without an error.
        for bad in [[2, 0, 5, 0xb4], [3, 9, 7, 0], [3, 1, 7, 0], [1, 1, 1, 2]] {
            let m = run(&tcp(1, 2, 3, 0, 0x12, 5, &bad, &[]), 6).unwrap();
            assert_eq!((m.tcp_mss, m.tcp_wscale), (0, None), "{bad:?}");
        }
        // End of list stops before a later MSS.
        let m = run(
            &tcp(1, 2, 3, 0, 0x02, 5, &[0, 2, 4, 5, 0xb4, 0, 0, 0], &[]),
            6,
        )
        .unwrap();
        assert_eq!(m.tcp_mss, 0);
    }

    #[test]
    fn icmp_errors_quote_the_offending_header() {
        // Port unreachable quoting UDP 5353 -> 9999 from 192.168.1.2 to 10.0.0.1.
        let mut quote = ipv4(17, 0, &[], &udp(5353, 9999, &[]));
        quote[12..20].copy_from_slice(&[192, 168, 1, 2, 10, 0, 0, 1]);
        let m = run(&icmp(3, 3, [0; 4], &quote), 1).unwrap();
        assert_eq!((m.icmp_type, m.icmp_code, m.payload_offset), (3, 3, 10));
        assert_eq!(m.icmp_inner_proto, 17);
        assert_eq!(m.icmp_inner_src_ip[..4], [192, 168, 1, 2]);
        assert_eq!(m.icmp_inner_dst_ip[..4], [10, 0, 0, 1]);
        assert_eq!((m.icmp_inner_src_port, m.icmp_inner_dst_port), (5353, 9999));
        // Quote cut after the IP header: addresses only.
        let m = run(&icmp(11, 0, [0; 4], &quote[..22]), 1).unwrap();
        assert_eq!((m.icmp_inner_proto, m.icmp_inner_src_port), (17, 0));
        assert_eq!(m.icmp_inner_src_ip[..4], [192, 168, 1, 2]);
        // Quote cut inside the IP header, or not IP: nothing, and still Ok.
        let m = run(&icmp(3, 1, [0; 4], &quote[..19]), 1).unwrap();
        assert_eq!((m.icmp_inner_proto, m.icmp_inner_src_ip), (0, [0; 16]));
        // Echo reply is not an error: its body is not read.
        let m = run(&icmp(0, 0, [0; 4], &quote), 1).unwrap();
        assert_eq!(m.icmp_inner_proto, 0);
        // ICMPv6 packet too big quoting TCP 443 -> 50000.
        let q6 = ipv6(6, &tcp(443, 50000, 1, 2, 0x10, 5, &[], &[]));
        let m = run(&icmp(2, 0, [0, 0, 5, 0], &q6), 58).unwrap();
        assert_eq!(m.icmp_inner_proto, 6);
        assert_eq!((m.icmp_inner_src_ip, m.icmp_inner_dst_ip), (V6_SRC, V6_DST));
        assert_eq!((m.icmp_inner_src_port, m.icmp_inner_dst_port), (443, 50000));
        // ICMPv6 echo request (128) is not an error.
        assert_eq!(
            run(&icmp(128, 0, [0; 4], &q6), 58)
                .unwrap()
                .icmp_inner_proto,
            0
        );
    }

    #[test]
    fn dns_header() {
        let q = [0xab, 0xcd, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'];
        let m = run(&udp(40000, 53, &q), 17).unwrap();
        assert_eq!((m.dns, m.dns_id, m.dns_flags), (true, 0xabcd, 0x0120));
        let m = run(&udp(53, 40000, &q[..12]), 17).unwrap();
        assert_eq!((m.dns, m.dns_id), (true, 0xabcd));
        // 11 bytes captured: not enough for the header.
        let m = run(&udp(53, 40000, &q[..11]), 17).unwrap();
        assert_eq!((m.dns, m.dns_id, m.dns_flags), (false, 0, 0));
        let m = run(&udp(5353, 5353, &q), 17).unwrap();
        assert!(!m.dns);
    }

    #[test]
    fn tcp_data_offset_below_five() {
        for doff in 0..5u8 {
            let mut seg = tcp(1, 2, 3, 4, 0x02, 5, &[], &[0; 8]);
            seg[12] = doff << 4;
            assert_eq!(run(&seg, 6), Err(ParseError::BadHeaderLen), "doff {doff}");
        }
    }

    #[test]
    fn tcp_truncation() {
        let seg = tcp(1, 2, 3, 4, 0x02, 5, &[2, 4, 5, 0xb4], &[]);
        for n in 0..20 {
            assert_eq!(run(&seg[..n], 6), Err(ParseError::Truncated), "len {n}");
        }
        // Fixed header present, options cut.
        for n in 20..24 {
            assert_eq!(run(&seg[..n], 6), Err(ParseError::Truncated), "len {n}");
        }
        assert_eq!(run(&seg, 6).unwrap().payload_offset, 34);
    }

    #[test]
    fn udp_truncation() {
        let dgram = udp(67, 68, &[]);
        for n in 0..8 {
            assert_eq!(run(&dgram[..n], 17), Err(ParseError::Truncated), "len {n}");
        }
        let m = run(&dgram, 17).unwrap();
        assert_eq!((m.src_port, m.dst_port, m.payload_offset), (67, 68, 18));
    }

    #[test]
    fn icmp_needs_type_and_code() {
        assert_eq!(run(&[], 1), Err(ParseError::Truncated));
        assert_eq!(run(&[11], 58), Err(ParseError::Truncated));
        let m = run(&[11, 1], 1).unwrap();
        assert_eq!((m.icmp_type, m.icmp_code, m.payload_offset), (11, 1, 10));
    }

    #[test]
    fn sctp_and_others_have_no_ports() {
        // SCTP common header: ports 2905 -> 2905, vtag, checksum.
        let sctp = [0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 1, 0, 0, 0, 0];
        let m = run(&sctp, 132).unwrap();
        assert_eq!((m.proto, m.src_port, m.dst_port), (132, 0, 0));
        assert_eq!((m.l4_offset, m.payload_offset), (10, 10));
        // GRE and ESP, even with no bytes after the IP header.
        for proto in [47u8, 50, 89] {
            let m = run(&[], proto).unwrap();
            assert_eq!(
                (m.proto, m.src_port, m.tcp_flags, m.icmp_type),
                (proto, 0, 0, 0)
            );
            assert_eq!((m.l4_offset, m.payload_offset), (10, 10));
        }
    }
}
