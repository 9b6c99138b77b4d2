//! Single-producer/single-consumer DPDK rings carrying fixed-size `Copy` records by value.

use super::{DpdkError, Result};
use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

struct RawRing(NonNull<dpdk_sys::rte_ring>, Option<std::alloc::Layout>);

// SAFETY: the ring is an SP/SC lock-free structure; the producer and consumer handles below each
// confine one side to one thread, which is exactly what RING_F_SP_ENQ | RING_F_SC_DEQ requires.
unsafe impl Send for RawRing {}
// SAFETY: shared only through the Arc so that the last handle frees it; counts are atomic reads.
unsafe impl Sync for RawRing {}

impl Drop for RawRing {
    fn drop(&mut self) {
        match self.1 {
            // SAFETY: the last handle is gone; the memory came from `alloc(layout)` in
            // `spsc_local`.
            Some(layout) => unsafe { std::alloc::dealloc(self.0.as_ptr() as *mut u8, layout) },
            // SAFETY: the last handle is gone, so neither side can touch the ring again.
            None => unsafe { dpdk_sys::rte_ring_free(self.0.as_ptr()) },
        }
    }
}

/// Single producer, single consumer: what the handles below guarantee.
const FLAGS: u32 = dpdk_sys::RING_F_SP_ENQ | dpdk_sys::RING_F_SC_DEQ;

/// What both constructors check and derive for elements of type T: the element size, the name
/// as a C string, and `count` rounded up to a power of two.
fn params<T>(name: &str, count: u32) -> Result<(u32, CString, u32)> {
    let esize = std::mem::size_of::<T>();
    assert!(
        esize % 4 == 0 && esize > 0,
        "ring element size must be a multiple of 4"
    );
    let cname = CString::new(name).map_err(|_| DpdkError::new("ring name with NUL", 22))?;
    Ok((esize as u32, cname, count.next_power_of_two()))
}

/// The two handles of a ring.
fn pair<T>(raw: RawRing) -> (Producer<T>, Consumer<T>) {
    let raw = Arc::new(raw);
    (
        Producer {
            ring: raw.clone(),
            _t: PhantomData,
        },
        Consumer {
            ring: raw,
            _t: PhantomData,
        },
    )
}

/// [`spsc`] in process heap memory instead of EAL memory: usable without `rte_eal_init` (the
/// built-in capture reader runs without EAL: its start-up costs more than reading a capture).
pub fn spsc_local<T: Copy>(name: &str, count: u32) -> Result<(Producer<T>, Consumer<T>)> {
    let (esize, cname, count) = params::<T>(name, count)?;
    // SAFETY: pure size computation.
    let size = unsafe { dpdk_sys::rte_ring_get_memsize_elem(esize, count) };
    if size < 0 {
        return Err(DpdkError::new(
            format!("ring {name}: bad size"),
            size as i32,
        ));
    }
    let layout = std::alloc::Layout::from_size_align(size as usize, 128)
        .map_err(|_| DpdkError::new(format!("ring {name}: bad layout"), 22))?;
    // Not zeroed: for this alignment the allocator would memset it all (tens of MB, on the start-up
    // path); rte_ring_init writes the header and a slot is always written before it is read.
    // SAFETY: layout has a non-zero size (the ring header alone is larger than zero).
    let mem = unsafe { std::alloc::alloc(layout) } as *mut dpdk_sys::rte_ring;
    let ptr =
        NonNull::new(mem).ok_or_else(|| DpdkError::new(format!("ring {name}: no memory"), 12))?;
    // Owned from here: freed on the error path too.
    let raw = RawRing(ptr, Some(layout));
    // SAFETY: mem holds rte_ring_get_memsize_elem(esize, count) bytes, cache-line aligned, as
    // rte_ring_init requires; rte_ring_init only writes the header (no EAL state involved).
    let ret = unsafe { dpdk_sys::rte_ring_init(ptr.as_ptr(), cname.as_ptr(), count, FLAGS) };
    if ret < 0 {
        return Err(DpdkError::new(format!("initialising ring {name}"), ret));
    }
    Ok(pair(raw))
}

/// Create a ring of `count` (rounded up to a power of two, minus one usable) elements of type T.
pub fn spsc<T: Copy>(name: &str, count: u32, socket: i32) -> Result<(Producer<T>, Consumer<T>)> {
    let (esize, cname, count) = params::<T>(name, count)?;
    // SAFETY: EAL is initialised by the caller; name is NUL-terminated; count is a power of two.
    let r = unsafe { dpdk_sys::rte_ring_create_elem(cname.as_ptr(), esize, count, socket, FLAGS) };
    let ptr = NonNull::new(r)
        .ok_or_else(|| DpdkError::last(format!("creating ring {name} ({count} x {esize} B)")))?;
    Ok(pair(RawRing(ptr, None)))
}

/// The enqueue side. `Send` but not `Clone`: one producer thread.
pub struct Producer<T> {
    ring: Arc<RawRing>,
    _t: PhantomData<fn(T)>,
}

/// The dequeue side. `Send` but not `Clone`: one consumer thread.
pub struct Consumer<T> {
    ring: Arc<RawRing>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Copy> Producer<T> {
    /// Enqueue as many of `items` as fit; returns how many were taken (never blocks).
    #[inline]
    pub fn enqueue_burst(&mut self, items: &[T]) -> usize {
        if items.is_empty() {
            return 0;
        }
        // SAFETY: items is a valid slice of T; esize matches the ring; &mut self guarantees the
        // single producer.
        unsafe {
            dpdk_sys::shim_rte_ring_sp_enqueue_burst_elem(
                self.ring.0.as_ptr(),
                items.as_ptr() as *const _,
                std::mem::size_of::<T>() as u32,
                items.len() as u32,
                std::ptr::null_mut(),
            ) as usize
        }
    }

    pub fn free_count(&self) -> u32 {
        // SAFETY: reads the ring's head/tail indexes.
        unsafe { dpdk_sys::shim_rte_ring_free_count(self.ring.0.as_ptr()) }
    }
}

impl<T: Copy> Consumer<T> {
    /// Dequeue up to `out.len()` items into `out`; returns how many were written.
    #[inline]
    pub fn dequeue_burst(&mut self, out: &mut [T]) -> usize {
        if out.is_empty() {
            return 0;
        }
        // SAFETY: out has room for out.len() T (T: Copy, any bit pattern written comes from a
        // valid T enqueued by the producer); &mut self guarantees the single consumer.
        unsafe {
            dpdk_sys::shim_rte_ring_sc_dequeue_burst_elem(
                self.ring.0.as_ptr(),
                out.as_mut_ptr() as *mut _,
                std::mem::size_of::<T>() as u32,
                out.len() as u32,
                std::ptr::null_mut(),
            ) as usize
        }
    }

    pub fn count(&self) -> u32 {
        // SAFETY: reads the ring's head/tail indexes.
        unsafe { dpdk_sys::shim_rte_ring_count(self.ring.0.as_ptr()) }
    }
}
