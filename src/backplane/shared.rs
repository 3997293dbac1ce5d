//! The history shared through Redis, when the server keeps a history and
//! has a backplane: Redis gives each publish its offset, keeps the last
//! publishes of each topic in a stream, and the topic's epoch in a hash,
//! so a client can recover on any process, and after a restart.
//!
//! Per topic, two keys: `esockets:meta:<topic>`, a hash of `epoch` and
//! `offset` (the newest), and `esockets:history:<topic>`, a stream whose
//! entry IDs are `<offset>-1`, trimmed with `MAXLEN ~ N` (Redis trims
//! whole nodes: a little more than N may be kept). One script per publish
//! (atomic): the offset goes up, the entry is added, and the publish goes
//! out on `esockets-h:<topic>` as `<origin><offset> <epoch> <payload>`;
//! every process (its own included) delivers it as it comes back, so all
//! of them see one order. With a maximum age, the stream expires that
//! long after the topic's last publish; the meta stays (a few bytes), so
//! offsets go on under the same epoch. `esockets:generation`, random, set
//! once, names the shared history: a topic's first epoch is made from it
//! and the topic, so every process answers `SUB topic POS` on a topic
//! never published to with the epoch its first publish will have. Redis
//! losing its data (a restart without persistence) loses the generation
//! too: every epoch is then new, as it should be.

use std::time::Instant;

use bytes::Bytes;

use crate::hub::Hub;

/// Channels of publishes with an offset: this prefix and the topic.
pub(super) const POSITIONED_PREFIX: &[u8] = b"esockets-h:";

/// The hash of a topic's epoch and newest offset: this prefix and the topic.
const META_PREFIX: &[u8] = b"esockets:meta:";

/// The stream of a topic's last publishes: this prefix and the topic.
const STREAM_PREFIX: &[u8] = b"esockets:history:";

/// The shared history's random token.
const GENERATION_KEY: &str = "esockets:generation";

/// The publishing script: KEYS = meta, stream; ARGV = the epoch to take
/// if the topic has none, N, the origin (8 bytes), the payload, the
/// channel, the maximum age in milliseconds (0: none), the newest offset
/// this process's copy knows. A topic whose meta is missing though the
/// copy knew offsets (Redis lost it: evicted, or a restart) starts a new
/// stream under a new epoch, never the old one again.
pub(super) const PUBLISH_SCRIPT: &str = r"
local candidate = ARGV[1]
if ARGV[7] ~= '0' and redis.call('EXISTS', KEYS[1]) == 0 then
  candidate = candidate .. '-' .. redis.call('INCR', 'esockets:incarnations')
end
if redis.call('HSETNX', KEYS[1], 'epoch', candidate) == 1 then
  redis.call('DEL', KEYS[2])
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], offset .. '-1', 'p', ARGV[4])
if ARGV[6] ~= '0' then
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
redis.call('PUBLISH', ARGV[5], ARGV[3] .. offset .. ' ' .. epoch .. ' ' .. ARGV[4])
return offset
";

/// The meta key of `topic`.
pub(super) fn meta_key(topic: &[u8]) -> Vec<u8> {
    [META_PREFIX, topic].concat()
}

/// The stream key of `topic`.
pub(super) fn stream_key(topic: &[u8]) -> Vec<u8> {
    [STREAM_PREFIX, topic].concat()
}

/// The channel of `topic`'s positioned publishes.
pub(super) fn positioned_channel(topic: &[u8]) -> Vec<u8> {
    [POSITIONED_PREFIX, topic].concat()
}

/// A positioned publish's message after its origin: the offset, the
/// epoch and the payload; `None` if it is not one.
pub(super) fn parse_positioned(message: &[u8]) -> Option<(u64, &[u8], &[u8])> {
    let mut parts = message.splitn(3, |&b| b == b' ');
    let offset = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let epoch = parts.next().filter(|e| !e.is_empty())?;
    Some((offset, epoch, parts.next()?))
}

/// What the script is told besides the publish.
pub(super) struct ScriptArgs {
    /// The epoch to take if the topic has none: this process's copy's,
    /// so a process that answered `SUB topic POS` first keeps its word.
    pub(super) epoch: Bytes,
    /// N.
    pub(super) messages: String,
    /// The maximum age in milliseconds (`0`: none).
    pub(super) age: String,
    /// The newest offset the copy knows.
    pub(super) known: String,
}

/// The script's arguments for a publish to `topic`.
pub(super) fn script_args(hub: &Hub, topic: &[u8]) -> ScriptArgs {
    let limits = *hub.histories().limits();
    let position = hub.histories().position(topic, Instant::now());
    let age = limits.max_age.map_or(0, |age| age.as_millis().max(1));
    ScriptArgs {
        epoch: position.epoch,
        messages: limits.messages.to_string(),
        age: age.to_string(),
        known: position.offset.to_string(),
    }
}

/// Copies the shared history from Redis into this process's copy: every
/// topic's epoch and its kept publishes (up to the copy's limits). Run by
/// the listening thread once it listens, so nothing published meanwhile
/// is missed (what comes twice is kept once), and again after each
/// reconnection: what other processes published while Redis was away
/// from this one is then in the copy, for recoveries and to fill the gap
/// of positioned subscribers.
///
/// # Errors
///
/// Redis failed.
pub(super) fn load(connection: &mut redis::Connection, hub: &Hub) -> redis::RedisResult<usize> {
    let limits = *hub.histories().limits();
    let candidate = format!("{:016x}", super::link::origin_id());
    let generation: Vec<u8> = redis::pipe()
        .cmd("SET")
        .arg(GENERATION_KEY)
        .arg(candidate)
        .arg("NX")
        .ignore()
        .cmd("GET")
        .arg(GENERATION_KEY)
        .query::<(Vec<u8>,)>(connection)?
        .0;
    hub.histories().set_generation(Bytes::from(generation));
    let mut cursor: u64 = 0;
    let mut topics = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg([META_PREFIX, b"*"].concat())
            .arg("COUNT")
            .arg(1000)
            .query(connection)?;
        for key in keys {
            if topics >= limits.topics {
                return Ok(topics);
            }
            let Some(topic) = key.strip_prefix(META_PREFIX) else {
                continue;
            };
            let epoch: Option<Vec<u8>> = redis::cmd("HGET")
                .arg(&key)
                .arg("epoch")
                .query(connection)?;
            let Some(epoch) = epoch else { continue };
            let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XREVRANGE")
                .arg(stream_key(topic))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(limits.messages)
                .query(connection)?;
            let now = Instant::now();
            // Oldest first, so the copy's own bound keeps the newest.
            for (id, fields) in entries.iter().rev() {
                let offset = id.split('-').next().and_then(|o| o.parse::<u64>().ok());
                let payload = fields.get(1);
                if let (Some(offset), Some(payload)) = (offset, payload) {
                    let payload = Bytes::copy_from_slice(payload);
                    // A new epoch here reaches positioned subscribers with
                    // the next live publish (its offset is lower).
                    let mut reset = false;
                    hub.histories()
                        .insert(topic, &epoch, offset, &payload, now, &mut reset);
                }
            }
            topics += 1;
        }
        if next == 0 {
            return Ok(topics);
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::parse_positioned;

    #[test]
    fn positioned_messages_parse() {
        assert_eq!(
            parse_positioned(b"12 abc hello world"),
            Some((12, &b"abc"[..], &b"hello world"[..]))
        );
        assert_eq!(
            parse_positioned(b"12 abc "),
            Some((12, &b"abc"[..], &b""[..]))
        );
        assert_eq!(parse_positioned(b"x abc p"), None);
        assert_eq!(parse_positioned(b"12  p"), None);
        assert_eq!(parse_positioned(b"12"), None);
    }
}
