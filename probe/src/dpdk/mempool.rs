//! Packet mbuf pools.

use super::{DpdkError, Result};
use std::ffi::CString;
use std::ptr::NonNull;

pub struct Mempool {
    raw: NonNull<dpdk_sys::rte_mempool>,
}

// SAFETY: a DPDK mempool is designed for concurrent use from many lcores (per-lcore caches + ring).
unsafe impl Send for Mempool {}
// SAFETY: see above; every operation on it is thread-safe.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// `n` mbufs of `data_room` bytes (headroom included), per-lcore cache of `cache` objects.
    pub fn new(name: &str, n: u32, cache: u32, data_room: u16, socket: i32) -> Result<Mempool> {
        let cname = CString::new(name).map_err(|_| DpdkError::new("mempool name with NUL", 22))?;
        // SAFETY: EAL is initialised by the caller (ports and pools only exist after Eal::init).
        let p = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(cname.as_ptr(), n, cache, 0, data_room, socket)
        };
        NonNull::new(p).map(|raw| Mempool { raw }).ok_or_else(|| {
            DpdkError::last(format!(
                "creating mbuf pool {name} ({n} mbufs of {data_room} B)"
            ))
        })
    }

    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.raw.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the pool is dropped after its port was closed and all mbufs were returned.
        unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) }
    }
}
