//! What the kernel says about a server process: resident memory and open
//! descriptors, read from `/proc`.

use std::fs;
use std::time::Duration;

use crate::wait::poll_every;

/// Resident set size (VmRSS) of `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .ok_or_else(|| format!("no VmRSS in {path}"))?;
    let kib: u64 = line
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .map_err(|e| format!("bad VmRSS {line:?}: {e}"))?;
    Ok(kib * 1024)
}

/// Number of open descriptors of `pid`.
pub fn fd_count(pid: u32) -> Result<usize, String> {
    let path = format!("/proc/{pid}/fd");
    let dir = fs::read_dir(&path).map_err(|e| format!("list {path}: {e}"))?;
    Ok(dir.count())
}

/// RSS once it stops moving: two samples 100 ms apart within 64 KiB, or the
/// last sample after `timeout`.
pub fn settled_rss(pid: u32, timeout: Duration) -> Result<u64, String> {
    const STEP: Duration = Duration::from_millis(100);
    let mut last = None;
    let settled = poll_every(STEP, timeout, || {
        let now = rss_bytes(pid)?;
        let stable = last.is_some_and(|prev: u64| prev.abs_diff(now) < 64 * 1024);
        last = Some(now);
        Ok(stable.then_some(now))
    })?;
    match settled.or(last) {
        Some(rss) => Ok(rss),
        None => rss_bytes(pid),
    }
}
