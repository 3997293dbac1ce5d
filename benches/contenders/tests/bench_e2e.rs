//! `bench-e2e` refuses to start when a program it needs is missing, and
//! says how to install it (issue 12: a missing valgrind gave an opaque
//! error deep inside the callgrind run).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where `program` is on this machine's PATH, if anywhere.
fn find(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

#[test]
fn callgrind_without_valgrind_says_how_to_install_it() {
    // A PATH with taskset (if this machine has it) and nothing else.
    let dir = std::env::temp_dir().join(format!("bench-e2e-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the PATH directory");
    let taskset = find("taskset");
    if let Some(taskset) = &taskset {
        let link = dir.join("taskset");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(taskset, &link).expect("link taskset");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_bench-e2e"))
        .args(["--workloads", "callgrind", "--bin-dir"])
        .arg(
            Path::new(env!("CARGO_BIN_EXE_bench-e2e"))
                .parent()
                .expect("bin dir"),
        )
        .env("PATH", &dir)
        .stdin(Stdio::null())
        .output()
        .expect("run bench-e2e");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let (program, install) = match taskset {
        Some(_) => ("valgrind", "sudo apt-get install -y valgrind"),
        None => ("taskset", "sudo apt-get install -y util-linux"),
    };
    assert!(
        stderr.contains(&format!("{program} is not installed")),
        "{stderr}"
    );
    assert!(stderr.contains(install), "{stderr}");
}
