//! Any bytes, under any supported link type, with and without decapsulation: the parser must
//! return, never panic, every accepted frame must satisfy the offset invariants, and the fast
//! path for common shapes must agree with the layered parser, also into a reused slot that held
//! something else (as the worker's are).
#![no_main]

use flowprobe::parse::{parse_frame, parse_frame_into, parse_frame_reference, Tunnel, DIRTY_SLOT};
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
        let mut slot = DIRTY_SLOT;
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
