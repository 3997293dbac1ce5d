//! Issue 12: options accept sizes and durations with or without units, and
//! every bad value gets an error that names the flag typed and what it
//! accepts.

mod child;

use std::process::Stdio;
use std::time::Duration;

use child::{esockets, Child};

/// Runs `esockets` with `args`, which must be refused before it serves;
/// returns its stderr.
fn refused(args: &[&str]) -> String {
    let mut command = esockets(args);
    command.stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stderr_lines();
    let status = child.wait_within(Duration::from_secs(20), "a refused option");
    let text = lines.rest().join("\n");
    assert!(!status.success(), "{args:?} was accepted: {text}");
    text
}

/// Asserts `text` contains each of `needles`.
fn says(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
}

#[test]
fn sizes_and_durations_with_units_are_accepted() {
    let mut command = esockets(&[
        "--bind",
        "127.0.0.1:0",
        "--threads",
        "1",
        "--output-limit",
        "16MiB",
        "--high-water",
        "1.5MiB",
        "--low-water",
        "64KiB",
        "--input-limit",
        "1MB",
        "--read-buffer",
        "65536",
        "--close-timeout",
        "2",
    ]);
    command.stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stderr_lines();
    let limits = lines.wait_for("per client:");
    says(
        &limits,
        &[
            "above 1.5 MiB",
            "at 64 KiB",
            "above 16 MiB",
            "up to 1000000 B",
        ],
    );
    let drain = lines.wait_for("stop with Ctrl-C");
    says(&drain, &["up to 2s"]);
    child.signal(libc::SIGTERM);
    let status = child.wait_within(Duration::from_secs(20), "SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn a_bad_size_names_its_flag_and_the_forms_accepted() {
    let text = refused(&["--output-limit", "16XB"]);
    says(&text, &["--output-limit", "unknown unit", "KiB", "MB"]);
    let text = refused(&["--read-buffer", "lots"]);
    says(&text, &["--read-buffer", "64KiB"]);
}

#[test]
fn a_bad_duration_names_its_flag_and_the_forms_accepted() {
    let text = refused(&["--close-timeout", "soon"]);
    says(&text, &["--close-timeout", "5 (seconds)", "500ms"]);
}

#[test]
fn config_errors_name_flags_and_ranges() {
    let text = refused(&["--bind", "127.0.0.1:0", "--threads", "0"]);
    says(&text, &["--threads must be 1 to 65535, got 0"]);
    let text = refused(&["--bind", "127.0.0.1:0", "--low-water", "2MiB"]);
    says(&text, &["--low-water must be below --high-water"]);
    let text = refused(&["--bind", "127.0.0.1:0", "--close-timeout", "2d"]);
    says(&text, &["--close-timeout must be at most"]);
    let text = refused(&["--bind", "127.0.0.1:0", "--read-budget", "0"]);
    says(&text, &["--read-budget must be at least 1"]);
}

#[test]
fn max_line_zero_is_refused() {
    let text = refused(&[
        "--bind",
        "127.0.0.1:0",
        "--protocol",
        "line-echo",
        "--max-line",
        "0",
    ]);
    says(&text, &["--max-line must be at least 1"]);
}

#[test]
fn an_address_without_a_port_says_what_to_type() {
    let text = refused(&["--bind", "0.0.0.0"]);
    says(&text, &["--bind", "has no port", "--bind 0.0.0.0:1234"]);
    let text = refused(&["--bind", "localhost"]);
    says(&text, &["--bind localhost:1234"]);
    let text = refused(&["--bind", "no-such-host.invalid:1234"]);
    says(&text, &["cannot resolve", "--bind 127.0.0.1:1234"]);
}

#[test]
fn a_host_name_is_resolved() {
    let mut command = esockets(&["--bind", "localhost:0", "--threads", "1"]);
    command.stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stderr_lines();
    let line = lines.wait_for("esockets listening");
    let addr = child::address_in(&line);
    assert!(addr.ip().is_loopback(), "{line}");
    child.signal(libc::SIGTERM);
    let status = child.wait_within(Duration::from_secs(20), "SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn more_threads_than_cores_is_a_warning() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores + 1).to_string();
    let mut command = esockets(&["--bind", "127.0.0.1:0", "--threads", &threads]);
    command.stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stderr_lines();
    let warning = lines.wait_for("WARN");
    says(
        &warning,
        &[
            &format!("--threads {threads} is more than the cores this process may use ({cores})"),
            "docs/tuning.md",
        ],
    );
    child.signal(libc::SIGTERM);
    let status = child.wait_within(Duration::from_secs(20), "SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn help_explains_units() {
    let mut command = esockets(&["--help"]);
    command.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stdout_lines();
    let status = child.wait_within(Duration::from_secs(20), "--help");
    assert!(status.success(), "{status}");
    let text = lines.rest().join("\n");
    says(
        &text,
        &[
            "Durations are seconds (5, 0.5)",
            "Sizes are bytes (65536)",
            "[default: 16MiB]",
            "take off, their only spelling: 0 is refused there",
            "[default: off]",
        ],
    );
}

#[test]
fn a_metrics_address_without_a_port_hints_at_metrics_not_bind() {
    let text = refused(&["--bind", "127.0.0.1:0", "--metrics", "127.0.0.1"]);
    says(&text, &["--metrics", "type --metrics 127.0.0.1:9100"]);
    assert!(!text.contains("type --bind"), "{text}");
}

/// Starts `esockets` with `args`, returns the first line containing
/// `needle`, and stops it.
fn start_up_line(args: &[&str], needle: &str) -> String {
    let mut command = esockets(args);
    command.stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stderr_lines();
    let line = lines.wait_for(needle);
    child.signal(libc::SIGTERM);
    let status = child.wait_within(Duration::from_secs(20), "SIGTERM");
    assert!(status.success(), "{status}");
    line
}

#[test]
fn off_is_the_one_spelling_of_off_for_every_duration_that_can_be_off() {
    let line = start_up_line(
        &[
            "--bind",
            "127.0.0.1:0",
            "--threads",
            "1",
            "--idle-timeout",
            "off",
            "--keepalive",
            "OFF",
            "--user-timeout",
            "off",
            "--stall-threshold",
            "off",
        ],
        "idle timeout",
    );
    says(
        &line,
        &["idle timeout off; TCP keepalive off; TCP user timeout off"],
    );
    let line = start_up_line(
        &[
            "--bind",
            "127.0.0.1:0",
            "--threads",
            "1",
            "--protocol",
            "ws-echo",
            "--ws-ping-interval",
            "off",
        ],
        "WebSocket:",
    );
    says(&line, &["idle clients not pinged"]);
}

#[test]
fn zero_is_refused_where_off_is_meant_and_the_error_names_off() {
    for args in [
        &["--idle-timeout", "0"][..],
        &["--keepalive", "0s"],
        &["--user-timeout", "0"],
        &["--stall-threshold", "0"],
        &["--protocol", "ws-echo", "--ws-ping-interval", "0"],
    ] {
        let flag = args[args.len() - 2];
        let mut all = vec!["--bind", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let text = refused(&all);
        says(&text, &[flag, "type off to turn this off"]);
        assert!(!text.contains("leave it unset"), "{text}");
    }
    // Below the library's floor: the hint is still the command line's.
    let text = refused(&["--bind", "127.0.0.1:0", "--idle-timeout", "10us"]);
    says(
        &text,
        &["--idle-timeout must be at least 1ms", "--idle-timeout off"],
    );
}

#[test]
fn deflate_options_are_checked_and_reported() {
    let ws = ["--bind", "127.0.0.1:0", "--protocol", "ws-echo"];
    let text = refused(&[&ws[..], &["--ws-deflate", "--ws-deflate-level", "10"]].concat());
    says(&text, &["--ws-deflate-level must be 0 to 9, got 10"]);
    let text = refused(&[&ws[..], &["--ws-deflate", "--ws-deflate-window-bits", "8"]].concat());
    says(&text, &["--ws-deflate-window-bits must be 9 to 15, got 8"]);
    let text = refused(&[&ws[..], &["--ws-deflate-level", "6"]].concat());
    says(&text, &["--ws-deflate-level", "--ws-deflate only"]);
    let text = refused(&["--bind", "127.0.0.1:0", "--ws-deflate"]);
    says(&text, &["--ws-deflate", "WebSocket protocols only"]);
    let line = start_up_line(
        &[&ws[..], &["--ws-deflate", "--ws-deflate-context-takeover"]].concat(),
        "WebSocket:",
    );
    says(
        &line,
        &["permessage-deflate accepted (level 1, window up to 15 bits, from 128 B, context takeover)"],
    );
}
