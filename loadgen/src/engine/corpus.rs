//! `--payload json`: the text that JSON-shaped payloads are windows into.
//!
//! Chat-like records (`{"type":"message","room":…,"user":{…},"text":…,
//! "ts":…,"tags":[…]}`) from a fixed vocabulary, joined by commas on one
//! line, about 16 KiB in all: a window of 1 KiB holds six or seven
//! records whose keys repeat and whose values vary, so deflate shrinks it
//! about as much as the JSON a chat or a feed sends (no newline, no `\r`,
//! ASCII only: valid in lines, WebSocket text and RESP alike). Built once
//! per process from a fixed seed, so every run sends the same bytes.

use std::fmt::Write as _;
use std::sync::OnceLock;

/// Length of the corpus, at least: far above any window's repeat
/// distance that deflate's 32 KiB window could exploit within 1 KiB.
const LEN: usize = 16 * 1024;

/// Words of the messages' texts.
const WORDS: &[&str] = &[
    "the",
    "a",
    "deploy",
    "is",
    "done",
    "on",
    "staging",
    "and",
    "prod",
    "looks",
    "fine",
    "can",
    "you",
    "check",
    "latency",
    "graph",
    "for",
    "shard",
    "two",
    "after",
    "restart",
    "I",
    "think",
    "we",
    "should",
    "roll",
    "back",
    "tonight",
    "tomorrow",
    "morning",
    "meeting",
    "moved",
    "to",
    "room",
    "coffee",
    "anyone",
    "lunch",
    "at",
    "noon",
    "build",
    "failed",
    "again",
    "flaky",
    "test",
    "fixed",
    "in",
    "main",
    "review",
    "please",
    "thanks",
    "great",
    "work",
    "new",
    "release",
    "notes",
    "are",
    "up",
    "customer",
    "reported",
    "timeout",
    "when",
    "connecting",
    "from",
    "mobile",
    "network",
    "wifi",
    "dropped",
    "retry",
    "worked",
    "ok",
    "sounds",
    "good",
    "let",
    "me",
    "know",
    "ship",
    "it",
    "weekend",
    "on-call",
    "pager",
    "quiet",
    "so",
    "far",
    "metrics",
    "dashboard",
];

/// Names of users, rooms and tags.
const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yvonne",
];

/// The corpus, built on first use.
pub fn json() -> &'static [u8] {
    static CORPUS: OnceLock<Vec<u8>> = OnceLock::new();
    CORPUS.get_or_init(build)
}

/// A small deterministic generator (the PCG multiplier), for the corpus.
struct Seq(u64);

impl Seq {
    /// The next number below `n`.
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }

    /// One of `from`.
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Builds the corpus: records until [`LEN`] bytes.
fn build() -> Vec<u8> {
    let mut seq = Seq(0x00C0_FFEE_D15C_0DE5);
    let mut text = String::with_capacity(LEN + 512);
    let mut ts: u64 = 1_765_065_600_000;
    let mut id: u64 = 48_213;
    while text.len() < LEN {
        if !text.is_empty() {
            text.push(',');
        }
        ts += 1 + seq.below(4_000) as u64;
        id += 1 + seq.below(7) as u64;
        let user = seq.pick(NAMES);
        let _ = write!(
            text,
            r#"{{"type":"message","id":{id},"room":"{}-{}","user":{{"id":{},"name":"{user}"}},"text":""#,
            seq.pick(NAMES),
            seq.below(40),
            10_000 + seq.below(90_000),
        );
        for word in 0..3 + seq.below(14) {
            if word > 0 {
                text.push(' ');
            }
            text.push_str(seq.pick(WORDS));
        }
        let _ = write!(text, r#"","ts":{ts},"tags":["{}"]}}"#, seq.pick(NAMES));
    }
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_one_line_of_ascii_json_records_and_the_same_each_time() {
        let corpus = json();
        assert!(corpus.len() >= LEN);
        assert!(corpus
            .iter()
            .all(|&b| b.is_ascii() && b != b'\n' && b != b'\r'));
        assert!(corpus.starts_with(br#"{"type":"message","id":"#));
        assert_eq!(build(), corpus, "deterministic");
        let records = corpus.windows(6).filter(|w| w == br#""type""#).count();
        assert!(records > 80, "{records} records");
    }
}
