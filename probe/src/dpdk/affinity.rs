//! CPU affinity of helper threads: threads inherit their creator's CPU mask, so threads a sink
//! starts (a socket sink's sender, librdkafka's broker threads) are created while the creating
//! thread is held to the exporter's CPU, and stay off the polling workers' CPUs.

/// Run `f` with the calling thread allowed on `cpu` only (when given), then restore its mask.
/// Affinity is advice here: when the mask cannot be read or set, `f` runs as it is.
pub fn with_cpu<T>(cpu: Option<usize>, f: impl FnOnce() -> T) -> T {
    let Some(cpu) = cpu.filter(|&c| c < libc::CPU_SETSIZE as usize) else {
        return f();
    };
    // SAFETY: cpu_set_t is plain bits (all-zero is the empty set); sched_getaffinity writes at
    // most size_of::<cpu_set_t>() bytes into it, for the calling thread (pid 0).
    let mut old: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: as above.
    if unsafe { libc::sched_getaffinity(0, size, &mut old) } != 0 {
        return f();
    }
    // SAFETY: an empty set with one CPU (below CPU_SETSIZE, checked) added, applied to the
    // calling thread.
    let set = unsafe {
        let mut s: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut s);
        libc::sched_setaffinity(0, size, &s)
    };
    let out = f();
    if set == 0 {
        // SAFETY: restores the mask read above to the calling thread.
        unsafe {
            libc::sched_setaffinity(0, size, &old);
        }
    }
    out
}
