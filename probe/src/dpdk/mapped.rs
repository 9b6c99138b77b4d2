//! Read-only file mappings: the built-in capture reader replays a classic pcap in place, without
//! copying it (the kernel's copy for `read` cost as much CPU as the flow engine on an 800 MB
//! capture).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::ptr::NonNull;

/// A whole file mapped read-only (private). Dropping it unmaps the file.
///
/// The capture must not be truncated or rewritten while it is replayed: bytes past a new end
/// fault (SIGBUS) and rewritten bytes change under the replay. Appending is harmless (the
/// mapping keeps the length it was opened with).
pub struct Mapped {
    ptr: NonNull<u8>,
    len: usize,
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
        let f = File::open(path)?;
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
        Ok(NonNull::new(p as *mut u8).map(|ptr| Mapped { ptr, len }))
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
        // SAFETY: unmaps exactly the mapping made in `open`; no slice of it outlives self.
        unsafe {
            libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len);
        }
    }
}
