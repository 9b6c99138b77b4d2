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

/// [`line`] for every cache line of the first `n` bytes of `*p`.
#[inline(always)]
pub fn bytes_of<T>(p: &T, n: usize) {
    let a = p as *const T as usize;
    let mut l = a & !63;
    while l < a + n.min(std::mem::size_of::<T>()) {
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

/// Ask for transparent 2 MiB pages over `v`'s allocation (its spare capacity included): a flow
/// table spread over gigabytes misses the TLB on almost every lookup with 4 KiB pages. Advice
/// only (the kernel may decline); call before the memory is first touched.
pub fn huge_pages<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (v.as_ptr() as usize + v.capacity() * std::mem::size_of::<T>()) & !(HUGE - 1);
        if end > start {
            // SAFETY: madvise(MADV_HUGEPAGE) on whole pages inside an allocation this process
            // owns: it changes how the range is backed, never its contents or its validity.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}
