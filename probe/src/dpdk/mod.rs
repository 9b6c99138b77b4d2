//! The DPDK shell: safe wrappers over `dpdk-sys`. The only module where `unsafe` is allowed; every
//! block states why it is sound. Nothing here knows about flows.

pub mod affinity;
pub mod eal;
pub mod mapped;
pub mod mbuf;
pub mod mempool;
pub mod port;
pub mod ring;

use std::ffi::CStr;
use std::fmt;

/// A failed DPDK call: what we tried and what DPDK said.
#[derive(Debug, Clone)]
pub struct DpdkError {
    pub what: String,
    pub errno: i32,
}

impl DpdkError {
    pub fn new(what: impl Into<String>, errno: i32) -> Self {
        DpdkError {
            what: what.into(),
            errno: errno.abs(),
        }
    }
    /// From `rte_errno` after a call that returned NULL or -1.
    pub fn last(what: impl Into<String>) -> Self {
        // SAFETY: reads the calling thread's rte_errno through the shim; no preconditions.
        let e = unsafe { dpdk_sys::shim_rte_errno() };
        Self::new(what, e)
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errno == 0 {
            return write!(f, "{}", self.what);
        }
        // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
        let msg = unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(self.errno)) };
        write!(
            f,
            "{}: {} (errno {})",
            self.what,
            msg.to_string_lossy(),
            self.errno
        )
    }
}

impl std::error::Error for DpdkError {}

pub type Result<T> = std::result::Result<T, DpdkError>;

/// Turn a DPDK `int` return (negative errno on failure) into a Result.
pub(crate) fn check(ret: i32, what: impl FnOnce() -> String) -> Result<i32> {
    if ret < 0 {
        Err(DpdkError::new(what(), ret))
    } else {
        Ok(ret)
    }
}

/// TSC ticks per second, measured by EAL at init.
pub fn tsc_hz() -> u64 {
    // SAFETY: plain getter of a value EAL set during init; callable from any thread.
    unsafe { dpdk_sys::shim_rte_get_tsc_hz() }
}

/// Current TSC. Read once per burst, never per packet.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no memory effects.
    unsafe { dpdk_sys::shim_rte_rdtsc() }
}

/// The DPDK version string, e.g. "DPDK 22.11.11".
pub fn version() -> String {
    // SAFETY: rte_version() returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(dpdk_sys::rte_version()) }
        .to_string_lossy()
        .into_owned()
}
