//! `esockets._esockets`: the native half of the Python package. The
//! shards are esockets' own; a shard's Python callbacks of one loop round
//! run under one hold of the interpreter lock, taken at the first and
//! given back at the round's end, never while the shard polls. The
//! Python half (`esockets/__init__.py`, `esockets/modern.py`,
//! `ESocketS.py`) builds the original API and the modern one on it.

mod client;
mod core;
mod current;
mod errors;
mod gil;
mod handle;
mod handler;
mod options;
mod protocols;

use pyo3::prelude::*;

/// `(holds, releases)`: how many times the shards took the interpreter
/// lock for a loop round, and gave it back (equal while none holds it).
#[pyfunction]
fn lock_counts() -> (u64, u64) {
    gil::counts()
}

/// The module. `gil_used = false`: in a free-threaded CPython the shards
/// run Python callbacks in parallel (every object here is thread-safe).
#[pymodule(gil_used = false)]
fn _esockets(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<core::Core>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<handle::Handle>()?;
    m.add("TRACEBACKS_PER_SECOND", errors::TRACEBACKS_PER_SECOND)?;
    m.add("PROTOCOLS", protocols::NAMES)?;
    m.add_function(wrap_pyfunction!(lock_counts, m)?)?;
    Ok(())
}
