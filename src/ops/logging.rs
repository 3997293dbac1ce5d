//! The `esockets` binary's logging in one call: readable lines (or JSON
//! objects, one per line) on stderr that never block and never panic,
//! whatever happened to stderr.
//!
//! # Implementation notes
//!
//! A log call formats its line and puts it in a bounded queue without
//! waiting; one writer thread takes lines from the queue and writes them to
//! stderr. When stderr is a full pipe nobody reads, only the writer thread
//! waits: the queue fills, further lines are dropped and counted, and every
//! other thread (shards, the signal thread, `main`) goes on. Write errors
//! (a reader that exited: `EPIPE`; a closed descriptor) are ignored, where
//! the default `tracing` writer would print a complaint with `eprintln!`,
//! which panics when stderr is broken (issue 12: a server behind
//! `2>&1 | head -2` became unkillable).

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam::channel::{self, Receiver, Sender, TrySendError};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Lines that may wait for the writer thread. At about 150 bytes a line
/// that is 150 KiB: enough for any burst of start-up, warning or summary
/// lines, small enough to drop excess quickly when stderr is stuck.
const QUEUE_LINES: usize = 1024;

/// How long dropping a [`LogGuard`] waits for queued lines to be written:
/// long enough for any terminal or file, short enough that a stuck stderr
/// does not noticeably delay the exit.
const EXIT_FLUSH: Duration = Duration::from_secs(1);

/// The queue every log call writes to; set once by [`init`].
static QUEUE: OnceLock<Queue> = OnceLock::new();

/// The sending side of the writer thread's queue.
struct Queue {
    /// Lines and flush requests, in order.
    sender: Sender<Message>,
    /// Lines dropped because the queue was full, not yet reported.
    dropped: AtomicU64,
}

/// What the writer thread is asked to do.
enum Message {
    /// Write these bytes (one formatted event) to stderr.
    Line(Vec<u8>),
    /// Answer once every earlier line was written (or given up on).
    Flush(Sender<()>),
}

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: `2026-11-21T19:32:57Z  INFO message key=value`,
    /// timestamps to the second, colours only on a terminal.
    #[default]
    Text,
    /// For log pipelines (Loki, Elasticsearch): one JSON object per line,
    /// `{"timestamp":"2026-11-21T19:32:57.123Z","level":"INFO",
    /// "message":"...", ...fields}`, timestamps to the millisecond.
    Json,
}

/// Installs the `esockets` log format as the global `tracing` subscriber;
/// the same as [`init_with`]`(LogFormat::Text)`.
///
/// # Examples
///
/// ```no_run
/// let _log = esockets::logging::init();
/// tracing::info!("written to stderr, like the esockets server's logs");
/// ```
pub fn init() -> LogGuard {
    init_with(LogFormat::Text)
}

/// Installs the `esockets` log format as the global `tracing` subscriber:
/// stderr, level `info` unless `RUST_LOG` says otherwise (a level such as
/// `RUST_LOG=debug`, or levels by target such as
/// `RUST_LOG=esockets=debug,info`), lines in `format`, times in UTC.
/// Logging never blocks a thread and never panics, even when
/// stderr is closed or is a full pipe; lines that cannot be written in time
/// are dropped and counted.
///
/// Keep the returned guard until the end of `main`: dropping it waits
/// (at most a second) for the last lines to be written. If a global
/// subscriber was already installed, it stays and this does nothing.
///
/// # Examples
///
/// ```no_run
/// use esockets::logging::{self, LogFormat};
///
/// let _log = logging::init_with(LogFormat::Json);
/// tracing::info!(shard = 0, "one JSON object per line on stderr");
/// ```
pub fn init_with(format: LogFormat) -> LogGuard {
    let (filter, complaint) = match filter(std::env::var("RUST_LOG").ok().as_deref()) {
        Ok(filter) => (filter, None),
        Err(complaint) => (default_filter(), Some(complaint)),
    };
    if QUEUE.get().is_none() {
        let (queue, receiver) = Queue::new(QUEUE_LINES);
        let spawned = thread::Builder::new()
            .name("esockets-log".into())
            .spawn(move || write_lines(receiver, io::stderr(), dropped_lines));
        if spawned.is_err() {
            // Without a writer thread, logs are lost rather than blocking.
            return LogGuard { _private: () };
        }
        let _ = QUEUE.set(queue);
    }
    // One of the two is `Some`; a `None` layer does nothing.
    let text = (format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(|| QueueWriter)
            .with_ansi(io::stderr().is_terminal())
            .with_timer(UtcSeconds)
            .with_target(false)
    });
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(|| QueueWriter)
            .with_timer(UtcMillis)
            .with_target(false)
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .try_init();
    if let (Ok(()), Some(complaint)) = (installed, complaint) {
        tracing::warn!("{complaint}");
    }
    LogGuard { _private: () }
}

/// What is logged when `RUST_LOG` is unset or empty: `info` and above.
fn default_filter() -> Targets {
    Targets::new().with_default(LevelFilter::INFO)
}

/// The filter `RUST_LOG` asks for (the default when unset or empty).
///
/// The `Targets` syntax (`LEVEL` or `TARGET=LEVEL`, comma-separated)
/// rather than `EnvFilter`'s: the latter needs the regex crates, which
/// made every first build of esockets about a quarter slower (issue 12).
///
/// # Errors
///
/// A message for the operator when `RUST_LOG` cannot be read.
fn filter(rust_log: Option<&str>) -> Result<Targets, String> {
    match rust_log.map(str::trim) {
        None | Some("") => Ok(default_filter()),
        Some(text) => text.parse().map_err(|err| {
            format!(
                "RUST_LOG={text:?} not understood ({err}), logging at info: give a level \
                 (RUST_LOG=debug) or levels by target (RUST_LOG=esockets=debug,info)"
            )
        }),
    }
}

/// Waits until every line logged so far was written to stderr, for at most
/// `timeout`. Returns whether they were; `true` when [`init`] was not
/// called.
pub fn flush(timeout: Duration) -> bool {
    let Some(queue) = QUEUE.get() else {
        return true;
    };
    let deadline = Instant::now() + timeout;
    let (done, written) = channel::bounded(1);
    if queue
        .sender
        .send_timeout(Message::Flush(done), timeout)
        .is_err()
    {
        return false;
    }
    written
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .is_ok()
}

/// Returned by [`init`]; dropping it flushes the log (see [`flush`]),
/// waiting at most a second.
#[must_use = "dropping the guard at once may lose the last log lines at exit"]
#[derive(Debug)]
pub struct LogGuard {
    /// Only [`init`] makes one.
    _private: (),
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        flush(EXIT_FLUSH);
    }
}

impl Queue {
    /// A queue of `lines` lines, and the writer thread's end of it.
    fn new(lines: usize) -> (Self, Receiver<Message>) {
        let (sender, receiver) = channel::bounded(lines);
        let queue = Self {
            sender,
            dropped: AtomicU64::new(0),
        };
        (queue, receiver)
    }

    /// Queues `line` without waiting; counts it as dropped if the queue is
    /// full.
    fn push(&self, line: &[u8]) {
        if let Err(TrySendError::Full(_)) = self.sender.try_send(Message::Line(line.to_vec())) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Lines dropped since the last call (0 before [`init`]).
fn dropped_lines() -> u64 {
    QUEUE
        .get()
        .map_or(0, |queue| queue.dropped.swap(0, Ordering::Relaxed))
}

/// The writer thread: writes queued lines to `out` until every sender is
/// gone, ignoring errors; before a line, says how many were dropped since
/// the last one written (`dropped` counts them).
fn write_lines(receiver: Receiver<Message>, mut out: impl Write, dropped: impl Fn() -> u64) {
    // After EPIPE nobody will ever read: stop trying.
    let mut broken = false;
    for message in receiver {
        match message {
            Message::Line(line) if !broken => {
                let lost = dropped();
                if lost > 0 {
                    let note = format!("({lost} log lines dropped: stderr was not read)\n");
                    let _ = out.write_all(note.as_bytes());
                }
                if let Err(err) = out.write_all(&line) {
                    broken = err.kind() == io::ErrorKind::BrokenPipe;
                }
            }
            Message::Line(_) => {}
            Message::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// One event's bytes, handed to the queue without waiting.
struct QueueWriter;

impl Write for QueueWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(queue) = QUEUE.get() {
            queue.push(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Timestamps such as `2026-11-21T19:32:57Z`: UTC, to the second.
struct UtcSeconds;

impl FormatTime for UtcSeconds {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(
            w,
            "{}",
            humantime::format_rfc3339_seconds(SystemTime::now())
        )
    }
}

/// Timestamps such as `2026-11-21T19:32:57.123Z`: UTC, to the
/// millisecond (log pipelines order lines by them).
struct UtcMillis;

impl FormatTime for UtcMillis {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", humantime::format_rfc3339_millis(SystemTime::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer that fails every write with `kind`, counting the tries.
    struct Failing {
        kind: io::ErrorKind,
        tries: Arc<AtomicU64>,
    }

    impl Write for Failing {
        fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
            self.tries.fetch_add(1, Ordering::Relaxed);
            Err(self.kind.into())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (queue, _receiver) = Queue::new(2);
        for _ in 0..5 {
            queue.push(b"line\n");
        }
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn lines_are_written_in_order_with_a_note_of_drops() {
        let (queue, receiver) = Queue::new(8);
        queue.push(b"one\n");
        queue.push(b"two\n");
        drop(queue);
        let mut out = Vec::new();
        let reported = AtomicU64::new(3);
        write_lines(receiver, &mut out, || reported.swap(0, Ordering::Relaxed));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "(3 log lines dropped: stderr was not read)\none\ntwo\n"
        );
    }

    #[test]
    fn a_broken_pipe_stops_writing_but_flushes_still_answer() {
        let (queue, receiver) = Queue::new(8);
        let (done, flushed) = channel::bounded(1);
        queue.push(b"one\n");
        queue.push(b"two\n");
        queue
            .sender
            .send(Message::Flush(done))
            .expect("queue has room");
        drop(queue);
        let tries = Arc::new(AtomicU64::new(0));
        let out = Failing {
            kind: io::ErrorKind::BrokenPipe,
            tries: Arc::clone(&tries),
        };
        write_lines(receiver, out, || 0);
        assert_eq!(tries.load(Ordering::Relaxed), 1, "one try, then none");
        assert!(flushed.try_recv().is_ok(), "the flush was answered");
    }

    #[test]
    fn rust_log_levels_and_targets() {
        use tracing::Level;
        assert!(filter(None)
            .expect("default")
            .would_enable("esockets", &Level::INFO));
        assert!(!filter(Some(""))
            .expect("default")
            .would_enable("esockets", &Level::DEBUG));
        assert!(filter(Some("debug"))
            .expect("a level")
            .would_enable("mio", &Level::DEBUG));
        let targets = filter(Some("esockets=trace,warn")).expect("by target");
        assert!(targets.would_enable("esockets", &Level::TRACE));
        assert!(!targets.would_enable("mio", &Level::INFO));
        let err = filter(Some("esockets=loud")).expect_err("not a level");
        assert!(err.contains("RUST_LOG=debug"), "{err}");
    }

    #[test]
    fn flush_without_init_returns_at_once() {
        if QUEUE.get().is_none() {
            assert!(flush(Duration::ZERO));
        }
    }
}
