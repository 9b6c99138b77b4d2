//! EAL: init once per process from derived arguments, launch closures on lcores, clean up at the end.

use super::{DpdkError, Result};
use std::ffi::{c_char, c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Proof that EAL is initialised; dropping it calls `rte_eal_cleanup` (after every lcore returned).
pub struct Eal {
    _private: (),
}

impl Eal {
    /// `rte_eal_init` with `args` (without argv[0]). EAL can only be initialised once per process.
    pub fn init(prog: &str, args: &[String]) -> Result<Eal> {
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(prog.to_string());
        all.extend(args.iter().cloned());
        let cstrs: Vec<CString> = all
            .iter()
            .map(|a| {
                CString::new(a.as_str()).map_err(|_| DpdkError::new("EAL argument with NUL", 22))
            })
            .collect::<Result<_>>()?;
        // EAL keeps pointers into argv (openlog keeps argv[0]) and permutes it: leak both on purpose.
        let cstrs: &'static mut [CString] = Vec::leak(cstrs);
        let argv: Vec<*mut c_char> = cstrs.iter().map(|c| c.as_ptr() as *mut c_char).collect();
        let argv: &'static mut [*mut c_char] = Vec::leak(argv);
        // SAFETY: argv holds argc valid NUL-terminated strings that live for the whole process.
        let ret = unsafe { dpdk_sys::rte_eal_init(argv.len() as c_int, argv.as_mut_ptr()) };
        if ret < 0 {
            // rte_errno is not reliable after a failed init (DPDK.md): EAL logged the cause on stderr.
            return Err(DpdkError::last(
                "EAL initialisation failed (see the EAL lines above)",
            ));
        }
        Ok(Eal { _private: () })
    }

    /// Number of ethdev ports that probed.
    pub fn port_count(&self) -> u16 {
        // SAFETY: EAL is initialised (self exists).
        unsafe { dpdk_sys::rte_eth_dev_count_avail() }
    }

    pub fn main_lcore(&self) -> u32 {
        // SAFETY: EAL is initialised.
        unsafe { dpdk_sys::rte_get_main_lcore() }
    }

    /// Worker lcores (every enabled lcore but the main one), in id order.
    pub fn worker_lcores(&self) -> Vec<u32> {
        let mut v = Vec::new();
        let mut i: u32 = u32::MAX;
        loop {
            // SAFETY: EAL is initialised; -1 (u32::MAX) starts the iteration; skip_main=1, wrap=0.
            i = unsafe { dpdk_sys::rte_get_next_lcore(i, 1, 0) };
            if i >= dpdk_sys::RTE_MAX_LCORE {
                return v;
            }
            v.push(i);
        }
    }

    /// CPU an lcore is pinned to (its first CPU for a set), or -1.
    pub fn lcore_cpu(&self, lcore: u32) -> i32 {
        // SAFETY: EAL is initialised; out-of-range ids return -1.
        unsafe { dpdk_sys::rte_lcore_to_cpu_id(lcore as c_int) }
    }

    /// Run `f` on worker lcore `lcore`. A panic inside `f` is caught (it must not unwind into C),
    /// reported on stderr, and turned into a return code of -1 for [`Eal::wait`].
    pub fn launch<F>(&self, lcore: u32, name: &str, f: F) -> Result<()>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        struct Job {
            name: String,
            f: Box<dyn FnOnce() -> i32 + Send>,
        }
        unsafe extern "C" fn trampoline(arg: *mut c_void) -> c_int {
            // SAFETY: arg is the Box<Job> leaked by launch() below, handed to exactly one lcore.
            let job = unsafe { Box::from_raw(arg as *mut Job) };
            let Job { name, f } = *job;
            match catch_unwind(AssertUnwindSafe(f)) {
                Ok(rc) => rc,
                Err(e) => {
                    let msg = e
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| e.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    eprintln!("flowprobe: lcore {name} panicked: {msg}");
                    -1
                }
            }
        }
        let job = Box::into_raw(Box::new(Job {
            name: name.to_string(),
            f: Box::new(f),
        }));
        // SAFETY: EAL is initialised; trampoline takes ownership of job when the launch succeeds.
        let ret =
            unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), job as *mut c_void, lcore) };
        if ret < 0 {
            // SAFETY: the launch failed, so no lcore owns job: reclaim it.
            drop(unsafe { Box::from_raw(job) });
            return Err(DpdkError::new(
                format!("launching {name} on lcore {lcore}"),
                ret,
            ));
        }
        Ok(())
    }

    /// Wait for the function launched on `lcore` and return its return code.
    pub fn wait(&self, lcore: u32) -> i32 {
        // SAFETY: EAL is initialised; waiting on an idle lcore returns 0 at once.
        unsafe { dpdk_sys::rte_eal_wait_lcore(lcore) }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: every launched lcore function has returned (wait all first), then clean up once.
        unsafe {
            dpdk_sys::rte_eal_mp_wait_lcore();
            dpdk_sys::rte_eal_cleanup();
        }
    }
}
