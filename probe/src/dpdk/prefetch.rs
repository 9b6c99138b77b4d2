//! Cache prefetch hints for the packet path (the pure core's only `unsafe`, kept with the DPDK
//! layer's; compiled with or without DPDK). A prefetch retires at once, so a burst's worth of
//! misses are in flight together instead of stalling one load after another.

/// Hint that the cache line holding `p` is needed soon (into every level). Never faults.
#[inline(always)]
pub fn line<T>(p: &T) {
    at(p as *const T as usize);
}

/// Prefetch the line at address `a` (any address: a prefetch never faults).
#[inline(always)]
fn at(a: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it has no architectural effect and never faults, whatever the
    // address; SSE is part of the x86_64 baseline.
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(a as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = a;
}

/// Every line of `n` bytes from address `a` (`n` ≤ 256: at most 5 lines), straight-line: the
/// lines at `a`, +64, +128, +192 as far as `n` reaches, then the line of the last byte (a line
/// asked for twice costs one instruction; the loop this replaced cost ~10 a call).
#[inline(always)]
fn span(a: usize, n: usize) {
    debug_assert!(n <= 256);
    if n == 0 {
        return;
    }
    at(a);
    if n > 64 {
        at(a + 64);
    }
    if n > 128 {
        at(a + 128);
    }
    if n > 192 {
        at(a + 192);
    }
    at(a + n - 1);
}

/// [`line`] for every cache line of the first `n` bytes (`n` ≤ 256) of element `i` of `v`,
/// which may lie past its end (the address is computed, never dereferenced): prefetching a slot
/// a hash bucket names needs no bounds check.
#[inline(always)]
pub fn element<T>(v: &[T], i: usize, n: usize) {
    let a = (v.as_ptr() as usize).wrapping_add(i.wrapping_mul(std::mem::size_of::<T>()));
    let n = n.min(std::mem::size_of::<T>());
    if std::mem::align_of::<T>() >= 64 {
        // A cache-line aligned element: its lines are known, no last-byte line to add.
        debug_assert!(n <= 256);
        for k in 0..n.div_ceil(64) {
            at(a + 64 * k);
        }
    } else {
        span(a, n);
    }
}

/// [`line`] for the first `n` bytes of a packet (the headers the parser reads; `n` ≤ 256),
/// whatever its length: lines past a short packet's end are harmless to ask for, cheaper than
/// the check.
#[inline(always)]
pub fn bytes(b: &[u8], n: usize) {
    span(b.as_ptr() as usize, n);
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
