//! The NATS subject of a topic. A topic is any bytes; a subject is
//! tokens of printable ASCII separated by `.`, where `*` and `>` are
//! wildcards. So a topic that is already a good subject (printable ASCII
//! without space, `*` or `>`, no empty token) travels as
//! `esockets.t.<topic>`, readable in NATS tools; any other as
//! `esockets.h.<hex of its bytes>` (the empty topic: `esockets.h._`).
//! The two never meet, and both come back to the topic unchanged.

/// Subjects of readable topics start so.
const PLAIN: &str = "esockets.t.";

/// Subjects of other topics, in hexadecimal, start so.
const HEX: &str = "esockets.h.";

/// Whether `topic` can be a subject's tail as it is.
fn plain(topic: &[u8]) -> bool {
    !topic.is_empty()
        && topic
            .iter()
            .all(|&b| b.is_ascii_graphic() && b != b'*' && b != b'>')
        && topic.split(|&b| b == b'.').all(|token| !token.is_empty())
}

/// The subject of `topic`.
pub(super) fn subject(topic: &[u8]) -> String {
    if plain(topic) {
        // Printable ASCII: valid UTF-8.
        return format!("{PLAIN}{}", String::from_utf8_lossy(topic));
    }
    let mut subject = String::with_capacity(HEX.len() + topic.len() * 2);
    subject.push_str(HEX);
    if topic.is_empty() {
        subject.push('_');
    }
    for byte in topic {
        subject.push_str(&format!("{byte:02x}"));
    }
    subject
}

/// The topic of `subject`; `None` if it is not one of ours.
pub(super) fn topic(subject: &str) -> Option<Vec<u8>> {
    if let Some(topic) = subject.strip_prefix(PLAIN) {
        return Some(topic.as_bytes().to_vec());
    }
    let hex = subject.strip_prefix(HEX)?;
    if hex == "_" {
        return Some(Vec::new());
    }
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{subject, topic};

    #[test]
    fn topics_map_to_subjects_and_back() {
        for (name, expected) in [
            (&b"news"[..], "esockets.t.news"),
            (b"room.42", "esockets.t.room.42"),
            (b"a b", "esockets.h.612062"),
            (b"a.*", "esockets.h.612e2a"),
            (b"x>", "esockets.h.783e"),
            (b"a..b", "esockets.h.612e2e62"),
            (b".a", "esockets.h.2e61"),
            (b"\xff\x00", "esockets.h.ff00"),
            (b"", "esockets.h._"),
        ] {
            assert_eq!(subject(name), expected);
            assert_eq!(topic(expected).as_deref(), Some(name), "{expected}");
        }
        assert_eq!(topic("other.subject"), None);
        assert_eq!(topic("esockets.h.abc"), None);
        assert_eq!(topic("esockets.h.zz"), None);
    }
}
