//! Cache prefetch hints for the packet path (the pure core's only `unsafe`, kept with the DPDK
//! layer's; compiled with or without DPDK). A prefetch retires at once, so a burst's worth of
//! misses are in flight together instead of stalling one load after another.

/// Hint that the cache line holding `p` is needed soon (into every level). Never faults.
#[inline(always)]
pub fn line<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it has no architectural effect and never faults, whatever the
    // address; SSE is part of the x86_64 baseline.
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p as *const T as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`line`] for every cache line of `*p` (a struct spanning a few lines).
#[inline(always)]
pub fn lines<T>(p: &T) {
    let a = p as *const T as usize;
    let mut l = a & !63;
    while l < a + std::mem::size_of::<T>() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above; a prefetch of any address is harmless.
        unsafe {
            use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(l as *const i8);
        }
        l += 64;
    }
}

/// [`line`] for the first `n` bytes of a packet (the headers the parser reads).
#[inline(always)]
pub fn bytes(b: &[u8], n: usize) {
    let n = n.min(b.len());
    let mut off = 0;
    while off < n {
        line(&b[off]);
        off += 64;
    }
}
