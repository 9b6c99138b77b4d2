//! Link layers in front of the network header, selected by the pcap LINKTYPE, and the
//! ethertype-level encapsulations (MPLS, PPPoE) every Ethernet-like link can carry.

use super::{ethernet, fail, view, PacketMeta, ParseError, MAX_MPLS_LABELS};

/// Network header found behind the link layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum L3 {
    V4,
    V6,
    /// Raw-IP link types and MPLS: the version nibble decides.
    ByNibble,
}

pub(super) const LINKTYPE_NULL: u32 = 0;
pub(super) const LINKTYPE_ETHERNET: u32 = 1;
pub(super) const LINKTYPE_PPP: u32 = 9;
/// DLT_RAW on most BSDs.
pub(super) const LINKTYPE_RAW_BSD: u32 = 12;
/// DLT_RAW on OpenBSD.
pub(super) const LINKTYPE_RAW_OPENBSD: u32 = 14;
pub(super) const LINKTYPE_PPP_HDLC: u32 = 50;
pub(super) const LINKTYPE_RAW: u32 = 101;
pub(super) const LINKTYPE_C_HDLC: u32 = 104;
pub(super) const LINKTYPE_LOOP: u32 = 108;
pub(super) const LINKTYPE_LINUX_SLL: u32 = 113;
/// Per-Packet Information header in front of another link type.
pub(super) const LINKTYPE_PPI: u32 = 192;
pub(super) const LINKTYPE_IPV4: u32 = 228;
pub(super) const LINKTYPE_IPV6: u32 = 229;
pub(super) const LINKTYPE_LINUX_SLL2: u32 = 276;

const ETHERTYPE_MPLS_UC: u16 = 0x8847;
const ETHERTYPE_MPLS_MC: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// Parse the link header of `linktype`; return the network header kind and its offset.
#[inline]
pub(super) fn parse(
    linktype: u32,
    frame: &[u8],
    meta: &mut PacketMeta,
) -> Result<(L3, usize), ParseError> {
    match linktype {
        LINKTYPE_ETHERNET => {
            let (et, off) = ethernet::parse(frame, 0, meta)?;
            ethertype(frame, et, off)
        }
        LINKTYPE_RAW | LINKTYPE_RAW_BSD | LINKTYPE_RAW_OPENBSD => Ok((L3::ByNibble, 0)),
        LINKTYPE_IPV4 => Ok((L3::V4, 0)),
        LINKTYPE_IPV6 => Ok((L3::V6, 0)),
        LINKTYPE_LINUX_SLL => {
            // Packet type, ARPHRD, address length, 8 address bytes, protocol.
            let h: &[u8; 16] = view(frame, 0)?;
            if u16::from_be_bytes([h[4], h[5]]) == 6 {
                meta.src_mac.copy_from_slice(&h[6..12]);
            }
            sll_protocol(frame, u16::from_be_bytes([h[14], h[15]]), 16, meta)
        }
        LINKTYPE_LINUX_SLL2 => {
            // Protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 address bytes.
            let h: &[u8; 20] = view(frame, 0)?;
            if h[11] == 6 {
                meta.src_mac.copy_from_slice(&h[12..18]);
            }
            sll_protocol(frame, u16::from_be_bytes([h[0], h[1]]), 20, meta)
        }
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            // Address family in the writer's byte order (NULL) or network order (LOOP): the
            // families fit in one byte, so whichever end is non-zero names it.
            let h: &[u8; 4] = view(frame, 0)?;
            let le = u32::from_le_bytes(*h);
            let family = if le > 0xffff { le.swap_bytes() } else { le };
            match family {
                2 => Ok((L3::V4, 4)),
                // AF_INET6: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30.
                10 | 24 | 28 | 30 => Ok((L3::V6, 4)),
                _ => fail(ParseError::NotIp),
            }
        }
        LINKTYPE_PPP | LINKTYPE_PPP_HDLC if !matches!(frame.first(), Some(0x0f | 0x8f)) => {
            ppp(frame, 0)
        }
        // Cisco HDLC (address 0x0f unicast / 0x8f broadcast) also shows up under the PPP types.
        LINKTYPE_PPP | LINKTYPE_PPP_HDLC | LINKTYPE_C_HDLC => {
            // Address, control, ethertype.
            let h: &[u8; 4] = view(frame, 0)?;
            ethertype(frame, u16::from_be_bytes([h[2], h[3]]), 4)
        }
        LINKTYPE_PPI => {
            // Version, flags, header length and inner DLT (little endian); Ethernet only.
            let h: &[u8; 8] = view(frame, 0)?;
            let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
            if u32::from_le_bytes([h[4], h[5], h[6], h[7]]) != LINKTYPE_ETHERNET || len < 8 {
                return fail(ParseError::UnsupportedLinkType);
            }
            let (et, off) = ethernet::parse(frame, len, meta)?;
            ethertype(frame, et, off)
        }
        _ => fail(ParseError::UnsupportedLinkType),
    }
}

/// SLL protocol is an ethertype, possibly a VLAN TPID with the tags still in the payload.
fn sll_protocol(
    frame: &[u8],
    proto: u16,
    off: usize,
    meta: &mut PacketMeta,
) -> Result<(L3, usize), ParseError> {
    let (et, off) = ethernet::tags(frame, proto, off, meta)?;
    ethertype(frame, et, off)
}

/// Dispatch on the ethertype after the VLAN tags: IP, MPLS label stack, PPPoE session.
#[inline]
pub(super) fn ethertype(frame: &[u8], et: u16, off: usize) -> Result<(L3, usize), ParseError> {
    match et {
        ethernet::ETHERTYPE_IPV4 => Ok((L3::V4, off)),
        ethernet::ETHERTYPE_IPV6 => Ok((L3::V6, off)),
        ETHERTYPE_MPLS_UC | ETHERTYPE_MPLS_MC => mpls(frame, off),
        ETHERTYPE_PPPOE_SESSION => {
            // Version/type, code, session id, length, then the PPP protocol.
            let h: &[u8; 8] = view(frame, off)?;
            match u16::from_be_bytes([h[6], h[7]]) {
                PPP_IPV4 => Ok((L3::V4, off + 8)),
                PPP_IPV6 => Ok((L3::V6, off + 8)),
                _ => fail(ParseError::NotIp),
            }
        }
        _ => fail(ParseError::NotIp),
    }
}

/// Walk an MPLS label stack to its bottom; the payload is IP when its first nibble says so
/// (MPLS carries no payload type).
fn mpls(frame: &[u8], mut off: usize) -> Result<(L3, usize), ParseError> {
    for _ in 0..MAX_MPLS_LABELS {
        let label: &[u8; 4] = view(frame, off)?;
        off += 4;
        if label[2] & 0x01 != 0 {
            let first: &[u8; 1] = view(frame, off)?;
            return match first[0] >> 4 {
                4 => Ok((L3::V4, off)),
                6 => Ok((L3::V6, off)),
                _ => fail(ParseError::NotIp),
            };
        }
    }
    fail(ParseError::MplsDepth)
}

/// PPP frame at `off`: optional HDLC address/control (`ff 03`), then a 1- or 2-byte protocol
/// (protocol-field compression: an odd first byte is the whole protocol).
pub(super) fn ppp(frame: &[u8], mut off: usize) -> Result<(L3, usize), ParseError> {
    let h: &[u8; 2] = view(frame, off)?;
    if *h == [0xff, 0x03] {
        off += 2;
    }
    let p: &[u8; 1] = view(frame, off)?;
    let (proto, len) = if p[0] & 1 == 1 {
        (u16::from(p[0]), 1)
    } else {
        let p: &[u8; 2] = view(frame, off)?;
        (u16::from_be_bytes(*p), 2)
    };
    match proto {
        PPP_IPV4 => Ok((L3::V4, off + len)),
        PPP_IPV6 => Ok((L3::V6, off + len)),
        _ => fail(ParseError::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{parse_frame, ParseError, MAX_MPLS_LABELS};

    fn v4_udp() -> Vec<u8> {
        ipv4(17, 0, &[], &udp(1234, 53, &[0; 12]))
    }

    fn v6_tcp() -> Vec<u8> {
        ipv6(6, &tcp(40000, 443, 1, 2, 0x10, 100, &[], &[]))
    }

    fn check_v4(lt: u32, frame: &[u8], l3: u16) {
        let m = parse_frame(lt, frame, false).unwrap();
        assert_eq!((m.ip_version, m.proto, m.l3_offset), (4, 17, l3), "lt {lt}");
        assert_eq!(m.src_ip[..4], V4_SRC);
        assert_eq!((m.src_port, m.dst_port, m.dns), (1234, 53, true));
    }

    fn check_v6(lt: u32, frame: &[u8], l3: u16) {
        let m = parse_frame(lt, frame, false).unwrap();
        assert_eq!((m.ip_version, m.proto, m.l3_offset), (6, 6, l3), "lt {lt}");
        assert_eq!((m.src_ip, m.src_port, m.dst_port), (V6_SRC, 40000, 443));
    }

    #[test]
    fn raw_ip_link_types() {
        for lt in [101, 12, 14] {
            check_v4(lt, &v4_udp(), 0);
            check_v6(lt, &v6_tcp(), 0);
        }
        check_v4(228, &v4_udp(), 0);
        check_v6(229, &v6_tcp(), 0);
        // The IPv4-only link type does not take an IPv6 packet.
        assert_eq!(
            parse_frame(228, &v6_tcp(), false),
            Err(ParseError::BadIpVersion)
        );
        assert_eq!(
            parse_frame(229, &v4_udp(), false),
            Err(ParseError::BadIpVersion)
        );
    }

    #[test]
    fn bsd_null_and_loop_either_byte_order() {
        for (lt, fam) in [
            (0u32, 2u32.to_le_bytes()),
            (0, 2u32.to_be_bytes()),
            (108, 2u32.to_be_bytes()),
        ] {
            check_v4(lt, &cat(&[&fam, &v4_udp()]), 4);
        }
        for fam in [10u32, 24, 28, 30] {
            check_v6(0, &cat(&[&fam.to_le_bytes(), &v6_tcp()]), 4);
            check_v6(108, &cat(&[&fam.to_be_bytes(), &v6_tcp()]), 4);
        }
        // AF_APPLETALK etc.
        assert_eq!(
            parse_frame(0, &cat(&[&[16, 0, 0, 0], &v4_udp()]), false),
            Err(ParseError::NotIp)
        );
        assert_eq!(
            parse_frame(0, &[2, 0, 0], false),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn linux_sll_and_sll2() {
        let mut sll = vec![0, 0, 0, 1, 0, 6];
        sll.extend_from_slice(&SRC_MAC);
        sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
        let frame = cat(&[&sll, &v4_udp()]);
        check_v4(113, &frame, 16);
        assert_eq!(parse_frame(113, &frame, false).unwrap().src_mac, SRC_MAC);
        // A VLAN-tagged protocol keeps its tag in the payload.
        let mut tagged = sll.clone();
        tagged[14..16].copy_from_slice(&[0x81, 0x00]);
        let frame = cat(&[&tagged, &[0x00, 0x2a, 0x86, 0xdd], &v6_tcp()]);
        check_v6(113, &frame, 20);
        assert_eq!(parse_frame(113, &frame, false).unwrap().vlan, 42);

        let mut sll2 = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6];
        sll2.extend_from_slice(&SRC_MAC);
        sll2.extend_from_slice(&[0, 0]);
        let frame = cat(&[&sll2, &v6_tcp()]);
        check_v6(276, &frame, 20);
        assert_eq!(parse_frame(276, &frame, false).unwrap().src_mac, SRC_MAC);
        assert_eq!(
            parse_frame(276, &frame[..19], false),
            Err(ParseError::Truncated)
        );
        // ARP behind SLL.
        sll2[0..2].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(
            parse_frame(276, &cat(&[&sll2, &[0; 28]]), false),
            Err(ParseError::NotIp)
        );
    }

    #[test]
    fn ppp_hdlc_and_cisco_hdlc() {
        check_v4(9, &cat(&[&[0x00, 0x21], &v4_udp()]), 2);
        check_v4(9, &cat(&[&[0xff, 0x03, 0x00, 0x21], &v4_udp()]), 4);
        check_v6(50, &cat(&[&[0xff, 0x03, 0x00, 0x57], &v6_tcp()]), 4);
        // Protocol field compression.
        check_v4(9, &cat(&[&[0x21], &v4_udp()]), 1);
        // LCP.
        assert_eq!(
            parse_frame(9, &[0xc0, 0x21, 1, 1, 0, 4], false),
            Err(ParseError::NotIp)
        );
        // Cisco HDLC framing under the PPP link type, and as its own link type.
        check_v4(9, &cat(&[&[0x0f, 0x00, 0x08, 0x00], &v4_udp()]), 4);
        check_v6(104, &cat(&[&[0x8f, 0x00, 0x86, 0xdd], &v6_tcp()]), 4);
    }

    #[test]
    fn unknown_link_type() {
        for lt in [2u32, 105, 127, 147, 1000] {
            assert_eq!(
                parse_frame(lt, &v4_udp(), false),
                Err(ParseError::UnsupportedLinkType)
            );
        }
    }

    #[test]
    fn mpls_stack_guesses_ip_version() {
        let label = |bottom: bool| [0x00, 0x01, 0x40 | u8::from(bottom), 0x40];
        let frame = eth(&[], 0x8847, &cat(&[&label(false), &label(true), &v4_udp()]));
        check_v4(1, &frame, 22);
        let frame = eth(&[(0x8100, 9)], 0x8848, &cat(&[&label(true), &v6_tcp()]));
        check_v6(1, &frame, 22);
        assert_eq!(parse_frame(1, &frame, false).unwrap().vlan, 9);
        // Pseudowire with a control word (first nibble 0): not IP.
        let frame = eth(&[], 0x8847, &cat(&[&label(true), &[0; 4], &v4_udp()]));
        assert_eq!(parse_frame(1, &frame, false), Err(ParseError::NotIp));
        // Bottom of stack never reached.
        let deep: Vec<u8> = (0..MAX_MPLS_LABELS).flat_map(|_| label(false)).collect();
        let frame = eth(&[], 0x8847, &cat(&[&deep, &label(true), &v4_udp()]));
        assert_eq!(parse_frame(1, &frame, false), Err(ParseError::MplsDepth));
        let ok: Vec<u8> = (0..MAX_MPLS_LABELS - 1)
            .flat_map(|_| label(false))
            .collect();
        let frame = eth(&[], 0x8847, &cat(&[&ok, &label(true), &v4_udp()]));
        check_v4(1, &frame, 14 + 4 * MAX_MPLS_LABELS as u16);
        // Cut inside the stack.
        assert_eq!(
            parse_frame(1, &frame[..20], false),
            Err(ParseError::Truncated)
        );
    }

    #[test]
    fn pppoe_session() {
        let hdr = |proto: u16| {
            let mut h = vec![0x11, 0x00, 0x12, 0x34, 0x00, 0x40];
            h.extend_from_slice(&proto.to_be_bytes());
            h
        };
        check_v4(1, &eth(&[], 0x8864, &cat(&[&hdr(0x0021), &v4_udp()])), 22);
        check_v6(
            1,
            &eth(&[(0x8100, 3)], 0x8864, &cat(&[&hdr(0x0057), &v6_tcp()])),
            26,
        );
        let lcp = eth(&[], 0x8864, &cat(&[&hdr(0xc021), &[0; 20]]));
        assert_eq!(parse_frame(1, &lcp, false), Err(ParseError::NotIp));
        // PPPoE discovery.
        assert_eq!(
            parse_frame(1, &eth(&[], 0x8863, &[0; 30]), false),
            Err(ParseError::NotIp)
        );
        let cut = eth(&[], 0x8864, &hdr(0x0021)[..7]);
        assert_eq!(parse_frame(1, &cut, false), Err(ParseError::Truncated));
    }
}
