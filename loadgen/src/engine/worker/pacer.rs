//! A nanosecond wake-up for the open-loop schedule. `epoll_wait` counts
//! its timeout in whole milliseconds, which alone makes sends up to 1 ms
//! late; a `timerfd` registered in the poll wakes it at the instant the
//! next send is due (with the thread's timer slack cut to 1 ns, the kernel
//! does not round that instant either). Linux only, like loadgen.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// Token of the pacer in a worker's poll (connections use their index).
pub const PACER_TOKEN: Token = Token(usize::MAX);

/// A one-shot monotonic timer that makes a poll readable when it fires.
#[derive(Debug)]
pub struct Pacer {
    fd: OwnedFd,
}

impl Pacer {
    /// Creates the timer, registers it with `registry` and cuts this
    /// thread's timer slack to 1 ns.
    ///
    /// # Errors
    ///
    /// When `timerfd_create` or the registration fails.
    pub fn new(registry: &Registry) -> io::Result<Self> {
        // SAFETY: plain syscall with constant flags; the result is checked.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(
            &mut SourceFd(&fd.as_raw_fd()),
            PACER_TOKEN,
            Interest::READABLE,
        )?;
        // SAFETY: PR_SET_TIMERSLACK takes an unsigned long and affects only
        // the calling thread; failure only leaves the default 50 µs slack.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        Ok(Self { fd })
    }

    /// Fires once, `after` from now (at least 1 ns: zero would disarm).
    /// Re-arming also clears an earlier expiry, so the poll reports the
    /// timer readable only for this one.
    ///
    /// # Errors
    ///
    /// When `timerfd_settime` fails.
    pub fn arm(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: the fd is open for `self`'s lifetime; `spec` is a valid
        // itimerspec; the old value is not asked for (null).
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};
    use std::time::Instant;

    #[test]
    fn wakes_the_poll_well_before_a_millisecond() {
        let mut poll = Poll::new().unwrap();
        let pacer = Pacer::new(poll.registry()).unwrap();
        let mut events = Events::with_capacity(4);
        let mut best = Duration::MAX;
        for _ in 0..20 {
            let t0 = Instant::now();
            pacer.arm(Duration::from_micros(200)).unwrap();
            poll.poll(&mut events, Some(Duration::from_secs(1)))
                .unwrap();
            assert!(events.iter().any(|e| e.token() == PACER_TOKEN));
            best = best.min(t0.elapsed());
        }
        // A millisecond epoll timeout could not return before 1 ms; the
        // timer does (the best of 20 tries, so a busy machine passes).
        assert!(best >= Duration::from_micros(200), "{best:?}");
        assert!(best < Duration::from_micros(900), "{best:?}");
    }
}
