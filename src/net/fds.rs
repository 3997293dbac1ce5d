//! The process's descriptors: its limit, its table, the spare one each
//! shard keeps for refusing clients when the limit is reached.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

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

/// One descriptor a shard holds in reserve: at `EMFILE` it is given up so
/// that one waiting client can be accepted and closed politely (instead of
/// waiting in the listen queue until it times out), then taken back.
#[derive(Default)]
pub(crate) struct Spare(Option<File>);

impl Spare {
    /// Takes the reserve descriptor if it is not held; returns whether it
    /// is held now.
    pub(crate) fn take(&mut self) -> bool {
        if self.0.is_none() {
            self.0 = File::open("/dev/null").ok();
        }
        self.0.is_some()
    }

    /// Gives the reserve descriptor up; returns whether one was held.
    pub(crate) fn release(&mut self) -> bool {
        self.0.take().is_some()
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
        let mut spare = Spare::default();
        assert!(spare.take());
        assert!(spare.release());
        assert!(!spare.release());
    }
}
