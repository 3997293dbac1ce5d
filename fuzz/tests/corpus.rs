//! Every file of the kept corpus (fuzz/corpus/TARGET/: the seeds, and the
//! reproducers of bugs the fuzzers found) through its target's checks, on
//! the stable toolchain without libFuzzer: the checks keep compiling, the
//! seeds keep passing, and a fixed bug stays fixed.

use std::fs;
use std::path::Path;

/// A target's checks.
type Check = fn(&[u8]);

/// Each target's corpus folder and its checks.
const TARGETS: [(&str, Check); 7] = [
    ("proxy_header", esockets_fuzz::proxy::check),
    ("ws_frame", esockets_fuzz::frame::check),
    ("ws_message", esockets_fuzz::message::check),
    ("ws_handshake", esockets_fuzz::handshake::check),
    ("ws_deflate", esockets_fuzz::deflate::check),
    ("pubsub_command", esockets_fuzz::pubsub::check),
    ("tls_session", esockets_fuzz::tls::check),
];

#[test]
fn every_corpus_file_passes_its_checks() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, check) in TARGETS {
        let folder = corpus.join(target);
        let entries = fs::read_dir(&folder).unwrap_or_else(|e| panic!("{folder:?}: {e}"));
        let mut files = 0;
        for entry in entries {
            let path = entry.expect("a corpus entry").path();
            let data = fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{target}: {path:?} fails its checks");
            files += 1;
        }
        assert!(files >= 10, "{target}: only {files} corpus files");
    }
}

#[test]
fn every_target_has_a_corpus_folder() {
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz_targets");
    let mut names: Vec<String> = fs::read_dir(&targets)
        .expect("fuzz_targets/")
        .map(|e| e.expect("an entry").path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    let mut listed: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    listed.sort_unstable();
    assert_eq!(names, listed, "fuzz_targets/ and this test's list differ");
}
