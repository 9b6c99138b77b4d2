//! Ethernet II header and the VLAN tag stack in front of the IP header.

use super::{fail, view, PacketMeta, ParseError, MAX_VLAN_TAGS};

pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q customer tag.
pub(super) const TPID_8021Q: u16 = 0x8100;
/// 802.1ad service tag (QinQ outer).
const TPID_8021AD: u16 = 0x88a8;
/// Pre-standard QinQ outer tag still emitted by some switches.
const TPID_QINQ_LEGACY: u16 = 0x9100;

const ETH_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const VID_MASK: u16 = 0x0fff;

/// Fill the MACs and outermost VID of the Ethernet header at `at`; return the ethertype after
/// the tags and the L3 offset.
#[inline]
pub(super) fn parse(
    frame: &[u8],
    at: usize,
    meta: &mut PacketMeta,
) -> Result<(u16, usize), ParseError> {
    let hdr: &[u8; ETH_HEADER_LEN] = view(frame, at)?;
    meta.dst_mac.copy_from_slice(&hdr[0..6]);
    meta.src_mac.copy_from_slice(&hdr[6..12]);
    tags(
        frame,
        u16::from_be_bytes([hdr[12], hdr[13]]),
        at + ETH_HEADER_LEN,
        meta,
    )
}

/// Walk the VLAN tags that start at `off` when `ethertype` is a TPID (also used behind Linux
/// SLL, whose protocol field may be a TPID); the outermost VID goes to `meta.vlan`.
#[inline]
pub(super) fn tags(
    frame: &[u8],
    mut ethertype: u16,
    mut off: usize,
    meta: &mut PacketMeta,
) -> Result<(u16, usize), ParseError> {
    let mut tags = 0;
    while is_tpid(ethertype) {
        if tags == MAX_VLAN_TAGS {
            return fail(ParseError::VlanDepth);
        }
        // Tag control information, then the next ethertype (or TPID).
        let tag: &[u8; VLAN_TAG_LEN] = view(frame, off)?;
        if tags == 0 {
            meta.vlan = u16::from_be_bytes([tag[0], tag[1]]) & VID_MASK;
        }
        ethertype = u16::from_be_bytes([tag[2], tag[3]]);
        off += VLAN_TAG_LEN;
        tags += 1;
    }
    Ok((ethertype, off))
}

/// A VLAN tag follows.
#[inline(always)]
pub(super) fn is_tpid(ethertype: u16) -> bool {
    matches!(ethertype, TPID_8021Q | TPID_8021AD | TPID_QINQ_LEGACY)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{parse_ethernet, ParseError, MAX_VLAN_TAGS};

    fn udp_v4() -> Vec<u8> {
        ipv4(17, 0, &[], &udp(5353, 53, b"q"))
    }

    #[test]
    fn untagged_reports_vlan_zero_and_macs() {
        let frame = eth(&[], 0x0800, &udp_v4());
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(m.vlan, 0);
        assert_eq!(m.dst_mac, DST_MAC);
        assert_eq!(m.src_mac, SRC_MAC);
        assert_eq!(m.l3_offset, 14);
        assert_eq!(m.l4_offset, 34);
        assert_eq!((m.src_port, m.dst_port), (5353, 53));
    }

    #[test]
    fn single_8021q_tag() {
        // PCP 5, DEI 1 must not leak into the VID.
        let frame = eth(&[(0x8100, 0xb000 | 42)], 0x0800, &udp_v4());
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(m.vlan, 42);
        assert_eq!(m.l3_offset, 18);
        assert_eq!(m.l4_offset, 38);
        assert_eq!(m.payload_offset, 46);
    }

    #[test]
    fn qinq_reports_outer_vid() {
        let frame = eth(&[(0x88a8, 100), (0x8100, 200)], 0x0800, &udp_v4());
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(m.vlan, 100);
        assert_eq!(m.l3_offset, 22);
        assert_eq!(m.ip_version, 4);
        assert_eq!(m.proto, 17);
        assert_eq!((m.src_port, m.dst_port), (5353, 53));
    }

    #[test]
    fn legacy_9100_outer_tag() {
        let frame = eth(
            &[(0x9100, 0xfff), (0x8100, 7)],
            0x86dd,
            &ipv6(17, &udp(1, 2, &[])),
        );
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(m.vlan, 0xfff);
        assert_eq!(m.l3_offset, 22);
        assert_eq!(m.ip_version, 6);
        assert_eq!((m.src_port, m.dst_port), (1, 2));
    }

    #[test]
    fn max_tags_ok_one_more_is_vlan_depth() {
        let tags: Vec<(u16, u16)> = (0..MAX_VLAN_TAGS as u16)
            .map(|i| (0x8100, 10 + i))
            .collect();
        let frame = eth(&tags, 0x0800, &udp_v4());
        let m = parse_ethernet(&frame).unwrap();
        assert_eq!(m.vlan, 10);
        assert_eq!(m.l3_offset, 14 + 4 * MAX_VLAN_TAGS as u16);

        let mut deeper = tags.clone();
        deeper.push((0x88a8, 99));
        let frame = eth(&deeper, 0x0800, &udp_v4());
        assert_eq!(parse_ethernet(&frame), Err(ParseError::VlanDepth));
    }

    #[test]
    fn arp_and_other_ethertypes_are_not_ip() {
        let arp = eth(&[], 0x0806, &[0u8; 28]);
        assert_eq!(parse_ethernet(&arp), Err(ParseError::NotIp));
        let tagged_lldp = eth(&[(0x8100, 5)], 0x88cc, &[0u8; 40]);
        assert_eq!(parse_ethernet(&tagged_lldp), Err(ParseError::NotIp));
        // 802.3 length field, LLC follows.
        let llc = eth(&[], 0x0026, &[0x42u8; 46]);
        assert_eq!(parse_ethernet(&llc), Err(ParseError::NotIp));
    }

    #[test]
    fn short_frames_are_truncated() {
        let frame = eth(&[(0x8100, 5)], 0x0806, &[]);
        assert_eq!(frame.len(), 18);
        for n in 0..14 {
            assert_eq!(
                parse_ethernet(&frame[..n]),
                Err(ParseError::Truncated),
                "len {n}"
            );
        }
        // Ends inside the tag.
        for n in 14..18 {
            assert_eq!(
                parse_ethernet(&frame[..n]),
                Err(ParseError::Truncated),
                "len {n}"
            );
        }
        assert_eq!(parse_ethernet(&frame), Err(ParseError::NotIp));
    }
}
