//! Topic permissions: patterns a client may subscribe or publish to. Pure
//! code.

/// One topic pattern: an exact topic (`news`), a prefix ending in `*`
/// (`room.*` matches `room.1` and `room.`), or `*` alone (every topic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// This topic only.
    Exact(Box<[u8]>),
    /// Every topic starting with these bytes (the pattern without its `*`).
    Prefix(Box<[u8]>),
}

impl Pattern {
    /// The pattern written as `text`: a trailing `*` makes it a prefix.
    pub fn new(text: &str) -> Self {
        match text.strip_suffix('*') {
            Some(prefix) => Self::Prefix(prefix.as_bytes().into()),
            None => Self::Exact(text.as_bytes().into()),
        }
    }

    /// Whether `topic` matches.
    pub fn matches(&self, topic: &[u8]) -> bool {
        match self {
            Self::Exact(exact) => **exact == *topic,
            Self::Prefix(prefix) => topic.starts_with(prefix),
        }
    }
}

/// What a client may do: the topics it may subscribe to and publish to.
/// The default allows nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Patterns of the topics it may subscribe to.
    pub subscribe: Vec<Pattern>,
    /// Patterns of the topics it may publish to.
    pub publish: Vec<Pattern>,
}

impl Permissions {
    /// Every topic, both ways (what a server without auth allows).
    pub fn everything() -> Self {
        Self {
            subscribe: vec![Pattern::new("*")],
            publish: vec![Pattern::new("*")],
        }
    }

    /// Whether it may subscribe to `topic`.
    pub fn may_subscribe(&self, topic: &[u8]) -> bool {
        self.subscribe.iter().any(|p| p.matches(topic))
    }

    /// Whether it may publish to `topic`.
    pub fn may_publish(&self, topic: &[u8]) -> bool {
        self.publish.iter().any(|p| p.matches(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::{Pattern, Permissions};

    #[test]
    fn exact_prefix_and_everything() {
        let exact = Pattern::new("news");
        assert!(exact.matches(b"news"));
        assert!(!exact.matches(b"news2"));
        assert!(!exact.matches(b"new"));
        let prefix = Pattern::new("room.*");
        assert!(prefix.matches(b"room.1"));
        assert!(prefix.matches(b"room."));
        assert!(!prefix.matches(b"room"));
        assert!(!prefix.matches(b"lobby.room.1"));
        assert!(Pattern::new("*").matches(b"anything"));
        // Only a trailing star is special.
        assert!(Pattern::new("a*b").matches(b"a*b"));
        assert!(!Pattern::new("a*b").matches(b"axb"));
    }

    #[test]
    fn permissions_are_separate_for_each_direction() {
        let p = Permissions {
            subscribe: vec![Pattern::new("room.*")],
            publish: vec![Pattern::new("room.1")],
        };
        assert!(p.may_subscribe(b"room.2"));
        assert!(!p.may_publish(b"room.2"));
        assert!(p.may_publish(b"room.1"));
        assert!(!Permissions::default().may_subscribe(b"x"));
        assert!(Permissions::everything().may_publish(b"x"));
    }
}
