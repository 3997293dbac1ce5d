//! The interpreter lock as a shard holds it: taken at the first Python
//! callback of a loop round, given back at the round's end
//! (`Handler::on_round_end`), so a round's callbacks share one
//! acquisition and the shard never holds the lock while it polls.
//!
//! The shard thread gets its Python thread state once, at `on_start`,
//! and keeps it until the handler is dropped: taking and giving back the
//! lock is then `PyEval_RestoreThread` / `PyEval_SaveThread`, with no
//! thread state made and freed per round. In a free-threaded build the
//! same calls attach and detach the thread state, and shards run Python
//! in parallel.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::ffi;

/// Times a shard took the lock for a round, in this process.
static HOLDS: AtomicU64 = AtomicU64::new(0);
/// Times a shard gave it back at a round's end (or its own end).
static RELEASES: AtomicU64 = AtomicU64::new(0);

/// How many times shards took the interpreter lock for a round, and gave
/// it back: equal whenever no shard holds it (as while they all poll).
pub(crate) fn counts() -> (u64, u64) {
    (
        HOLDS.load(Ordering::Relaxed),
        RELEASES.load(Ordering::Relaxed),
    )
}

/// One shard thread's hold on the interpreter.
pub(crate) struct RoundLock {
    /// What `PyGILState_Ensure` returned at attach; `None` before.
    state: Option<ffi::PyGILState_STATE>,
    /// The thread state put aside while the lock is given back; null
    /// while this thread holds the lock (or before attach).
    saved: *mut ffi::PyThreadState,
}

impl RoundLock {
    /// Not attached yet: [`attach`](Self::attach) on the shard thread.
    pub(crate) fn new() -> Self {
        Self {
            state: None,
            saved: std::ptr::null_mut(),
        }
    }

    /// Gives this thread a Python thread state and leaves the lock
    /// free. Called once, on the shard thread, before any [`hold`](Self::hold).
    pub(crate) fn attach(&mut self) {
        if self.state.is_some() {
            return;
        }
        // SAFETY: the interpreter is running (a `Core` made from Python
        // started this server); Ensure takes the lock and a thread state
        // for this thread, SaveThread gives the lock back and hands us
        // that state, restored in `hold`.
        unsafe {
            self.state = Some(ffi::PyGILState_Ensure());
            self.saved = ffi::PyEval_SaveThread();
        }
    }

    /// Takes the lock unless this thread holds it already (the round's
    /// first callback takes it; the others find it held).
    #[inline]
    pub(crate) fn hold(&mut self) {
        if self.saved.is_null() {
            // Held, or never attached (then `Python::with_gil` takes it).
            return;
        }
        // SAFETY: `saved` is this thread's state, put aside by SaveThread.
        unsafe { ffi::PyEval_RestoreThread(self.saved) };
        self.saved = std::ptr::null_mut();
        HOLDS.fetch_add(1, Ordering::Relaxed);
    }

    /// Gives the lock back if this thread holds it (at the round's end).
    #[inline]
    pub(crate) fn release(&mut self) {
        if self.state.is_none() || !self.saved.is_null() {
            return;
        }
        // SAFETY: attached and held: SaveThread gives it back.
        self.saved = unsafe { ffi::PyEval_SaveThread() };
        RELEASES.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for RoundLock {
    /// Gives the thread state back (on the shard thread, at its end).
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        self.hold();
        // SAFETY: held, with the state Ensure made: Release frees it and
        // gives the lock back.
        unsafe { ffi::PyGILState_Release(state) };
        RELEASES.fetch_add(1, Ordering::Relaxed);
    }
}
