//! Any bytes, under any supported link type, with and without decapsulation: the parser must
//! return, never panic, every accepted frame must satisfy the offset invariants, and the fast
//! path for common shapes must agree with the layered parser, also into a reused slot that held
//! something else (as the worker's are).
#![no_main]

use flowprobe::parse::{parse_frame, parse_frame_into, parse_frame_reference, PacketMeta, Tunnel};
use libfuzzer_sys::fuzz_target;

/// The first input byte picks one; unknown link types are exercised by the last entry.
const LINKTYPES: [u32; 16] = [
    1, 113, 276, 101, 12, 14, 228, 229, 0, 108, 9, 50, 104, 192, 1, 147,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let lt = LINKTYPES[usize::from(sel) % LINKTYPES.len()];
    for decap in [false, true] {
        let r = parse_frame(lt, frame, decap);
        assert_eq!(r, parse_frame_reference(lt, frame, decap));
        let mut slot = GARBAGE;
        let reused = parse_frame_into(lt, frame, decap, &mut slot).map(|()| slot);
        assert_eq!(r, reused);
        if let Ok(m) = r {
            assert!(m.l3_offset <= m.l4_offset && m.l4_offset <= m.payload_offset);
            assert!(usize::from(m.payload_offset) <= frame.len());
            assert!(m.ip_version == 4 || m.ip_version == 6);
            assert!(m.vlan <= 0x0fff);
            if !matches!(m.proto, 6 | 17) || m.frag_offset != 0 {
                assert_eq!((m.src_port, m.dst_port), (0, 0));
            }
            if !decap {
                assert_eq!(m.tunnel, Tunnel::None);
            }
        }
    }
});

/// Every field non-zero: what a reused slot may hold.
const GARBAGE: PacketMeta = PacketMeta {
    dst_mac: [0xee; 6],
    src_mac: [0xee; 6],
    vlan: 0xfff,
    ip_len: 0xeeee,
    l3_offset: 0xeeee,
    l4_offset: 0xeeee,
    payload_offset: 0xeeee,
    ip_version: 9,
    proto: 0xee,
    ttl: 0xee,
    dscp: 0xee,
    src_ip: [0xee; 16],
    dst_ip: [0xee; 16],
    src_port: 0xeeee,
    dst_port: 0xeeee,
    tcp_window: 0xeeee,
    tcp_seq: 0xeeee_eeee,
    tcp_ack: 0xeeee_eeee,
    tcp_flags: 0xee,
    icmp_type: 0xee,
    icmp_code: 0xee,
    dns: true,
    dns_id: 0xeeee,
    dns_flags: 0xeeee,
    tcp_mss: 0xeeee,
    frag_offset: 0xeeee,
    ip_id: 0xeeee_eeee,
    tunnel_id: 0xeeee_eeee,
    icmp_inner_src_port: 0xeeee,
    icmp_inner_dst_port: 0xeeee,
    outer_src_ip: [0xee; 16],
    outer_dst_ip: [0xee; 16],
    icmp_inner_src_ip: [0xee; 16],
    icmp_inner_dst_ip: [0xee; 16],
    first_fragment: true,
    more_fragments: true,
    tunnel: Tunnel::Tzsp,
    outer_ip_version: 0xee,
    icmp_inner_proto: 0xee,
    tcp_wscale: Some(0xee),
};
