//! Systemd socket activation: listening sockets passed to the process as
//! descriptors 3, 4, ... with `LISTEN_FDS` (how many) and `LISTEN_PID`
//! (for which process), as `sd_listen_fds(3)` reads them.

use std::os::fd::RawFd;

use crate::error::Error;
use crate::net::listener;

/// The first descriptor systemd passes (after stdin, stdout, stderr).
const FIRST_PASSED: RawFd = 3;

/// The variables systemd sets for the activated process.
const VARIABLES: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// The listening TCP sockets systemd passed to this process (empty when
/// it passed none, or passed them to another process: `LISTEN_PID` is
/// not ours), close-on-exec.
///
/// Reads `LISTEN_PID` and `LISTEN_FDS`, then removes them (and
/// `LISTEN_FDNAMES`) from the environment, so a process started later
/// does not take the descriptors for its own. Call it once, at start-up,
/// before other threads run: changing the environment while another
/// thread reads it is a data race in libc. Serve them with
/// [`Server::from_listeners`](crate::Server::from_listeners).
///
/// # Errors
///
/// [`Error::Passed`] when the variables are malformed, or a passed
/// descriptor is not a listening TCP socket.
pub fn systemd_listeners() -> Result<Vec<std::net::TcpListener>, Error> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    for name in VARIABLES {
        std::env::remove_var(name);
    }
    let count = passed_count(pid.as_deref(), fds.as_deref(), std::process::id())
        .map_err(|reason| Error::Passed { reason })?;
    (0..count)
        .map(|index| {
            let fd = FIRST_PASSED.saturating_add(RawFd::try_from(index).unwrap_or(RawFd::MAX));
            listener::passed_listener(fd).map_err(|reason| Error::Passed {
                reason: format!("descriptor {fd}: {reason}"),
            })
        })
        .collect()
}

/// How many descriptors were passed to the process `ours`, from the
/// values of `LISTEN_PID` and `LISTEN_FDS`.
fn passed_count(pid: Option<&str>, fds: Option<&str>, ours: u32) -> Result<usize, String> {
    let Some(pid) = pid else { return Ok(0) };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_PID is not a process id: {pid:?}"))?;
    if pid != ours {
        return Ok(0); // meant for another process (one that started us)
    }
    let fds = fds.ok_or("LISTEN_PID names this process but LISTEN_FDS is not set")?;
    let count: usize = fds
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_FDS is not a number: {fds:?}"))?;
    // Descriptors are `int`s; systemd passes at most a few thousand.
    if count > 65_536 {
        return Err(format!("LISTEN_FDS is {count}: too many"));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::passed_count;

    #[test]
    fn nothing_passed_without_listen_pid() {
        assert_eq!(passed_count(None, Some("2"), 7), Ok(0));
    }

    #[test]
    fn sockets_for_another_process_are_not_ours() {
        assert_eq!(passed_count(Some("8"), Some("2"), 7), Ok(0));
    }

    #[test]
    fn sockets_for_this_process_are_counted() {
        assert_eq!(passed_count(Some("7"), Some("2"), 7), Ok(2));
        assert_eq!(passed_count(Some(" 7\n"), Some("0"), 7), Ok(0));
    }

    #[test]
    fn malformed_variables_are_errors_that_name_them() {
        let err = passed_count(Some("x"), Some("2"), 7).unwrap_err();
        assert!(err.contains("LISTEN_PID"), "{err}");
        let err = passed_count(Some("7"), Some("two"), 7).unwrap_err();
        assert!(err.contains("LISTEN_FDS"), "{err}");
        let err = passed_count(Some("7"), None, 7).unwrap_err();
        assert!(err.contains("LISTEN_FDS"), "{err}");
    }
}
