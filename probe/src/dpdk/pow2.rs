//! A table whose length is a power of two, indexed modulo that length: `i & mask` is below the
//! length by construction, so reads and writes need no bounds check (the pure core's hash index
//! probes it a few times a packet). Kept with the DPDK layer's `unsafe`; compiled with or
//! without DPDK.

pub struct Pow2<T> {
    v: Box<[T]>,
    /// `v.len() - 1`; `v.len()` is a power of two, fixed at creation.
    mask: usize,
}

impl<T: Copy> Pow2<T> {
    /// A table of `v.len()` entries (a power of two, panics otherwise).
    pub fn from_vec(v: Vec<T>) -> Pow2<T> {
        assert!(v.len().is_power_of_two(), "Pow2 length {}", v.len());
        let mask = v.len() - 1;
        Pow2 {
            v: v.into_boxed_slice(),
            mask,
        }
    }

    pub fn len(&self) -> usize {
        self.v.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// `len() - 1`: an index modulo the length is `i & mask()`.
    #[inline(always)]
    pub fn mask(&self) -> usize {
        self.mask
    }

    /// Entry `i` modulo the length.
    #[inline(always)]
    pub fn get(&self, i: usize) -> T {
        // SAFETY: `i & mask` ≤ mask = len - 1 (the length is a power of two, never changed).
        unsafe { *self.v.get_unchecked(i & self.mask) }
    }

    /// A reference to entry `i` modulo the length (for prefetching).
    #[inline(always)]
    pub fn at(&self, i: usize) -> &T {
        // SAFETY: as in `get`.
        unsafe { self.v.get_unchecked(i & self.mask) }
    }

    /// Set entry `i` modulo the length.
    #[inline(always)]
    pub fn set(&mut self, i: usize, x: T) {
        // SAFETY: as in `get`.
        unsafe { *self.v.get_unchecked_mut(i & self.mask) = x }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_wrap_at_the_length() {
        let mut t = Pow2::from_vec(vec![0u32; 8]);
        t.set(9, 7);
        assert_eq!((t.get(1), t.get(17), *t.at(1), t.len()), (7, 7, 7, 8));
    }

    #[test]
    #[should_panic]
    fn other_lengths_are_refused() {
        Pow2::from_vec(vec![0u32; 12]);
    }
}
