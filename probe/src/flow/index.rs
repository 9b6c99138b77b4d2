//! The shard's hash index: flow hash -> slab slot, in 4-byte buckets.
//!
//! Open addressing with linear probing at load ≤ 0.5 and backward-shift deletion (no tombstones,
//! so lookups never degrade with churn). The bucket count is a power of two and a flow's home
//! bucket is the top bits of its hash. A bucket holds `tag:8 | slot + 1:24` (0 = empty), the tag
//! being bits 24..32 of the hash: a probe reads an entry whose key does not match once in 256
//! occupied buckets passed. The field widths are fixed: a slot field sized to the capacity
//! (more tag bits on small tables) cost 7 instructions a packet, its mask held in a register
//! through the packet loop. 24 bits cap a shard at 16.7M flows; more flows take more workers.
//!
//! The tag holds no home bits (they would not filter: a cluster's members share their homes), so
//! deletion, which must know the home of each bucket it shifts back, asks the caller for the
//! flow's hash (the shard rehashes the entry's key: a deletion shifts one or two buckets at this
//! load, an 8-byte bucket with its home in the tag cost 8 more bytes a flow on every flow).

use crate::pow2::Pow2;

pub struct Index {
    /// Indexed modulo its length: probes need no bounds checks.
    buckets: Pow2<u32>,
    /// `64 - log2(buckets)`.
    shift: u32,
}

const SLOT_BITS: u32 = 24;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// Largest slot the index can hold (slot + 1 fits the slot field).
pub const MAX_SLOT: u32 = SLOT_MASK - 1;

impl Index {
    /// An index for slots `0..capacity` (capacity ≤ `MAX_SLOT` + 1), at most half full. Every
    /// page is written now: a page first read (the shared zero page) and then written costs a
    /// copy-on-write fault with a TLB shootdown to every CPU, in the middle of traffic.
    pub fn new(capacity: u32, huge_pages: bool) -> Index {
        assert!(capacity >= 1 && capacity - 1 <= MAX_SLOT);
        let nb = (capacity as usize * 2).next_power_of_two().max(16);
        let mut buckets = vec![0u32; nb];
        if huge_pages {
            crate::prefetch::huge_pages(&buckets);
        }
        for b in std::hint::black_box(&mut buckets[..])
            .iter_mut()
            .step_by(1024)
        {
            *b = 0; // one write per 4 KiB page
        }
        Index {
            buckets: Pow2::from_vec(buckets),
            shift: 64 - nb.trailing_zeros(),
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.buckets.len() * 4
    }

    /// Home bucket of hash `h`.
    #[inline(always)]
    fn home(&self, h: u64) -> usize {
        (h >> self.shift) as usize
    }

    /// The bucket after `i`, wrapping at the end.
    #[inline(always)]
    pub fn next(&self, i: usize) -> usize {
        (i + 1) & self.buckets.mask()
    }

    #[inline(always)]
    fn bucket_of(&self, h: u64, slot: u32) -> u32 {
        (h as u32 & !SLOT_MASK) | (slot + 1)
    }

    #[inline(always)]
    fn slot_of(&self, b: u32) -> u32 {
        (b & SLOT_MASK) - 1
    }

    /// Prefetch the home bucket of `h`.
    #[inline]
    pub fn prefetch(&self, h: u64) {
        crate::prefetch::line(self.buckets.at(self.home(h)));
    }

    /// The slot in the home bucket of `h`, if any: a likely match, for prefetching its entry.
    #[inline]
    pub fn home_slot(&self, h: u64) -> Option<u32> {
        let b = self.buckets.get(self.home(h));
        (b != 0).then(|| self.slot_of(b))
    }

    /// The first candidate for hash `h` at or after bucket `i` (start at [`Index::start`]):
    /// `Some((slot, i))` whose tag matches (the caller compares keys and, if they differ,
    /// continues at `next(i)`), `None` at the empty bucket that ends the cluster.
    #[inline(always)]
    pub fn candidate(&self, tag: u32, mut i: usize) -> Option<(u32, usize)> {
        loop {
            let b = self.buckets.get(i);
            if b == 0 {
                return None;
            }
            // Equal tags cancel, leaving slot + 1 (below the slot field's limit): one compare
            // tests the tag and yields the slot.
            let x = b ^ tag;
            if x <= SLOT_MASK {
                return Some((x - 1, i));
            }
            i = self.next(i);
        }
    }

    /// Where a lookup of `h` starts: its tag and home bucket.
    #[inline(always)]
    pub fn start(&self, h: u64) -> (u32, usize) {
        (h as u32 & !SLOT_MASK, self.home(h))
    }

    /// Add `slot` under hash `h` (not present yet): the first empty bucket from its home.
    #[inline(never)]
    pub fn insert(&mut self, h: u64, slot: u32) {
        let mut i = self.home(h);
        while self.buckets.get(i) != 0 {
            i = self.next(i);
        }
        self.buckets.set(i, self.bucket_of(h, slot));
    }

    /// Remove `slot` (stored with hash `h`); `hash_of(s)` is the hash of the flow in slot `s`.
    /// Out of line: once per flow, and it keeps the callers small.
    #[inline(never)]
    pub fn remove(&mut self, h: u64, slot: u32, hash_of: impl Fn(u32) -> u64) {
        let want = self.bucket_of(h, slot);
        let mut i = self.home(h);
        while self.buckets.get(i) != want {
            debug_assert!(self.buckets.get(i) != 0, "flow missing from index");
            i = self.next(i);
        }
        // Backward-shift deletion: pull later members of the cluster into the hole when their home
        // bucket does not lie cyclically in (hole, j].
        let mut hole = i;
        let mut j = i;
        loop {
            j = self.next(j);
            let b = self.buckets.get(j);
            if b == 0 {
                break;
            }
            let home = self.home(hash_of(self.slot_of(b)));
            let mask = self.buckets.mask();
            let dist_home = j.wrapping_sub(home) & mask;
            let dist_hole = j.wrapping_sub(hole) & mask;
            if dist_home >= dist_hole {
                self.buckets.set(hole, b);
                hole = j;
            }
        }
        self.buckets.set(hole, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(ix: &Index, h: u64, is: impl Fn(u32) -> bool) -> Option<u32> {
        let (tag, mut i) = ix.start(h);
        while let Some((s, at)) = ix.candidate(tag, i) {
            if is(s) {
                return Some(s);
            }
            i = ix.next(at);
        }
        None
    }

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn clusters_stay_reachable_across_the_wrap() {
        // Hashes crowded into the last buckets so clusters wrap to the front; after every insert
        // or delete, each stored bucket must be reachable from its home without an empty bucket
        // in between (what lookups rely on), and hold exactly the model's members.
        let cap = 40u32;
        let mut ix = Index::new(cap, false);
        let nb = ix.buckets.len();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut hashes = vec![0u64; cap as usize];
        let mut free: Vec<u32> = (0..cap).collect();
        let mut live: Vec<u32> = Vec::new();
        for _ in 0..100_000u32 {
            let r = xorshift(&mut x);
            if !live.is_empty() && (free.is_empty() || r % 3 == 0) {
                let s = live.swap_remove((r >> 8) as usize % live.len());
                ix.remove(hashes[s as usize], s, |t| hashes[t as usize]);
                free.push(s);
            } else {
                // Top bits in the last eighth of the range: homes in the last few buckets.
                let s = free.pop().unwrap();
                hashes[s as usize] = (u64::MAX - (r >> 3)) | (1 << 40);
                ix.insert(hashes[s as usize], s);
                live.push(s);
            }
            let mut seen = 0;
            for j in 0..nb {
                let b = ix.buckets.get(j);
                if b == 0 {
                    continue;
                }
                seen += 1;
                let s = ix.slot_of(b);
                assert!(live.contains(&s));
                let mut i = ix.home(hashes[s as usize]);
                while i != j {
                    assert_ne!(ix.buckets.get(i), 0, "bucket {j} cut off from its home");
                    i = ix.next(i);
                }
            }
            assert_eq!(seen, live.len());
            for &s in &live {
                assert_eq!(find(&ix, hashes[s as usize], |t| t == s), Some(s));
            }
        }
    }

    #[test]
    fn tag_filters_and_the_largest_slot_round_trips() {
        // Two buckets of 4 bytes per slot.
        assert_eq!(Index::new(1 << 20, false).memory_bytes(), 4 << 21);
        let mut ix = Index::new(MAX_SLOT + 1, false);
        let h = 0xABCD_0000_0000_1234u64;
        ix.insert(h, MAX_SLOT);
        ix.insert(h ^ 0x0100_0000, 7);
        assert_eq!(find(&ix, h, |_| true), Some(MAX_SLOT));
        assert_eq!(ix.home_slot(h), Some(MAX_SLOT));
        // Same home, other tag: the first bucket is passed without a key compare.
        assert_eq!(find(&ix, h ^ 0x0100_0000, |_| true), Some(7));
        assert_eq!(find(&ix, h ^ 0x8000_0000, |_| true), None);
        ix.remove(h, MAX_SLOT, |s| if s == 7 { h ^ 0x0100_0000 } else { h });
        assert_eq!(find(&ix, h ^ 0x0100_0000, |_| true), Some(7));
        assert_eq!(ix.home_slot(h), Some(7));
    }
}
