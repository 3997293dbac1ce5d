//! The process's descriptors: its limit, its table, the spare one kept
//! for refusing clients when the limit is reached.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// The process's open-file limit (soft, hard), if it can be read.
pub fn open_file_limit() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the valid struct we pass.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (rc == 0).then_some((limit.rlim_cur, limit.rlim_max))
}

/// Raises the soft open-file limit to the hard one; returns the new soft
/// limit, or the error.
///
/// # Errors
///
/// What `getrlimit` or `setrlimit` said.
pub fn raise_open_file_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: as above; setrlimit reads the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// Grows the process's descriptor table to hold `slots` descriptors now,
/// before the shard threads start: the kernel grows it by copying, which
/// stalls every thread of the process, so it is better done once, up
/// front, than in the middle of a connect storm. Returns the size reached.
pub(crate) fn pregrow_table(slots: usize) -> io::Result<usize> {
    let top = libc::c_int::try_from(slots.saturating_sub(1)).unwrap_or(libc::c_int::MAX);
    let probe = File::open("/dev/null")?;
    if top <= probe.as_raw_fd() {
        return Ok(slots);
    }
    // SAFETY: `F_DUPFD_CLOEXEC` duplicates onto the lowest free number at
    // or above `top` (never onto one in use), which makes the kernel size
    // the table for it; the duplicate is closed at once.
    let dup = unsafe { libc::fcntl(probe.as_raw_fd(), libc::F_DUPFD_CLOEXEC, top) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is the descriptor `fcntl` just made, ours to close.
    unsafe { libc::close(dup) };
    Ok(slots)
}

/// The one descriptor a server holds in reserve: at `EMFILE` it is lent
/// out so that one waiting client can be accepted into its number and
/// refused politely (instead of waiting in the listen queue until it times
/// out), then taken back into that number once the client is closed.
///
/// One for the whole server, shared by every thread that accepts: while
/// it is lent, another shard's `accept` may take the freed number first.
/// That shard then sees the spare missing, refuses the client it just got
/// and takes the spare back into that number, so the spare is never lost
/// for good while clients keep arriving (with one spare per shard, a shard
/// whose number another took stayed without one, and its queue waited
/// until some client left).
pub(crate) struct Spare {
    /// The reserve descriptor, when held.
    held: Mutex<Option<File>>,
    /// Set while the descriptor is lent or not yet taken back: a client
    /// accepted meanwhile is refused to give its number back.
    missing: AtomicBool,
}

impl Spare {
    /// Takes the reserve descriptor now.
    pub(crate) fn new() -> Self {
        let held = File::open("/dev/null").ok();
        Self {
            missing: AtomicBool::new(held.is_none()),
            held: Mutex::new(held),
        }
    }

    /// Whether the descriptor is lent or not yet taken back: a client just
    /// accepted should be refused, and then [`Spare::restore`] called.
    pub(crate) fn is_missing(&self) -> bool {
        self.missing.load(Ordering::Acquire)
    }

    /// Gives the descriptor up while `accept` runs. Returns what `accept`
    /// returned, `None` when the spare is not held and cannot be taken
    /// now (nothing was run). The spare stays missing: the caller refuses
    /// the client `accept` got, if any, then calls [`Spare::restore`] to
    /// take it back into the number the client freed.
    pub(crate) fn lend<R>(&self, accept: impl FnOnce() -> R) -> Option<R> {
        let mut held = self.held.lock();
        if held.is_none() {
            *held = File::open("/dev/null").ok();
            held.as_ref()?;
        }
        self.missing.store(true, Ordering::Release);
        drop(held.take());
        Some(accept())
    }

    /// Takes the descriptor back if it is missing (just after a client was
    /// refused to free a number, or when accepting resumes); returns
    /// whether it is held now.
    pub(crate) fn restore(&self) -> bool {
        let mut held = self.held.lock();
        if held.is_none() {
            *held = File::open("/dev/null").ok();
        }
        self.missing.store(held.is_none(), Ordering::Release);
        held.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::{open_file_limit, pregrow_table, Spare};

    #[test]
    fn limit_is_readable() {
        let (soft, hard) = open_file_limit().unwrap();
        assert!(soft > 0 && soft <= hard);
    }

    #[test]
    fn table_grows_and_spare_cycles() {
        assert_eq!(pregrow_table(512).unwrap(), 512);
        let spare = Spare::new();
        assert!(!spare.is_missing());
        assert_eq!(spare.lend(|| spare.is_missing()), Some(true));
        assert!(spare.is_missing(), "missing until taken back");
        assert!(spare.restore());
        assert!(!spare.is_missing());
    }
}
