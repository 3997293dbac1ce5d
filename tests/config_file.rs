//! Issue 20, items 9 and 10: `esockets --config FILE` and `ESOCKETS_*`
//! variables set every option (a flag over the environment over the
//! file), the start-up report says where each value came from, bad files
//! are refused naming the line, and SIGHUP re-reads the file while the
//! server keeps serving.

mod child;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use child::server::{client, Server};
use child::{esockets, Child, DEADLINE};

/// A configuration file of the test's own, removed when dropped.
struct ConfigFile {
    /// Its directory (of this test alone).
    dir: PathBuf,
    /// The file.
    path: PathBuf,
}

impl ConfigFile {
    /// `esockets.toml` holding `text`, in a directory named after `test`.
    fn new(test: &str, text: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("esockets-config-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the test directory");
        let file = Self {
            path: dir.join("esockets.toml"),
            dir,
        };
        file.write(text);
        file
    }

    /// Replaces its contents at once (a new file renamed over it, as
    /// editors and deployment tools do), so a reload never reads half.
    fn write(&self, text: &str) {
        let next = self.dir.join("esockets.toml.new");
        std::fs::write(&next, text).expect("write the configuration file");
        std::fs::rename(&next, &self.path).expect("rename the configuration file");
    }

    /// Its path, as text.
    fn path(&self) -> &str {
        self.path.to_str().expect("a UTF-8 path")
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `command`, which must exit with status 2 (options refused) before
/// serving; returns its stderr.
fn refused(mut command: std::process::Command) -> String {
    command.stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stderr_lines();
    let status = child.wait_within(DEADLINE, "refused options");
    let text = lines.rest().join("\n");
    assert_eq!(status.code(), Some(2), "{text}");
    text
}

/// Sends `line` on `stream` and reads back as many bytes.
fn echoes(stream: &mut std::net::TcpStream, line: &[u8]) {
    stream.write_all(line).expect("write");
    let mut back = vec![0; line.len()];
    stream.read_exact(&mut back).expect("read the echo");
    assert_eq!(back, line);
}

#[test]
fn a_file_sets_options_and_the_report_names_its_lines() {
    let file = ConfigFile::new(
        "sets",
        "# esockets\nbind = \"127.0.0.1:0\"\nthreads = 1\nprotocol = \"line-echo\"\nmax-line = \"16\"\n",
    );
    let mut server = Server::spawn(&["--config", file.path()]);
    let at = |line: usize| format!("(from {}:{line})", file.path());
    let lines = server.wait_for_lines(&[
        "esockets listening",
        "longest line 16 B",
        "shards: 1 ",
        &format!("option threads = 1 {}", at(3)),
        &format!("option protocol = line-echo {}", at(4)),
        &format!("option max-line = 16 {}", at(5)),
    ]);
    assert!(lines[0].contains("protocol=line-echo"), "{lines:?}");
    let addr = child::address_in(&lines[0]);
    let mut stream = client(addr);
    echoes(&mut stream, b"hello\n");
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn the_environment_wins_over_the_file_and_a_flag_over_both() {
    let file = ConfigFile::new(
        "precedence",
        "bind = \"127.0.0.1:0\"\nthreads = 2\nmax-connections = 10\nprotocol = \"pubsub\"\n",
    );
    let mut command = esockets(&["--config", file.path(), "--threads", "1"]);
    command
        .env("ESOCKETS_MAX_CONNECTIONS", "20")
        .env("ESOCKETS_THREADS", "3");
    let mut server = Server::start(&mut command);
    server.wait_for_lines(&[
        "esockets listening",
        "shards: 1 ",
        "at most 20 clients",
        "option threads = 1 (from the command line)",
        "option max-connections = 20 (from ESOCKETS_MAX_CONNECTIONS)",
        &format!("option protocol = pubsub (from {}:4)", file.path()),
    ]);
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn the_file_may_be_named_by_the_environment() {
    let file = ConfigFile::new("named", "bind = \"127.0.0.1:0\"\nthreads = 1\n");
    let mut command = esockets(&[]);
    command.env("ESOCKETS_CONFIG", file.path());
    let mut server = Server::start(&mut command);
    server.wait_for_lines(&["esockets listening", "shards: 1 "]);
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let file = ConfigFile::new("unknown", "threads = 1\n\nmax-conections = 5\n");
    let text = refused(esockets(&["--config", file.path()]));
    assert!(
        text.contains(&format!(
            "{}:3: unknown key \"max-conections\" (did you mean \"max-connections\"?)",
            file.path()
        )),
        "{text}"
    );
}

#[test]
fn a_bad_value_is_refused_with_its_line() {
    let file = ConfigFile::new("bad", "threads = 1\nread-buffer = \"lots\"\n");
    let text = refused(esockets(&["--config", file.path()]));
    assert!(
        text.contains(&format!(
            "{}:2: read-buffer: invalid value \"lots\": ",
            file.path()
        )),
        "{text}"
    );
    let mut command = esockets(&[]);
    command.env("ESOCKETS_MAX_CONNECTIONS", "many");
    let text = refused(command);
    assert!(
        text.contains("ESOCKETS_MAX_CONNECTIONS: invalid value \"many\": "),
        "{text}"
    );
}

#[test]
fn an_unreadable_file_is_named() {
    let file = ConfigFile::new("unreadable", "");
    let missing = Path::new(file.path()).with_file_name("absent.toml");
    let missing = missing.to_str().expect("a UTF-8 path");
    let text = refused(esockets(&["--config", missing]));
    assert!(
        text.contains(&format!("cannot read the configuration file {missing}: ")),
        "{text}"
    );
}

#[test]
fn sighup_reports_what_needs_a_restart_and_goes_on_serving() {
    let file = ConfigFile::new(
        "restart",
        "bind = \"127.0.0.1:0\"\nthreads = 1\nidle-timeout = \"off\"\n",
    );
    let mut server = Server::spawn(&["--config", file.path()]);
    let addr = server.listening_addr();
    server.wait_for_line("option threads = 1");
    let mut before = client(addr);
    echoes(&mut before, b"before\n");
    file.write("bind = \"127.0.0.1:0\"\nthreads = 2\nidle-timeout = \"off\"\n");
    server.signal(libc::SIGHUP);
    server.wait_for_lines(&[
        "needs a restart: threads (1 -> 2)",
        "reload: applied: none; needs a restart: threads; failed: none",
    ]);
    echoes(&mut before, b"after\n");
    echoes(&mut client(addr), b"new\n");
    let (status, total) = server.stop();
    assert!(status.success(), "{total}");
}

#[test]
fn sighup_with_a_broken_file_keeps_the_configuration() {
    let text = "bind = \"127.0.0.1:0\"\nthreads = 1\n";
    let file = ConfigFile::new("broken", text);
    let mut server = Server::spawn(&["--config", file.path()]);
    let addr = server.listening_addr();
    let mut before = client(addr);
    echoes(&mut before, b"before\n");
    for (broken, why) in [
        ("threads = 1\nbacklog = \n", ":2: not TOML"),
        ("threads = 1\nbaclog = 5\n", ":2: unknown key \"baclog\""),
        ("threads = \"one\"\n", ":1: threads: invalid value \"one\""),
    ] {
        file.write(broken);
        server.signal(libc::SIGHUP);
        let line = server.wait_for_line("reload failed");
        assert!(
            line.contains("the configuration in force stays")
                && line.contains(&format!("{}{why}", file.path())),
            "{line}"
        );
    }
    // The configuration in force is still the first: back to it, nothing
    // changed.
    file.write(text);
    server.signal(libc::SIGHUP);
    server.wait_for_line("reload: applied: none; needs a restart: none; failed: none");
    echoes(&mut before, b"after\n");
    let (status, total) = server.stop();
    assert!(status.success(), "{total}");
}
