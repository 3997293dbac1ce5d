//! Presence across processes: each process writes its subscribers (per
//! topic and identity) to Redis every [`BEAT`], in one hash that expires
//! after [`TTL`] unless written again, so a process that dies drops out
//! by itself; and reads the other processes' hashes, for `PRESENCE` to
//! add up. Its own thread and connection; what it reads is at most a
//! beat old.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::link::{back_off, FIRST_BACKOFF};
use super::STOP_CHECK;
use crate::hub::outbox::Counters;
use crate::hub::Hub;

/// How often a process writes its presence and reads the others'.
pub(super) const BEAT: Duration = Duration::from_secs(1);

/// How long a process's presence lasts without a beat.
pub(super) const TTL: Duration = Duration::from_secs(3);

/// A process's presence hash: this prefix and its origin id (hex).
const PREFIX: &str = "esockets:presence:";

/// How long connecting or one round trip may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Shares this process's presence through Redis and reads the others'.
pub(super) struct Beat {
    /// The Redis server.
    pub(super) client: redis::Client,
    /// The server's presence.
    pub(super) hub: Arc<Hub>,
    /// The stop flag.
    pub(super) counters: Arc<Counters>,
    /// This process's id.
    pub(super) origin: u64,
}

/// A hash field: the topic's length, `:`, the topic, the identity.
fn field(topic: &[u8], identity: &str) -> Vec<u8> {
    [
        topic.len().to_string().as_bytes(),
        b":",
        topic,
        identity.as_bytes(),
    ]
    .concat()
}

/// The topic and identity of a hash field.
fn parse_field(field: &[u8]) -> Option<(&[u8], &str)> {
    let colon = memchr::memchr(b':', field)?;
    let len: usize = std::str::from_utf8(&field[..colon]).ok()?.parse().ok()?;
    let rest = &field[colon + 1..];
    let topic = rest.get(..len)?;
    Some((topic, std::str::from_utf8(&rest[len..]).ok()?))
}

impl Beat {
    /// Runs until the server stops.
    pub(super) fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        while !self.counters.stop.load(Ordering::Relaxed) {
            if let Err(err) = self.serve(&mut backoff) {
                tracing::debug!(%err, "backplane: presence not shared meanwhile");
                // What was read goes stale: forget it rather than show it.
                self.hub.presence().set_remote(HashMap::new());
            }
            if back_off(&self.counters, &mut backoff) {
                return;
            }
        }
    }

    /// Beats until the connection breaks (`Err`) or the server stops.
    fn serve(&self, backoff: &mut Duration) -> redis::RedisResult<()> {
        let mut connection = self.client.get_connection_with_timeout(TIMEOUT)?;
        connection.set_read_timeout(Some(TIMEOUT))?;
        connection.set_write_timeout(Some(TIMEOUT))?;
        let own = format!("{PREFIX}{:016x}", self.origin);
        loop {
            self.write(&mut connection, &own)?;
            self.read(&mut connection, &own)?;
            *backoff = FIRST_BACKOFF;
            let next = Instant::now() + BEAT;
            while Instant::now() < next {
                if self.counters.stop.load(Ordering::Relaxed) {
                    // Gone at once rather than after the TTL.
                    let _ = redis::cmd("DEL").arg(&own).query::<()>(&mut connection);
                    return Ok(());
                }
                std::thread::sleep(STOP_CHECK.min(next.saturating_duration_since(Instant::now())));
            }
        }
    }

    /// Writes this process's presence, replacing the last.
    fn write(&self, connection: &mut redis::Connection, own: &str) -> redis::RedisResult<()> {
        let local = self.hub.presence().local();
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DEL").arg(own).ignore();
        if !local.is_empty() {
            let mut hset = redis::cmd("HSET");
            hset.arg(own);
            for (topic, identity, count) in &local {
                hset.arg(field(topic, identity)).arg(*count);
            }
            pipe.add_command(hset).ignore();
            pipe.cmd("PEXPIRE")
                .arg(own)
                .arg(TTL.as_millis() as u64)
                .ignore();
        }
        pipe.query(connection)
    }

    /// Reads the other processes' presence.
    fn read(&self, connection: &mut redis::Connection, own: &str) -> redis::RedisResult<()> {
        let mut remote: HashMap<Bytes, BTreeMap<Arc<str>, u64>> = HashMap::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{PREFIX}*"))
                .arg("COUNT")
                .arg(1000)
                .query(connection)?;
            for key in keys.iter().filter(|key| *key != own) {
                let entries: Vec<(Vec<u8>, u64)> =
                    redis::cmd("HGETALL").arg(key).query(connection)?;
                for (field, count) in entries {
                    let Some((topic, identity)) = parse_field(&field) else {
                        continue;
                    };
                    let identities = remote.entry(Bytes::copy_from_slice(topic)).or_default();
                    *identities.entry(identity.into()).or_insert(0) += count;
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        self.hub.presence().set_remote(remote);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{field, parse_field};

    #[test]
    fn fields_round_trip_whatever_the_topic() {
        let f = field(b"a:b\x00c", "ann:1");
        assert_eq!(parse_field(&f), Some((&b"a:b\x00c"[..], "ann:1")));
        assert_eq!(parse_field(b"9:short"), None);
        assert_eq!(parse_field(b"x:t"), None);
    }
}
