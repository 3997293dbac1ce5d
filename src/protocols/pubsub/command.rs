//! The pubsub protocol's commands: parsing one line (or one WebSocket
//! text message) into a command, or a reason to refuse it. Pure code.

/// Longest topic, in bytes.
pub const MAX_TOPIC: usize = 256;

/// One client command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `SUB topic`: receive what is published to `topic`.
    Sub(&'a [u8]),
    /// `UNSUB topic`: stop receiving it.
    Unsub(&'a [u8]),
    /// `PUB topic payload`: send `payload` (the rest of the line, spaces
    /// included; may be empty) to every subscriber of `topic`.
    Pub(&'a [u8], &'a [u8]),
    /// `PING`: answered `+PONG`.
    Ping,
}

/// Why a command line was refused; each has its `-ERR` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// Not one of `SUB`, `UNSUB`, `PUB`, `PING`.
    Unknown,
    /// The command needs a topic and has none (or an empty one).
    NoTopic,
    /// The topic is longer than [`MAX_TOPIC`] bytes.
    TopicTooLong,
    /// `SUB`, `UNSUB` or `PING` followed by more than they take.
    TrailingBytes,
}

impl CommandError {
    /// The reply line's text, without its newline.
    pub fn reply(self) -> &'static [u8] {
        match self {
            Self::Unknown => b"-ERR unknown command",
            Self::NoTopic => b"-ERR missing topic",
            Self::TopicTooLong => b"-ERR topic too long",
            Self::TrailingBytes => b"-ERR unexpected bytes after the command",
        }
    }
}

/// Parses one command, `line` without its `\n` (a trailing `\r` is
/// ignored). Commands are upper case; exactly one space separates the
/// parts; a topic is any bytes but space, `\r` and `\n`.
pub fn parse(line: &[u8]) -> Result<Command<'_>, CommandError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (verb, rest) = match memchr::memchr(b' ', line) {
        Some(space) => (&line[..space], Some(&line[space + 1..])),
        None => (line, None),
    };
    match verb {
        b"PING" if rest.is_none() => Ok(Command::Ping),
        b"PING" => Err(CommandError::TrailingBytes),
        b"SUB" => lone_topic(rest).map(Command::Sub),
        b"UNSUB" => lone_topic(rest).map(Command::Unsub),
        b"PUB" => {
            let rest = rest.unwrap_or_default();
            let (topic, payload) = match memchr::memchr(b' ', rest) {
                Some(space) => (&rest[..space], &rest[space + 1..]),
                None => (rest, &b""[..]),
            };
            Ok(Command::Pub(checked_topic(topic)?, payload))
        }
        _ => Err(CommandError::Unknown),
    }
}

/// A topic that must be the last part of the line.
fn lone_topic(rest: Option<&[u8]>) -> Result<&[u8], CommandError> {
    let rest = rest.unwrap_or_default();
    if memchr::memchr(b' ', rest).is_some() {
        return Err(CommandError::TrailingBytes);
    }
    checked_topic(rest)
}

/// `topic` if it is a valid topic.
fn checked_topic(topic: &[u8]) -> Result<&[u8], CommandError> {
    if topic.is_empty() {
        Err(CommandError::NoTopic)
    } else if topic.len() > MAX_TOPIC {
        Err(CommandError::TopicTooLong)
    } else if topic.iter().any(|&b| b == b'\r' || b == b'\n') {
        // Only a `\r` right before the newline is part of the line end; a
        // `\n` can only be in a WebSocket message (lines are split at it).
        Err(CommandError::TrailingBytes)
    } else {
        Ok(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Command, CommandError, MAX_TOPIC};

    #[test]
    fn every_command() {
        assert_eq!(parse(b"SUB news"), Ok(Command::Sub(b"news")));
        assert_eq!(parse(b"UNSUB news\r"), Ok(Command::Unsub(b"news")));
        assert_eq!(
            parse(b"PUB news hello  world "),
            Ok(Command::Pub(b"news", b"hello  world "))
        );
        assert_eq!(parse(b"PUB news"), Ok(Command::Pub(b"news", b"")));
        assert_eq!(parse(b"PUB news "), Ok(Command::Pub(b"news", b"")));
        assert_eq!(parse(b"PING"), Ok(Command::Ping));
    }

    #[test]
    fn every_error() {
        assert_eq!(parse(b""), Err(CommandError::Unknown));
        assert_eq!(parse(b"sub news"), Err(CommandError::Unknown));
        assert_eq!(parse(b"SUBSCRIBE news"), Err(CommandError::Unknown));
        assert_eq!(parse(b"SUB"), Err(CommandError::NoTopic));
        assert_eq!(parse(b"SUB "), Err(CommandError::NoTopic));
        assert_eq!(parse(b"PUB"), Err(CommandError::NoTopic));
        assert_eq!(parse(b"PUB  payload"), Err(CommandError::NoTopic));
        assert_eq!(parse(b"SUB a b"), Err(CommandError::TrailingBytes));
        assert_eq!(parse(b"PING x"), Err(CommandError::TrailingBytes));
        assert_eq!(parse(b"SUB a\rb"), Err(CommandError::TrailingBytes));
        let long = [b'x'; MAX_TOPIC + 1];
        let mut line = b"SUB ".to_vec();
        line.extend_from_slice(&long);
        assert_eq!(parse(&line), Err(CommandError::TopicTooLong));
        assert_eq!(parse(&line[..line.len() - 1]), Ok(Command::Sub(&long[1..])));
    }

    #[test]
    fn topics_are_any_bytes_but_space_and_line_ends() {
        let line = b"PUB \x00\xff\xc3(\t x";
        assert_eq!(parse(line), Ok(Command::Pub(b"\x00\xff\xc3(\t", b"x")));
    }

    /// Caught by the pubsub_command fuzz target: over WebSocket a command
    /// is a whole message, so a `\n` could reach the parser inside a
    /// topic, which the grammar excludes.
    #[test]
    fn a_newline_inside_a_topic_is_refused() {
        assert_eq!(parse(b"SUB a\nb"), Err(CommandError::TrailingBytes));
        assert_eq!(parse(b"UNSUB a\n"), Err(CommandError::TrailingBytes));
        assert_eq!(parse(b"PUB \na x"), Err(CommandError::TrailingBytes));
        assert_eq!(parse(b"PUB a x\ny"), Ok(Command::Pub(b"a", b"x\ny")));
    }
}
