//! Issue 25: the Python package (`python/`). Builds its extension module
//! with cargo (a debug build in `target/python`, apart from this build's
//! lock), lays it out as `pip install ./python` would (`esockets/` and
//! `ESocketS.py`), and runs its pytest suite (`python/tests`, a few
//! seconds): the seed examples unchanged, the callbacks' answers, the
//! modern API (timers, state, publish/subscribe, sends from other
//! threads), built-in protocols, raising and blocking callbacks, the
//! interpreter lock's holds per round, shutdown by `stop()` and Ctrl-C,
//! 10,000 clients, argument errors. `scripts/components.sh` installs
//! pytest.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies the `esockets` package's Python files into `into/esockets`.
fn copy_package(from: &Path, into: &Path) {
    let package = into.join("esockets");
    std::fs::create_dir_all(&package).expect("make the package directory");
    for entry in std::fs::read_dir(from.join("esockets")).expect("read python/esockets") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().expect("a file name").to_owned();
        let keep = path
            .extension()
            .is_some_and(|ext| ext == "py" || ext == "pyi" || ext == "typed");
        if keep || name == "py.typed" {
            std::fs::copy(&path, package.join(&name)).expect("copy a package file");
        }
    }
    std::fs::copy(from.join("ESocketS.py"), into.join("ESocketS.py")).expect("copy ESocketS.py");
}

#[test]
fn python_package_passes_its_pytest_suite() {
    let python = root().join("python");
    let target = root().join("target").join("python");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(python.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo build for python/");
    assert!(built.success(), "building python/ failed");

    let site = tempdir();
    copy_package(&python, &site);
    std::fs::copy(
        target.join("debug").join("lib_esockets.so"),
        site.join("esockets").join("_esockets.abi3.so"),
    )
    .expect("copy the extension module");

    let mut pytest = Command::new("python3");
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(python.join("tests"))
        .env("PYTHONPATH", &site)
        .current_dir(&site);
    let status = run_bounded(&mut pytest, Duration::from_secs(300));
    let _ = std::fs::remove_dir_all(&site);
    assert!(status, "the Python tests failed (output above)");
}

/// A fresh directory under the system's temporary directory.
fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("esockets-python-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("make a temporary directory");
    dir
}

/// Runs `command` to its end or `limit`, killing it then; true when it
/// exited with 0.
fn run_bounded(command: &mut Command, limit: Duration) -> bool {
    let mut child = command
        .spawn()
        .expect("start python3 -m pytest (is python3 installed?)");
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for pytest") {
            return status.success();
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pytest ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
