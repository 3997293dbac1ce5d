//! Issue 12: the start-up lines shown in the README are the ones the server
//! prints, up to the numbers (time, port, cores, limits), so the sample
//! cannot drift from the code again.

mod child;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use child::{esockets, Child, DEADLINE};

/// The README's sample command starts with this; its arguments follow.
const COMMAND: &str = "$ cargo run --release -- ";

/// `line` with every run of digits replaced by `N`: timestamps, ports,
/// core counts and limits differ from machine to machine.
fn shape(line: &str) -> String {
    let mut shaped = String::with_capacity(line.len());
    let mut in_number = false;
    for c in line.trim_end().chars() {
        if c.is_ascii_digit() {
            if !in_number {
                shaped.push('N');
            }
            in_number = true;
        } else {
            shaped.push(c);
            in_number = false;
        }
    }
    shaped
}

/// The sample command's arguments and the log lines shown under it.
fn readme_sample() -> (Vec<String>, Vec<String>) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let mut lines = readme.lines().skip_while(|line| !line.starts_with(COMMAND));
    let command = lines.next().expect("the README shows a sample start-up");
    let args = command[COMMAND.len()..]
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let sample = lines
        .take_while(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    (args, sample)
}

#[test]
fn the_readme_start_up_sample_matches_the_real_output() {
    let (mut args, sample) = readme_sample();
    assert!(sample.len() >= 4, "a sample of start-up lines: {sample:#?}");
    args.extend(["--bind".to_owned(), "127.0.0.1:0".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = esockets(&args);
    command.stderr(Stdio::piped());
    let mut child = Child::spawn(&mut command);
    let mut lines = child.stderr_lines();
    // A line about a kernel setting differs by machine (or is absent where
    // the kernel lacks it): it is compared by its start only.
    let wanted: BTreeSet<String> = sample
        .iter()
        .map(|line| shape(line))
        .filter(|line| !machine_dependent(line))
        .collect();
    // Every README line comes (in whatever order the threads log them)...
    let end = Instant::now() + DEADLINE;
    let mut missing = wanted.clone();
    while !missing.is_empty() {
        let line = lines.next_before(end, &format!("{missing:#?}"));
        missing.remove(&shape(&line));
    }
    // Lines that came before the signal are start-up lines; what follows
    // (the shutdown notice, per-shard totals) may interleave in any order.
    let start_up = lines.seen.len();
    child.signal(libc::SIGTERM);
    lines.wait_for("shutting down");
    let status = child.wait_within(Duration::from_secs(20), "SIGTERM");
    assert!(status.success(), "{status}");
    // ...and the server says nothing at start-up that the README leaves out
    // (warnings aside: they depend on the machine).
    for line in &lines.seen[..start_up] {
        if line.contains(" INFO ") && !machine_dependent(line) {
            assert!(
                wanted.contains(&shape(line)),
                "the server printed {line:?}, which README.md does not show; \
                 update its sample"
            );
        }
    }
}

/// Whether a start-up line states a kernel setting, whose value (and
/// presence) depends on the machine.
fn machine_dependent(line: &str) -> bool {
    line.contains("net.ipv4.tcp_migrate_req is")
}

#[test]
fn shapes_ignore_numbers_only() {
    assert_eq!(
        shape("2026-11-21T19:32:57Z  INFO addr=127.0.0.1:1234"),
        "N-N-NTN:N:NZ  INFO addr=N.N.N.N:N"
    );
    assert_ne!(shape("up to 16 B"), shape("up to 16 KiB"));
}

/// A file of this repository.
fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|err| panic!("read {path}: {err}"))
}

#[test]
fn the_readme_says_what_the_test_suite_needs() {
    let readme = read("README.md");
    let setup: String = readme
        .lines()
        .skip_while(|line| !line.starts_with("## Set-up"))
        .skip(1)
        .take_while(|line| !line.starts_with("## "))
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "cargo run --release ",
        "scripts/test ",
        "root",
        "apt-get",
        "pip",
        "network namespaces",
        "registries",
    ] {
        assert!(
            setup.contains(needle),
            "{needle:?} not in the set-up: {setup}"
        );
    }
    assert!(
        !setup.contains("Only the Rust toolchain is needed."),
        "true of the server only: {setup}"
    );
}

#[test]
fn nc_which_the_docs_use_is_installed_by_components_sh() {
    assert!(
        read("README.md").contains("$ nc 127.0.0.1"),
        "the README uses nc"
    );
    let components = read("scripts/components.sh");
    assert!(
        components.contains("need nc netcat-openbsd"),
        "scripts/components.sh installs nc"
    );
}

#[test]
fn the_readme_shows_examples_uppercase_as_it_is() {
    let readme = read("README.md");
    let start = readme
        .find("```rust\nmod common;")
        .expect("the README lists examples/uppercase.rs")
        + "```rust\n".len();
    let end = start + readme[start..].find("```\n").expect("the listing's end");
    let listed = &readme[start..end];
    let file = read("examples/uppercase.rs");
    // The file less its module docs (the README says what they say).
    let code: String = file
        .lines()
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        listed, code,
        "update the README's listing of examples/uppercase.rs"
    );
}

/// The README's harness example is the second example of
/// `esockets::testing`'s rustdoc, which `cargo test` compiles and runs.
#[test]
fn the_readme_harness_example_is_the_doctested_one() {
    let readme = read("README.md");
    let start = readme
        .find("```rust\nuse std::time::Duration;\nuse esockets::testing::Harness;")
        .expect("the README's harness example")
        + "```rust\n".len();
    let end = start + readme[start..].find("```\n").expect("its end");
    let docs = read("src/testing/mod.rs");
    let doctested: String = docs
        .lines()
        .filter_map(|line| line.strip_prefix("//! ").or((line == "//!").then_some("")))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        doctested.contains(&readme[start..end]),
        "the README's harness example differs from src/testing/mod.rs's"
    );
}
