//! A pub/sub server speaking esockets' text protocol (`SUB`, `PUB`,
//! `MSG`, `MISSED`, and the history's `SUB t POS` and `SUB t SINCE
//! offset epoch`), one thread per connection, that can get one delivery
//! wrong on purpose: loadgen's checks must notice.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What goes wrong, for the first subscriber of the topic, at publish
/// number `n` (counted from 0 over the whole server).
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Nothing.
    None,
    /// Publish `n` is not delivered.
    Drop(u64),
    /// Publish `n` is not delivered; `MISSED 1` says so.
    DropReported(u64),
    /// Publish `n` is delivered twice.
    Duplicate(u64),
    /// Publish `n` is delivered after publish `n + 1`.
    Reorder(u64),
    /// The first recovery (`SINCE`) that sends anything leaves out its
    /// first message.
    ReplayDrop,
    /// The first recovery that sends anything sends its first message
    /// twice.
    ReplayDuplicate,
}

/// The subscribers of each topic, each with whether its deliveries carry
/// offsets.
type Topics = HashMap<Vec<u8>, Vec<(TcpStream, bool)>>;

/// Every payload published to each topic (offset = index + 1).
type History = HashMap<Vec<u8>, Vec<Vec<u8>>>;

/// The epoch of every topic's history.
const EPOCH: &str = "fake0";

struct State {
    fault: Fault,
    topics: Mutex<Topics>,
    /// The history, and whether a recovery fault has happened; taken
    /// under the `topics` lock.
    history: Mutex<(History, bool)>,
    published: AtomicU64,
    held: Mutex<Option<Vec<u8>>>,
}

/// The server; stops accepting when dropped (connections end when
/// loadgen closes them).
pub struct FakePubsub {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FakePubsub {
    pub fn start(fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(State {
            fault,
            topics: Mutex::new(HashMap::new()),
            history: Mutex::new((HashMap::new(), false)),
            published: AtomicU64::new(0),
            held: Mutex::new(None),
        });
        let s = Arc::clone(&stop);
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&state);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Self {
            addr,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for FakePubsub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(stream: TcpStream, state: &State) {
    let _ = stream.set_nodelay(true);
    let mut replies = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let ok = if let Some(rest) = text.strip_prefix(b"SUB ") {
            let mut words = rest.split(|&b| b == b' ');
            let topic = words.next().unwrap_or_default();
            let me = replies.try_clone().unwrap();
            let mut topics = state.topics.lock().unwrap();
            let reply = match words.next() {
                None => b"+OK\n".to_vec(),
                Some(b"POS") => {
                    let history = state.history.lock().unwrap();
                    let newest = history.0.get(topic).map_or(0, Vec::len);
                    format!("+OK {newest} {EPOCH}\n").into_bytes()
                }
                Some(_) => {
                    let since: usize = std::str::from_utf8(words.next().unwrap())
                        .unwrap()
                        .parse()
                        .unwrap();
                    recover(state, topic, since)
                }
            };
            let positioned = reply != b"+OK\n";
            topics
                .entry(topic.to_vec())
                .or_default()
                .push((me, positioned));
            replies.write_all(&reply).is_ok()
        } else if let Some(rest) = text.strip_prefix(b"PUB ") {
            let space = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            let (topic, payload) = (&rest[..space], &rest[(space + 1).min(rest.len())..]);
            publish(state, topic, payload);
            replies.write_all(b"+OK\n").is_ok()
        } else {
            replies.write_all(b"-ERR unknown command\n").is_ok()
        };
        if !ok {
            return;
        }
    }
}

/// The reply to `SUB topic SINCE since fake0` and the messages after
/// `since`, with the recovery fault (once).
fn recover(state: &State, topic: &[u8], since: usize) -> Vec<u8> {
    let mut history = state.history.lock().unwrap();
    let (all, faulted) = &mut *history;
    let kept = all.get(topic).map_or(&[][..], Vec::as_slice);
    let mut out = format!("+OK {} {EPOCH}\n", kept.len()).into_bytes();
    for (at, payload) in kept.iter().enumerate().skip(since) {
        let message = positioned(topic, at as u64 + 1, payload);
        let first = at == since && !*faulted;
        match state.fault {
            Fault::ReplayDrop if first => *faulted = true,
            Fault::ReplayDuplicate if first => {
                *faulted = true;
                out.extend_from_slice(&message);
                out.extend_from_slice(&message);
            }
            _ => out.extend_from_slice(&message),
        }
    }
    out
}

/// `MSG topic offset payload\n`.
fn positioned(topic: &[u8], offset: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("MSG {} {offset} ", String::from_utf8_lossy(topic)).into_bytes();
    out.extend_from_slice(payload);
    out.push(b'\n');
    out
}

fn publish(state: &State, topic: &[u8], payload: &[u8]) {
    let mut topics = state.topics.lock().unwrap();
    let n = state.published.fetch_add(1, Ordering::SeqCst);
    let offset = {
        let mut history = state.history.lock().unwrap();
        let kept = history.0.entry(topic.to_vec()).or_default();
        kept.push(payload.to_vec());
        kept.len() as u64
    };
    let Some(subscribers) = topics.get_mut(topic) else {
        return;
    };
    let mut delivery = b"MSG ".to_vec();
    delivery.extend_from_slice(topic);
    delivery.push(b' ');
    delivery.extend_from_slice(payload);
    delivery.push(b'\n');
    for (j, (sub, with_offset)) in subscribers.iter_mut().enumerate() {
        if *with_offset {
            let _ = sub.write_all(&positioned(topic, offset, payload));
            continue;
        }
        let mut out = delivery.clone();
        if j == 0 {
            match state.fault {
                Fault::Drop(k) if k == n => continue,
                Fault::DropReported(k) if k == n => out = b"MISSED 1\n".to_vec(),
                Fault::Duplicate(k) if k == n => out.extend_from_slice(&delivery),
                Fault::Reorder(k) if k == n => {
                    *state.held.lock().unwrap() = Some(out);
                    continue;
                }
                Fault::Reorder(k) if k + 1 == n => {
                    if let Some(held) = state.held.lock().unwrap().take() {
                        out.extend_from_slice(&held);
                    }
                }
                _ => {}
            }
        }
        let _ = sub.write_all(&out);
    }
}
