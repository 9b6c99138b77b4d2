//! The idle-timer wheel of a shard: which flows may be due, by millisecond, without touching any
//! list on a packet.
//!
//! A flow is filed under a *check time*: a lower bound of its idle due time, computed when it was
//! filed. Packets only move the flow's real due time later, never earlier, so a packet does no
//! list work at all; when the check time comes, the shard looks at the real due time and either
//! ends the flow or files it again under that time (once per idle timeout of a busy flow, not once
//! per packet). Moving a flow to an earlier due time (a TCP close) is an explicit
//! [`Wheel::remove`] + [`Wheel::insert`].
//!
//! Two levels, both intrusive doubly linked lists through one link per flow slot:
//! - `FINE` slots of 1 ms for the current window of `FINE` ms;
//! - `COARSE` slots of one window each for the following windows (65.5 s in all). A check time
//!   beyond that horizon is filed in the last window and simply checked again then.
//!
//! When the cursor enters a window, its coarse slot is handed out whole ([`Wheel::next_due`]) and
//! the shard files each flow again, now into a fine slot. Empty slots are skipped through
//! bitmaps, so a long gap in a capture costs at most one pass over the coarse bitmap. Every
//! operation is O(1) except the skip, which is O(bitmap words) = O(129).

const FINE_BITS: u32 = 3;
/// 1 ms slots of the current window. Narrow windows keep eviction close to the exact order (a
/// full table spanning only tens of ms of traffic must not evict its newest flows); a flow idle
/// longer than the 65 s horizon is looked at again once per horizon, a random read per flow.
const FINE: usize = 1 << FINE_BITS;
const COARSE_BITS: u32 = 13;
/// Window slots (`FINE` ms each) after the current window.
const COARSE: usize = 1 << COARSE_BITS;
const SLOTS: usize = FINE + COARSE;
/// Pseudo-slot holding the rest of a coarse slot being handed out (the window just entered).
const DRAIN: usize = SLOTS;
/// Coarse bitmap words (the fine slots take one more).
const WORDS: usize = COARSE / 64;
const _: () = assert!(FINE <= 64 && WORDS == 128);

const NIL: u32 = u32::MAX;
/// `Link::prev` of a list's head and `Link::next` of its tail: the wheel slot, with this bit set.
const END: u32 = 1 << 31;
/// `Link::prev` of a flow slot that is in no list.
const OUT: u32 = END - 1;

#[derive(Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
}

pub struct Wheel {
    /// One link per flow slot (grows with the slab, within its reserved capacity).
    links: Vec<Link>,
    /// First and last flow slot of each wheel slot's list (`NIL`: empty). Lists are FIFO: a
    /// window's flows come out in the order they were filed, which for one class is the order
    /// of their due times, so eviction takes the oldest of the earliest window first.
    heads: Box<[u32; SLOTS + 1]>,
    tails: Box<[u32; SLOTS + 1]>,
    /// Bit per non-empty slot: fine slots in word 0, coarse slots after.
    map: [u64; WORDS + 1],
    /// Bit per non-empty coarse bitmap word: the earliest slot in two look-ups, not a scan.
    summary: u128,
    /// First ms not yet handed out: every fine slot before it is empty.
    cursor: u64,
    started: bool,
}

impl Wheel {
    /// A wheel for up to `capacity` flow slots (reserved, not written).
    pub fn new(capacity: usize) -> Wheel {
        Wheel {
            links: Vec::with_capacity(capacity),
            heads: Box::new([NIL; SLOTS + 1]),
            tails: Box::new([NIL; SLOTS + 1]),
            map: [0; WORDS + 1],
            summary: 0,
            cursor: 0,
            started: false,
        }
    }

    /// Bytes used at full capacity (links, heads and tails, bitmaps).
    pub fn memory_bytes(&self) -> usize {
        self.links.capacity() * std::mem::size_of::<Link>() + 2 * (SLOTS + 1) * 4 + (WORDS + 1) * 8
    }

    /// Make room for flow slot `s` (slots are handed out in order by the slab).
    #[inline]
    pub fn grow_to(&mut self, s: u32) {
        while self.links.len() <= s as usize {
            self.links.push(Link {
                prev: OUT,
                next: NIL,
            });
        }
    }

    #[inline]
    fn window(&self) -> u64 {
        self.cursor >> FINE_BITS
    }

    /// The wheel slot a check time goes to (given the cursor).
    #[inline]
    fn placement(&self, check_ms: u64) -> usize {
        let at = check_ms.max(self.cursor);
        let w = at >> FINE_BITS;
        let cw = self.window();
        if w == cw {
            (at & (FINE as u64 - 1)) as usize
        } else {
            // Beyond the horizon: the last window, checked again then.
            let w = w.min(cw + COARSE as u64 - 1);
            FINE + (w & (COARSE as u64 - 1)) as usize
        }
    }

    /// Start the clock at the first flow (times are absolute, e.g. a capture's).
    #[inline]
    pub fn start(&mut self, now_ms: u64) {
        if !self.started {
            self.started = true;
            self.cursor = now_ms;
        }
    }

    /// File flow slot `s` (in no list) under `check_ms`, a lower bound of its due time in ms
    /// (`u64::MAX`: never due; it still has a place, for eviction). Returns the ms from which
    /// the slot may be due (for the shard's deadline).
    #[inline]
    pub fn insert(&mut self, s: u32, check_ms: u64) -> u64 {
        debug_assert!(self.started, "insert before start");
        let p = self.placement(check_ms);
        self.link(s, p);
        self.slot_time(p)
    }

    /// Bitmap word and bit of wheel slot `p`: the fine slots in word 0, the coarse ones after.
    #[inline]
    fn bit(p: usize) -> (usize, u64) {
        if p < FINE {
            (0, 1 << p)
        } else {
            (1 + (p - FINE) / 64, 1 << ((p - FINE) % 64))
        }
    }

    fn set_bit(&mut self, p: usize) {
        let (w, b) = Self::bit(p);
        self.map[w] |= b;
        if w > 0 {
            self.summary |= 1 << (w - 1);
        }
    }

    fn clear_bit(&mut self, p: usize) {
        let (w, b) = Self::bit(p);
        self.map[w] &= !b;
        if w > 0 && self.map[w] == 0 {
            self.summary &= !(1 << (w - 1));
        }
    }

    /// Append flow slot `s` to the list of wheel slot `p`.
    fn link(&mut self, s: u32, p: usize) {
        let end = END | p as u32;
        let t = self.tails[p];
        if t == NIL {
            self.heads[p] = s;
            self.links[s as usize] = Link {
                prev: end,
                next: end,
            };
            if p < SLOTS {
                self.set_bit(p);
            }
        } else {
            self.links[t as usize].next = s;
            self.links[s as usize] = Link { prev: t, next: end };
        }
        self.tails[p] = s;
    }

    /// Take flow slot `s` out of its list (no-op if it is in none).
    #[inline]
    pub fn remove(&mut self, s: u32) {
        let Link { prev, next } = self.links[s as usize];
        if prev == OUT {
            return;
        }
        if prev & END != 0 {
            self.heads[(prev & !END) as usize] = if next & END != 0 { NIL } else { next };
        } else {
            self.links[prev as usize].next = next;
        }
        if next & END != 0 {
            let p = (next & !END) as usize;
            if prev & END != 0 {
                self.tails[p] = NIL;
                if p < SLOTS {
                    self.clear_bit(p);
                }
            } else {
                self.tails[p] = prev;
            }
        } else {
            self.links[next as usize].prev = prev;
        }
        self.links[s as usize].prev = OUT;
    }

    /// First ms at which wheel slot `p` may hold a due flow.
    fn slot_time(&self, p: usize) -> u64 {
        if p < FINE {
            (self.window() << FINE_BITS) | p as u64
        } else {
            let cw = self.window();
            let off = ((p - FINE) as u64).wrapping_sub(cw) & (COARSE as u64 - 1);
            // Offset 0 is the current window's own slot, already handed out: a full turn ahead.
            let off = if off == 0 { COARSE as u64 } else { off };
            (cw + off) << FINE_BITS
        }
    }

    /// The earliest non-empty slot in time order: fine slots at or after the cursor, then coarse
    /// windows after the current one (cyclically).
    fn first_slot(&self) -> Option<usize> {
        let fine = self.map[0] & (!0u64 << (self.cursor & (FINE as u64 - 1)));
        if fine != 0 {
            return Some(fine.trailing_zeros() as usize);
        }
        let start = ((self.window() + 1) & (COARSE as u64 - 1)) as usize;
        let (sw, sb) = (start / 64, start % 64);
        let at = |w: usize, bits: u64| Some(FINE + w * 64 + bits.trailing_zeros() as usize);
        let head = self.map[1 + sw] & (!0u64 << sb);
        if head != 0 {
            return at(sw, head);
        }
        // Then the words after the start's, then (wrapping) those before it, then the start
        // word's bits before `start`.
        let after = self.summary & (!0u128).checked_shl(sw as u32 + 1).unwrap_or(0);
        let before = self.summary & ((1u128 << sw) - 1);
        for half in [after, before] {
            if half != 0 {
                let w = half.trailing_zeros() as usize;
                return at(w, self.map[1 + w]);
            }
        }
        let tail = self.map[1 + sw] & !(!0u64 << sb);
        (tail != 0).then(|| FINE + sw * 64 + tail.trailing_zeros() as usize)
    }

    /// Ms from which some flow may be due (`u64::MAX` when the wheel is empty).
    pub fn next_time(&self) -> u64 {
        match self.first_slot() {
            Some(p) => self.slot_time(p),
            None => u64::MAX,
        }
    }

    /// Hand out the next flow slot whose check time has come by `now_ms`, removed from the wheel
    /// (the caller ends it or files it again under its real due time). `None` when no more:
    /// the cursor then stands after `now_ms`.
    pub fn next_due(&mut self, now_ms: u64) -> Option<u32> {
        let s = self.heads[DRAIN];
        if s != NIL {
            self.remove(s);
            return Some(s);
        }
        if !self.started || now_ms < self.cursor {
            return None;
        }
        if now_ms - self.cursor >= (FINE * COARSE) as u64 {
            // A jump past the whole wheel (a gap in a capture): everything filed is due for a
            // look, in one go rather than one horizon per round.
            for w in 0..=WORDS {
                while self.map[w] != 0 {
                    let b = self.map[w].trailing_zeros() as usize;
                    self.drain_slot(if w == 0 { b } else { FINE + (w - 1) * 64 + b });
                }
            }
            self.cursor = now_ms + 1;
            return self.next_due(now_ms);
        }
        let Some(p) = self.first_slot() else {
            self.cursor = now_ms + 1;
            return None;
        };
        let t = self.slot_time(p);
        if t > now_ms {
            // Nothing due: the cursor moves up to now, but never into the window of a coarse
            // slot not handed out yet (`t` is that window's start then; the fine slots are empty).
            self.cursor = self.cursor.max((now_ms + 1).min(t - 1));
            return None;
        }
        if p >= FINE {
            // Enter the window (everything before it was handed out): its whole coarse slot is
            // handed out, from the drain list, and refiled by the caller into fine slots.
            self.cursor = t;
            self.drain_slot(p);
            return self.next_due(now_ms);
        }
        let s = self.heads[p];
        self.remove(s);
        Some(s)
    }

    /// Move the whole list of (non-empty) wheel slot `p` to the end of the drain list.
    fn drain_slot(&mut self, p: usize) {
        let (head, tail) = (self.heads[p], self.tails[p]);
        self.heads[p] = NIL;
        self.tails[p] = NIL;
        self.clear_bit(p);
        let end = END | DRAIN as u32;
        match self.tails[DRAIN] {
            NIL => {
                self.heads[DRAIN] = head;
                self.links[head as usize].prev = end;
            }
            t => {
                self.links[t as usize].next = head;
                self.links[head as usize].prev = t;
            }
        }
        self.links[tail as usize].next = end;
        self.tails[DRAIN] = tail;
    }

    /// The flow slot at the head of the earliest non-empty slot (for eviction).
    pub fn first(&self) -> Option<u32> {
        self.first_slot().map(|p| self.heads[p])
    }

    /// Whether flow slot `s`, if filed now under `check_ms`, would go to the slot it is in.
    pub fn in_place(&self, s: u32, check_ms: u64) -> bool {
        // Only heads are asked about (see `first`).
        let prev = self.links[s as usize].prev;
        prev & END != 0 && (prev & !END) as usize == self.placement(check_ms)
    }

    /// Hand out any filed flow slot (shutdown), earliest first.
    pub fn pop_any(&mut self) -> Option<u32> {
        let s = self.first()?;
        self.remove(s);
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model check: random inserts / removes / time steps; every flow comes out of `next_due`
    /// exactly when its check time has come (refiled at a later check time when asked).
    #[test]
    fn hands_out_each_flow_at_its_check_time() {
        let n = 300u32;
        let mut w = Wheel::new(n as usize);
        w.grow_to(n - 1);
        w.start(1_000_000);
        let mut check: Vec<Option<u64>> = vec![None; n as usize];
        let mut x: u64 = 0x2545F4914F6CDD1D;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let mut now = 1_000_000u64;
        for _ in 0..200_000 {
            let s = rnd(n as u64) as u32;
            match rnd(4) {
                0 | 1 => {
                    w.remove(s);
                    // Mostly near, sometimes far beyond the horizon.
                    let c = now + 1 + if rnd(8) == 0 { rnd(600_000) } else { rnd(300) };
                    w.insert(s, c);
                    check[s as usize] = Some(c);
                }
                2 => {
                    w.remove(s);
                    check[s as usize] = None;
                }
                _ => {
                    let far = rnd(50) == 0;
                    now += rnd(if far { 400_000 } else { 40 });
                    while let Some(s) = w.next_due(now) {
                        let c = check[s as usize].expect("handed out a flow not filed");
                        if c > now {
                            // Early (beyond-horizon or window hand-out): refile.
                            w.insert(s, c);
                        } else {
                            check[s as usize] = None;
                        }
                    }
                    for (i, c) in check.iter().enumerate() {
                        assert!(
                            c.is_none_or(|c| c > now),
                            "flow {i} due at {c:?} still filed at {now}"
                        );
                    }
                    let next = check.iter().flatten().min().copied().unwrap_or(u64::MAX);
                    assert!(w.next_time() <= next, "next_time must be a lower bound: {} > {next}, cursor {} now {now} first {:?}", w.next_time(), w.cursor, w.first_slot());
                }
            }
        }
        let mut left = 0;
        while w.pop_any().is_some() {
            left += 1;
        }
        assert_eq!(left, check.iter().flatten().count());
    }

    #[test]
    fn earliest_slot_first() {
        let mut w = Wheel::new(8);
        w.grow_to(7);
        w.start(10_000);
        w.insert(0, 10_000);
        w.insert(1, 10_500);
        w.insert(2, 10_030);
        w.insert(3, u64::MAX);
        assert_eq!(w.first(), Some(0));
        assert!(w.in_place(0, 10_000));
        w.remove(0);
        assert_eq!(w.first(), Some(2));
        assert!(!w.in_place(2, 10_600), "a later check time goes elsewhere");
        w.remove(2);
        assert_eq!(w.first(), Some(1));
        w.remove(1);
        assert_eq!(w.first(), Some(3), "never-due flows still have a place");
        assert_eq!(
            w.next_time(),
            (10_000 / FINE as u64 + COARSE as u64 - 1) * FINE as u64
        );
        // One window, filed in turn: the first filed comes first (FIFO), then the next.
        w.remove(3);
        for s in [5, 4, 6] {
            w.insert(s, 20_000 + s as u64);
        }
        assert_eq!(w.first(), Some(5));
        w.remove(4);
        assert_eq!(w.pop_any(), Some(5));
        assert_eq!(w.pop_any(), Some(6));
        assert_eq!(w.pop_any(), None);
    }
}
