//! Process limits and accounting: the open-file limit (raised to the hard
//! limit before a run), the ephemeral port range, and CPU time.

use std::time::Duration;

use crate::Failure;

/// File descriptors a run needs besides its connections (polls, wakers,
/// stdio, log files).
pub const FD_RESERVE: u64 = 64;

/// Raises the soft open-file limit to the hard one and returns
/// `(soft, hard)` after the change.
pub fn raise_nofile() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let want = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `want` is a valid rlimit; setrlimit only reads it.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Fails with a clear message when `connections` cannot be opened under
/// the open-file limit (after raising the soft limit to the hard one).
pub fn check_nofile(connections: u64) -> Result<(), Failure> {
    let (soft, hard) =
        raise_nofile().map_err(|e| Failure::Runtime(format!("cannot read RLIMIT_NOFILE: {e}")))?;
    let need = connections + FD_RESERVE;
    if need > soft {
        return Err(Failure::Usage(format!(
            "--connections {connections} needs about {need} open files but this process may \
             open {soft} (RLIMIT_NOFILE soft {soft}, hard {hard}); raise the hard limit \
             (`ulimit -Hn`, /etc/security/limits.conf, systemd LimitNOFILE) or ask for at \
             most {} connections",
            soft.saturating_sub(FD_RESERVE)
        )));
    }
    Ok(())
}

/// Number of local ports the kernel hands out per (source, destination)
/// pair, from `/proc/sys/net/ipv4/ip_local_port_range`.
pub fn ephemeral_ports() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(str::parse::<u64>);
    let lo = it.next()?.ok()?;
    let hi = it.next()?.ok()?;
    Some(hi.saturating_sub(lo) + 1)
}

/// CPU time used by this process so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    /// Time in user mode.
    pub user: Duration,
    /// Time in the kernel.
    pub sys: Duration,
}

impl CpuTime {
    /// Reads `getrusage(RUSAGE_SELF)`.
    pub fn now() -> Self {
        // SAFETY: rusage is plain old data; all-zero is a valid value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid, writable rusage for the duration of the call.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
            return Self::default();
        }
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        Self {
            user: tv(ru.ru_utime),
            sys: tv(ru.ru_stime),
        }
    }

    /// CPU time between `earlier` and `self`.
    pub fn since(&self, earlier: &CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nofile_check_refuses_absurd_counts() {
        let err = check_nofile(u64::MAX / 2).unwrap_err();
        assert!(err.message().contains("RLIMIT_NOFILE"), "{}", err.message());
        assert!(check_nofile(1).is_ok());
    }

    #[test]
    fn cpu_time_advances_when_spinning() {
        // Spin until 50 ms of CPU time show up (on a busy machine a thread
        // may get a small share of the wall time), within a deadline.
        let before = CpuTime::now();
        let mut x = 0u64;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let used = loop {
            for _ in 0..100_000 {
                x = x.wrapping_add(std::hint::black_box(1));
            }
            let used = CpuTime::now().since(&before);
            if used.user + used.sys >= Duration::from_millis(50)
                || std::time::Instant::now() >= deadline
            {
                break used;
            }
        };
        assert!(x > 0);
        assert!(
            used.user + used.sys >= Duration::from_millis(50),
            "{used:?}"
        );
    }
}
