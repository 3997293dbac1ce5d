//! A network namespace made for one test (`ip netns`), where
//! `net.ipv4.tcp_migrate_req` can be set without touching the machine;
//! deleted on drop. Where namespaces cannot be made (not root, no `ip`),
//! a test says so on the real stderr and skips, or fails when `CI` is set:
//! never silently.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// A network namespace made for one test, deleted on drop.
pub struct Namespace {
    /// Its name, under /var/run/netns.
    pub name: String,
}

impl Namespace {
    /// A new namespace with loopback up and `tcp_migrate_req` set to
    /// `migrate`, or `None` (after saying why) where namespaces cannot be
    /// made here. With `CI` set, that is a failure instead.
    pub fn create(migrate: u8) -> Option<Self> {
        static MADE: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "esockets-restart-{}-{}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        );
        if let Err(why) = ip(&["netns", "add", &name]) {
            let message = format!(
                "cannot create a network namespace ({why}): this test needs root \
                 (CAP_SYS_ADMIN) and iproute2's `ip`"
            );
            skip(&message);
            return None;
        }
        let namespace = Self { name };
        namespace
            .exec(&["ip", "link", "set", "lo", "up"])
            .expect("loopback up in the namespace");
        let setting = format!("net.ipv4.tcp_migrate_req={migrate}");
        if let Err(why) = namespace.exec(&["sysctl", "-w", &setting]) {
            let message = format!(
                "cannot set {setting} in the namespace ({why}): the kernel needs to be Linux \
                 5.14 or later"
            );
            skip(&message);
            return None;
        }
        Some(namespace)
    }

    /// Runs `args` inside the namespace, to completion.
    pub fn exec(&self, args: &[&str]) -> Result<(), String> {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Moves the calling thread into the namespace: sockets it makes from
    /// then on live there.
    pub fn enter(&self) {
        let file = File::open(format!("/var/run/netns/{}", self.name)).expect("open the netns");
        // SAFETY: setns on a namespace descriptor we hold; it changes only
        // the calling thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Says why a test in a namespace cannot run here, on the real stderr (not
/// the test harness's captured output, which a passing test hides); with
/// `CI` set, fails instead.
fn skip(message: &str) {
    assert!(std::env::var_os("CI").is_none(), "{message}");
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let line = format!("SKIPPED {test}: {message}; set CI=1 to make this a failure\n");
    // Ignored: with stderr gone there is nobody left to tell.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Runs `ip` with `args`; its error output on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("ip: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
