//! External programs the harness needs, checked before the first run so a
//! missing one gets a message that says how to install it, not an opaque
//! failure deep in a run.

use std::io::ErrorKind;
use std::process::{Command, Stdio};

use crate::workload::{Kind, Workload};

/// Checks that every program `workloads` need can be started.
///
/// # Errors
///
/// Which program is missing, what needs it and how to install it.
pub fn check(workloads: &[Workload]) -> Result<(), String> {
    require(
        "taskset",
        "every run (it pins servers and loadgen to CPUs)",
        "sudo apt-get install -y util-linux",
    )?;
    if workloads.iter().any(|w| matches!(w.kind, Kind::Callgrind)) {
        require(
            "valgrind",
            "the callgrind workload",
            "sudo apt-get install -y valgrind",
        )
        .map_err(|err| {
            format!("{err}; or leave callgrind out, e.g. --workloads pingpong64-1000,idle-memory")
        })?;
    }
    Ok(())
}

/// Checks that `program` can be started (with `--version`).
///
/// # Errors
///
/// A message naming `program`, what it is `needed_by`, and the `install`
/// command.
pub fn require(program: &str, needed_by: &str, install: &str) -> Result<(), String> {
    let started = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match started {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => Err(format!(
            "{program} is not installed (or not on PATH) and {needed_by} needs it: \
             install it with `{install}` (Debian, Ubuntu)"
        )),
        Err(err) => Err(format!(
            "cannot start {program}, which {needed_by} needs: {err}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::require;

    #[test]
    fn a_missing_program_says_how_to_install_it() {
        let err = require(
            "no-such-program-esockets",
            "the test",
            "sudo apt-get install -y no-such-program",
        )
        .unwrap_err();
        assert!(
            err.contains("no-such-program-esockets is not installed"),
            "{err}"
        );
        assert!(
            err.contains("`sudo apt-get install -y no-such-program`"),
            "{err}"
        );
    }

    #[test]
    fn a_present_program_passes() {
        require("sh", "the test", "-").unwrap_or_else(|err| panic!("{err}"));
    }
}
