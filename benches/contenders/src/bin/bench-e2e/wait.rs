//! Bounded waiting: every wait in the harness polls a condition until a
//! deadline instead of sleeping a guessed amount of time.

use std::thread;
use std::time::{Duration, Instant};

/// How often conditions are re-checked.
pub const POLL: Duration = Duration::from_millis(20);

/// Calls `check` every `POLL` until it yields a value or `timeout` passes.
///
/// Returns `Ok(None)` on timeout; errors from `check` end the wait at once.
pub fn poll_until<T>(
    timeout: Duration,
    check: impl FnMut() -> Result<Option<T>, String>,
) -> Result<Option<T>, String> {
    poll_every(POLL, timeout, check)
}

/// Like [`poll_until`], checking every `interval`.
pub fn poll_every<T>(
    interval: Duration,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<T>, String>,
) -> Result<Option<T>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check()? {
            return Ok(Some(value));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(interval.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_at_the_deadline() {
        let start = Instant::now();
        let got: Option<()> = poll_until(Duration::from_millis(60), || Ok(None)).expect("no error");
        assert!(got.is_none());
        assert!(start.elapsed() >= Duration::from_millis(60));
    }

    #[test]
    fn returns_as_soon_as_ready() {
        let mut calls = 0;
        let got = poll_until(Duration::from_secs(5), || {
            calls += 1;
            Ok((calls == 3).then_some(calls))
        });
        assert_eq!(got, Ok(Some(3)));
    }
}
