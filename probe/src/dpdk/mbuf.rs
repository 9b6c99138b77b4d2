//! Borrowed views of received mbufs and bulk free.

use dpdk_sys::rte_mbuf;
use std::ffi::CString;

/// A burst of received mbufs owned by the worker until [`Burst::free`].
/// Not `Clone`: each mbuf is freed exactly once.
pub struct Burst<const N: usize> {
    pkts: [*mut rte_mbuf; N],
    len: usize,
}

impl<const N: usize> Default for Burst<N> {
    fn default() -> Self {
        Burst {
            pkts: [std::ptr::null_mut(); N],
            len: 0,
        }
    }
}

/// Where the PMD puts the RX timestamp (dynamic mbuf field), when it provides one.
#[derive(Clone, Copy, Debug)]
pub struct TimestampField {
    offset: usize,
    flag: u64,
}

impl TimestampField {
    /// Look up the registered RX timestamp field and flag (registered by a PMD when the
    /// `RTE_ETH_RX_OFFLOAD_TIMESTAMP` offload is configured). None when not registered. Takes
    /// the EAL as proof it is initialised: the registry lives in EAL shared memory (called
    /// without it, the lookup tried to reserve a memzone and logged two EAL errors).
    pub fn lookup(_eal: &super::eal::Eal) -> Option<TimestampField> {
        let field = CString::new("rte_dynfield_timestamp").ok()?;
        let flag = CString::new("rte_dynflag_rx_timestamp").ok()?;
        // SAFETY: lookups by NUL-terminated name; a NULL params pointer is allowed.
        let off =
            unsafe { dpdk_sys::rte_mbuf_dynfield_lookup(field.as_ptr(), std::ptr::null_mut()) };
        // SAFETY: as above.
        let bit = unsafe { dpdk_sys::rte_mbuf_dynflag_lookup(flag.as_ptr(), std::ptr::null_mut()) };
        // Lazily: `1 << bit` must not be evaluated for an unregistered flag (-1).
        (off >= 0 && (0..64).contains(&bit)).then(|| TimestampField {
            offset: off as usize,
            flag: 1u64 << bit,
        })
    }
}

impl<const N: usize> Burst<N> {
    /// Receive up to N packets from `port`/`queue`. The burst must be empty.
    #[inline]
    pub fn rx(&mut self, port: u16, queue: u16) -> usize {
        debug_assert_eq!(self.len, 0);
        // SAFETY: pkts has room for N pointers; the port/queue were configured and started before
        // any worker polls, and only this worker polls this queue.
        let n = unsafe {
            dpdk_sys::shim_rte_eth_rx_burst(port, queue, self.pkts.as_mut_ptr(), N as u16)
        };
        self.len = n as usize;
        self.len
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first segment's bytes of packet `i` (headers live there) and the total packet length.
    #[inline]
    pub fn packet(&self, i: usize) -> (&[u8], u32) {
        assert!(i < self.len);
        // SAFETY: pkts[i] is a valid mbuf returned by rx_burst and not yet freed; its first segment
        // holds data_len bytes at buf_addr + data_off, alive until free() (which needs &mut self).
        unsafe {
            let m = &*self.pkts[i];
            let p = (m.buf_addr as *const u8).add(m.data_off as usize);
            (
                std::slice::from_raw_parts(p, m.data_len as usize),
                m.pkt_len,
            )
        }
    }

    /// The PMD's RX timestamp of packet `i`, if it set one.
    #[inline]
    pub fn timestamp(&self, i: usize, f: TimestampField) -> Option<u64> {
        assert!(i < self.len);
        // SAFETY: valid mbuf (see packet()); the dynamic field was registered with u64 size and
        // alignment at `offset` inside struct rte_mbuf, which read_unaligned tolerates anyway.
        unsafe {
            let m = self.pkts[i];
            if (*m).ol_flags & f.flag == 0 {
                return None;
            }
            Some(std::ptr::read_unaligned(
                (m as *const u8).add(f.offset) as *const u64
            ))
        }
    }

    /// Return every mbuf of the burst to its pool in one call.
    #[inline]
    pub fn free(&mut self) {
        if self.len > 0 {
            // SAFETY: the first len pointers are valid mbufs owned by us; each is freed once and
            // the burst is emptied so no view can outlive them.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(self.pkts.as_mut_ptr(), self.len as u32) };
            self.len = 0;
        }
    }
}

impl<const N: usize> Drop for Burst<N> {
    fn drop(&mut self) {
        self.free();
    }
}
