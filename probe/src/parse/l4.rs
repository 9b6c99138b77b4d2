//! Transport header at `l4_offset`, shared by IPv4 and IPv6.
//!
//! Ports are filled for TCP and UDP only, because flow keys use ports only for those. SCTP and
//! every other protocol get ports 0 and `payload_offset == l4_offset`.

use super::{fail, view, PacketMeta, ParseError};

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMPV6: u8 = 58;

const TCP_MIN_HEADER_LEN: usize = 20;
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
            meta.tcp_ack = u32::from_be_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]);
            meta.tcp_flags = hdr[13];
            meta.tcp_window = u16::from_be_bytes([hdr[14], hdr[15]]);
            l4 + header_len
        }
        UDP => {
            let hdr: &[u8; UDP_HEADER_LEN] = view(frame, l4)?;
            meta.src_port = u16::from_be_bytes([hdr[0], hdr[1]]);
            meta.dst_port = u16::from_be_bytes([hdr[2], hdr[3]]);
            l4 + UDP_HEADER_LEN
        }
        // The type/code pair is what a flow keys on; the rest of the message is payload.
        ICMP | ICMPV6 => {
            let hdr: &[u8; 2] = view(frame, l4)?;
            meta.icmp_type = hdr[0];
            meta.icmp_code = hdr[1];
            l4
        }
        _ => l4,
    };
    meta.payload_offset = payload as u16;
    Ok(())
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
        assert_eq!(
            (m.tcp_seq, m.tcp_ack, m.tcp_flags, m.tcp_window),
            (7, 8, 0x11, 300)
        );
        assert_eq!((m.l4_offset, m.payload_offset), (10, 10 + 32));
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
