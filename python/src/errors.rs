//! Reporting a callback's exception: its traceback on stderr (Python's
//! own printing), at most [`TRACEBACKS_PER_SECOND`] a second for the
//! whole process, with the count of those left out said when printing
//! resumes, so a handler that raises for every client cannot flood the
//! log or slow the shards down with printing.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Tracebacks printed per second at most.
pub(crate) const TRACEBACKS_PER_SECOND: u32 = 10;

/// The window the limit counts in.
const WINDOW: Duration = Duration::from_secs(1);

/// The limit's state.
struct Limit {
    /// Start of the current window.
    since: Option<Instant>,
    /// Tracebacks printed in it.
    printed: u32,
    /// Tracebacks left out since the last one printed.
    suppressed: u64,
}

/// The process-wide limit (shards share stderr).
static LIMIT: Mutex<Limit> = Mutex::new(Limit {
    since: None,
    printed: 0,
    suppressed: 0,
});

/// Whether a traceback may be printed now, and how many were left out
/// before it; `None` when it is one to leave out.
fn allow(now: Instant) -> Option<u64> {
    let mut limit = LIMIT.lock().unwrap_or_else(PoisonError::into_inner);
    if limit
        .since
        .is_none_or(|since| now.duration_since(since) >= WINDOW)
    {
        limit.since = Some(now);
        limit.printed = 0;
    }
    if limit.printed >= TRACEBACKS_PER_SECOND {
        limit.suppressed += 1;
        return None;
    }
    limit.printed += 1;
    Some(std::mem::take(&mut limit.suppressed))
}

/// `what` (a callback's name) raised `err`: prints it with its traceback,
/// within the limit. The caller closes that client.
pub(crate) fn report(py: Python<'_>, err: PyErr, what: &str) {
    let Some(suppressed) = allow(Instant::now()) else {
        return;
    };
    if suppressed > 0 {
        eprintln!(
            "esockets: {suppressed} more callback exceptions not shown (at most \
             {TRACEBACKS_PER_SECOND} a second)"
        );
    }
    eprintln!("esockets: {what} raised; closing that client");
    err.print(py);
}
