//! Scraping a metrics endpoint as Prometheus would, reading series out of
//! the text, and validating it with the real `promtool check metrics`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::components::require;
use super::DEADLINE;

/// An HTTP answer: status code, headers (lower-case names) and body.
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// `(name, value)` pairs, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Sends `METHOD path` as an HTTP/1.0 request (the connection closes after
/// the answer) and reads the answer, within [`DEADLINE`].
pub fn request(addr: SocketAddr, method: &str, path: &str) -> Answer {
    let mut stream =
        TcpStream::connect_timeout(&addr, DEADLINE).expect("connect to the metrics endpoint");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    stream.set_write_timeout(Some(DEADLINE)).expect("timeout");
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send the request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read the answer");
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {raw:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The address in a "metrics at http://ADDR/metrics" start-up line.
pub fn metrics_addr_in(line: &str) -> SocketAddr {
    let start = line.find("http://").expect("a URL") + "http://".len();
    let rest = &line[start..];
    let end = rest.find("/metrics").expect("the path");
    rest[..end]
        .parse()
        .unwrap_or_else(|err| panic!("{err}: {line}"))
}

/// `GET /metrics`, which must answer 200 in the Prometheus text format.
pub fn scrape(addr: SocketAddr) -> String {
    let answer = request(addr, "GET", "/metrics");
    assert_eq!(answer.status, 200, "GET /metrics: {}", answer.body);
    let content_type = answer.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content type {content_type:?}"
    );
    answer.body
}

/// The value of the series written exactly as `series` (name and labels,
/// e.g. `esockets_connections_open{shard="0"}`), if the text has it.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
}

/// Scrapes until `series` satisfies `condition`, within [`DEADLINE`];
/// returns that scrape. Shards publish counters at the end of a loop round
/// (at most 10 ms late), so a test waits rather than reads once.
pub fn wait_for(addr: SocketAddr, series: &str, condition: impl Fn(f64) -> bool) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let text = scrape(addr);
        if value(&text, series).is_some_and(&condition) {
            return text;
        }
        assert!(
            Instant::now() < end,
            "{series} never met the condition; last scrape:\n{text}"
        );
        // Polling, not synchronisation: the shard's next publish is what we wait for.
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `promtool check metrics` (Debian's `prometheus` package) on
/// `text`, which must pass without a single complaint.
pub fn promtool_check(text: &str) {
    let promtool = require("promtool");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = text.to_owned();
    let writer = thread::spawn(move || stdin.write_all(body.as_bytes()));
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("promtool status") {
            break status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("promtool did not finish within {DEADLINE:?}");
        }
        // Polling, not synchronisation: promtool's exit is what we wait for.
        thread::sleep(Duration::from_millis(5));
    };
    writer
        .join()
        .expect("writer thread")
        .expect("write the metrics to promtool");
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    assert!(
        status.success() && out.trim().is_empty() && err.trim().is_empty(),
        "promtool check metrics failed ({status}):\n{out}{err}\non:\n{text}"
    );
}
