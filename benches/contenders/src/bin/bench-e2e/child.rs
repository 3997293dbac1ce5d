//! Child processes that never outlive the harness.
//!
//! A [`Guard`] owns a spawned process; dropping it kills the process (SIGKILL)
//! and reaps it, so every error path cleans up. [`Guard::stop`] is the polite
//! way: SIGTERM, a bounded grace period, then SIGKILL. Should the harness
//! itself die without unwinding (a signal), the kernel kills its children
//! too (`PR_SET_PDEATHSIG`).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::wait::poll_until;

/// A running child process, killed when dropped.
pub struct Guard {
    /// The process; `None` once it has been reaped.
    child: Option<Child>,
    /// What it is, for error messages.
    name: String,
}

/// Builds `taskset -c CPUS PROGRAM`: the program runs only on those CPUs.
pub fn pinned(cpus: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("taskset");
    cmd.arg("-c").arg(cpus).arg(program);
    cmd
}

impl Guard {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<Self, String> {
        let out = File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("dup {}: {e}", log.display()))?;
        // SAFETY: the hook runs between fork and exec and only calls prctl,
        // which is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("start {name} ({cmd:?}): {e}"))?;
        Ok(Self {
            child: Some(child),
            name: name.to_owned(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Returns the exit status if the process has ended, without waiting.
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>, String> {
        let Some(child) = self.child.as_mut() else {
            return Err(format!("{} was already reaped", self.name));
        };
        let status = child
            .try_wait()
            .map_err(|e| format!("wait for {}: {e}", self.name))?;
        if status.is_some() {
            self.child = None;
        }
        Ok(status)
    }

    /// Waits up to `timeout` for the process to end by itself.
    pub fn wait_for(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, String> {
        poll_until(timeout, || self.try_status())
    }

    /// Sends SIGTERM, waits up to `grace`, then SIGKILLs; returns how it ended.
    pub fn stop(mut self, grace: Duration) -> Result<ExitStatus, String> {
        if let Some(status) = self.try_status()? {
            return Ok(status);
        }
        self.signal(libc::SIGTERM);
        if let Some(status) = self.wait_for(grace)? {
            return Ok(status);
        }
        eprintln!(
            "bench-e2e: {} ignored SIGTERM for {grace:?}; killing it",
            self.name
        );
        self.kill_and_reap()
            .ok_or_else(|| format!("{} could not be killed", self.name))
    }

    /// Sends `sig` to the process if it still runs.
    fn signal(&self, sig: libc::c_int) {
        if let Some(pid) = self
            .child
            .as_ref()
            .and_then(|c| libc::pid_t::try_from(c.id()).ok())
        {
            // SAFETY: kill has no memory effects; the pid is our unreaped
            // child, so it cannot have been recycled for another process.
            unsafe { libc::kill(pid, sig) };
        }
    }

    /// SIGKILLs and reaps the process; `None` if that failed.
    fn kill_and_reap(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}
