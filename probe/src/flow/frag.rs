//! Bounded IP fragment table: remembers the ports of first fragments so the non-first fragments
//! of the same datagram (no transport header) can be attributed to their flow.
//!
//! Pure and fixed-size: a set-associative array (4 ways per set) allocated once; lookups and
//! inserts touch one set, O(1), no allocation. Entries expire `timeout` after the first fragment
//! (capture time, default 30 s: Linux's `ipfrag_time`); an expired way is reused. A set whose
//! four ways are all live is full: the insert is refused and counted by the caller, and the
//! datagram's other fragments end up unmatched (`fragment`).

use crate::parse::PacketMeta;

/// Default entry lifetime: Linux `net.ipv4.ipfrag_time` (30 s).
pub const DEFAULT_FRAG_TIMEOUT_NS: u64 = 30_000_000_000;
/// Default capacity: datagrams in reassembly at once per worker.
pub const DEFAULT_FRAG_CAPACITY: usize = 4096;
const WAYS: usize = 4;

/// The datagram identity of RFC 791 / RFC 8200 plus the IP version.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct FragKey {
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    version: u8,
    proto: u8,
}

impl FragKey {
    fn of(m: &PacketMeta) -> FragKey {
        FragKey {
            src: m.src_ip,
            dst: m.dst_ip,
            id: m.ip_id,
            version: m.ip_version,
            proto: m.proto,
        }
    }

    fn hash(&self) -> u64 {
        let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
        for c in self.src.chunks_exact(8).chain(self.dst.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            h ^= h >> 31;
        }
        h = (h ^ (self.id as u64 | (self.proto as u64) << 32 | (self.version as u64) << 40))
            .wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^ (h >> 29)
    }
}

#[derive(Clone, Copy, Default)]
struct Entry {
    key: FragKey,
    src_port: u16,
    dst_port: u16,
    /// Capture time (ns) after which the entry is free; 0 = never used.
    expires: u64,
}

pub struct FragTable {
    entries: Vec<Entry>,
    set_mask: usize,
    timeout_ns: u64,
}

impl FragTable {
    /// `capacity` is rounded up to a power of two (at least one set).
    pub fn new(capacity: usize, timeout_ns: u64) -> FragTable {
        let sets = (capacity.div_ceil(WAYS)).next_power_of_two().max(1);
        FragTable {
            entries: vec![Entry::default(); sets * WAYS],
            set_mask: sets - 1,
            timeout_ns,
        }
    }

    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    fn set(&self, k: &FragKey) -> usize {
        (k.hash() as usize & self.set_mask) * WAYS
    }

    /// Remember the ports of a first fragment. `false` when its set is full (not stored).
    pub fn insert(&mut self, m: &PacketMeta, now: u64) -> bool {
        let k = FragKey::of(m);
        let base = self.set(&k);
        let mut free = None;
        for i in base..base + WAYS {
            let e = &self.entries[i];
            if e.expires > now && e.key == k {
                free = Some(i); // a repeated first fragment refreshes its entry
                break;
            }
            if e.expires <= now && free.is_none() {
                free = Some(i);
            }
        }
        match free {
            Some(i) => {
                self.entries[i] = Entry {
                    key: k,
                    src_port: m.src_port,
                    dst_port: m.dst_port,
                    expires: now.saturating_add(self.timeout_ns).max(1),
                };
                true
            }
            None => false,
        }
    }

    /// Ports `(src, dst)` of the first fragment of `m`'s datagram, when known and not expired.
    pub fn lookup(&self, m: &PacketMeta, now: u64) -> Option<(u16, u16)> {
        let k = FragKey::of(m);
        let base = self.set(&k);
        self.entries[base..base + WAYS]
            .iter()
            .find(|e| e.expires > now && e.key == k)
            .map(|e| (e.src_port, e.dst_port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, sp: u16, dp: u16) -> PacketMeta {
        let mut m = PacketMeta {
            ip_version: 4,
            proto: 17,
            ip_id: id,
            src_port: sp,
            dst_port: dp,
            ..Default::default()
        };
        m.src_ip[..4].copy_from_slice(&[10, 0, 0, 1]);
        m.dst_ip[..4].copy_from_slice(&[10, 0, 0, 2]);
        m
    }

    #[test]
    fn remembers_ports_until_expiry() {
        let mut t = FragTable::new(16, 30);
        assert!(t.insert(&frag(7, 5000, 53), 100));
        let mut later = frag(7, 0, 0);
        assert_eq!(t.lookup(&later, 129), Some((5000, 53)));
        assert_eq!(t.lookup(&later, 130), None, "expired at insert + timeout");
        later.ip_id = 8;
        assert_eq!(t.lookup(&later, 101), None);
        // Another protocol or address is another datagram.
        let mut other = frag(7, 0, 0);
        other.proto = 6;
        assert_eq!(t.lookup(&other, 101), None);
        other = frag(7, 0, 0);
        other.dst_ip[3] = 3;
        assert_eq!(t.lookup(&other, 101), None);
    }

    #[test]
    fn full_set_refuses_then_reuses_expired_ways() {
        // One set of four ways: the fifth live datagram does not fit.
        let mut t = FragTable::new(4, 10);
        assert_eq!(t.capacity(), 4);
        for id in 0..4 {
            assert!(t.insert(&frag(id, 1000 + id as u16, 53), 0));
        }
        assert!(!t.insert(&frag(99, 1, 2), 5));
        assert_eq!(t.lookup(&frag(3, 0, 0), 5), Some((1003, 53)));
        // Refreshing a live entry does not need a free way.
        assert!(t.insert(&frag(2, 2222, 53), 5));
        assert_eq!(t.lookup(&frag(2, 0, 0), 5), Some((2222, 53)));
        // After expiry the ways are free again.
        assert!(t.insert(&frag(99, 1, 2), 10));
        assert_eq!(t.lookup(&frag(99, 0, 0), 11), Some((1, 2)));
    }
}
