//! Headless Chromium loading a page of the server under test, its DOM
//! read until it shows what the test waits for (by `chromium.py`, over
//! the DevTools protocol, under a deadline).

use std::path::Path;
use std::process::{Command, Stdio};

use super::components::require;
use super::{Child, DEADLINE};

/// The DOM of `url` once it contains `wanted`, or at the deadline
/// ([`DEADLINE`]), with whether `wanted` showed; `flags` go to Chromium,
/// `profile` is its own user-data directory (one per browser: tests run
/// at once).
pub fn dom_showing(url: &str, wanted: &str, flags: &[String], profile: &Path) -> (bool, String) {
    let chromium = require("chromium");
    let mut command = Command::new("python3");
    command
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/child/chromium.py"
        ))
        .arg(chromium)
        .arg(profile)
        .args([url, wanted, &DEADLINE.as_secs().to_string()])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut script = Child::spawn(&mut command);
    let mut lines = script.stdout_lines();
    let status = script.wait_within(DEADLINE * 2, "chromium.py");
    let dom = lines.rest().join("\n");
    let _ = std::fs::remove_dir_all(profile);
    (status.success(), dom)
}
