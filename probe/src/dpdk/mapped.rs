//! Read-only file mappings: the built-in capture reader replays a classic pcap in place, without
//! copying it (the kernel's copy for `read` cost as much CPU as the flow engine on an 800 MB
//! capture).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A whole file mapped read-only (private). Dropping it unmaps the file.
///
/// A file truncated while it is mapped makes every access past its new end fault (SIGBUS). A
/// process-wide handler catches those faults inside live mappings: it maps zero pages over the
/// rest of the mapping, so the access (and every later one) reads zeros instead of killing the
/// probe, and records where the file was cut ([`truncated_at`]); the capture reader checks that
/// and ends the replay with an error. A fault anywhere else keeps its default action. Rewritten
/// bytes still change under the replay; appending is harmless (the mapping keeps its length).
pub struct Mapped {
    ptr: NonNull<u8>,
    len: usize,
    /// Slot in `LIVE` (none when all are taken: then a truncation is fatal, as without the
    /// handler).
    slot: Option<usize>,
    /// Kept open to tell the file's new length after a truncation.
    file: File,
}

/// Live mappings the SIGBUS handler may repair: start, length and the offset of the first
/// fault (`usize::MAX`: none). Plain atomics: the handler must not lock or allocate.
const SLOTS: usize = 64;
struct Live {
    start: AtomicUsize,
    len: AtomicUsize,
    cut: AtomicUsize,
}
#[allow(clippy::declare_interior_mutable_const)] // only the array's initialiser
const FREE: Live = Live {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    cut: AtomicUsize::new(usize::MAX),
};
static LIVE: [Live; SLOTS] = [FREE; SLOTS];

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as usize
}

static PAGE: AtomicUsize = AtomicUsize::new(4096);

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for l in LIVE.iter() {
        let (start, len) = (
            l.start.load(Ordering::Acquire),
            l.len.load(Ordering::Acquire),
        );
        if start == 0 || addr < start || addr >= start + len {
            continue;
        }
        let from = addr & !(page - 1);
        let end = (start + len).next_multiple_of(page);
        // SAFETY: replaces pages of a live mapping of ours (from its faulting page to its end)
        // with anonymous zero pages at the same addresses; `Mapped::drop` unmaps the whole range
        // as before. mmap is a plain system call, safe in a signal handler.
        let p = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                end - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            l.cut.fetch_min(from - start, Ordering::AcqRel);
            return; // the access restarts and reads zeros
        }
    }
    // Not ours (or not repairable): the default action, as if no handler were installed.
    // SAFETY: resetting a signal's disposition is async-signal-safe; the fault recurs on return.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
}

fn install_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        PAGE.store(page_size(), Ordering::Relaxed);
        // SAFETY: a zeroed sigaction with our SA_SIGINFO handler and an empty mask; the handler
        // only touches atomics and makes system calls.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
    });
}

impl Mapped {
    /// Where the file was found cut while mapped (its length then: every byte from there reads
    /// as zero), if it was.
    pub fn truncated_at(&self) -> Option<usize> {
        let cut = LIVE[self.slot?].cut.load(Ordering::Acquire);
        if cut == usize::MAX {
            return None;
        }
        // The fault's page starts past the end; the end itself may lie within the page before.
        let now = self.file.metadata().map_or(cut as u64, |m| m.len());
        Some(cut.min(now as usize))
    }
}

// SAFETY: the mapping is read-only and owned by this value; sharing `&[u8]` views of it across
// threads is the same as sharing any immutable byte slice.
unsafe impl Send for Mapped {}
// SAFETY: as above: no interior mutability.
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps `path`; `Ok(None)` for an empty file or one that cannot be mapped (a pipe, a
    /// character device): the caller reads those instead.
    pub fn open(path: &Path) -> io::Result<Option<Mapped>> {
        let file = File::open(path)?;
        let f = &file;
        let meta = f.metadata()?;
        if !meta.is_file() || meta.len() == 0 {
            return Ok(None);
        }
        let len = usize::try_from(meta.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"))?;
        // SAFETY: a fresh private read-only mapping of an open regular file, at an address the
        // kernel chooses; checked for MAP_FAILED below. The fd may be closed afterwards.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Ok(None);
        }
        // SAFETY: advice on the mapping just made; it changes no contents (sequential read-ahead).
        unsafe {
            libc::madvise(p, len, libc::MADV_SEQUENTIAL);
            libc::madvise(p, len, libc::MADV_WILLNEED);
        }
        let Some(ptr) = NonNull::new(p as *mut u8) else {
            return Ok(None);
        };
        install_handler();
        let slot = LIVE.iter().position(|l| {
            l.start
                .compare_exchange(
                    0,
                    ptr.as_ptr() as usize,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        });
        if let Some(i) = slot {
            LIVE[i].cut.store(usize::MAX, Ordering::Release);
            LIVE[i].len.store(len, Ordering::Release);
        }
        Ok(Some(Mapped {
            ptr,
            len,
            slot,
            file,
        }))
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: ptr..ptr+len is a live read-only mapping owned by self (see the type's note on
        // files changed underneath).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            LIVE[i].len.store(0, Ordering::Release);
            LIVE[i].start.store(0, Ordering::Release);
        }
        // SAFETY: unmaps exactly the mapping made in `open`; no slice of it outlives self.
        unsafe {
            libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn truncated_while_mapped_reads_zeros_and_says_where() {
        let path = std::env::temp_dir().join(format!("flowprobe-map-{}", std::process::id()));
        let page = page_size();
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![0xab; 4 * page]).unwrap();
        let m = Mapped::open(&path).unwrap().unwrap();
        assert_eq!(m.bytes()[3 * page], 0xab);
        assert_eq!(m.truncated_at(), None);
        // Cut the file to a page and a half: the rest of the second page and beyond are gone.
        f.set_len(page as u64 + 100).unwrap();
        let b = std::hint::black_box(m.bytes());
        assert_eq!(
            b[3 * page + 5],
            0,
            "past the new end reads zeros, no SIGBUS"
        );
        assert_eq!(m.truncated_at(), Some(page + 100), "the file's new length");
        assert_eq!(b[2 * page], 0);
        assert_eq!(
            (b[0], b[page + 99]),
            (0xab, 0xab),
            "bytes before the cut stay"
        );
        drop(m);
        std::fs::remove_file(&path).unwrap();
    }
}
