//! The connect phase of a worker: ramped, bounded concurrency, timeouts.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mio::{Interest, Token};

use super::{Worker, MAX_CONNECTING, MAX_WAIT};
use crate::conn::State;
use crate::errors::{classify, Cause};
use crate::net;

impl Worker {
    /// Opens this worker's connections, at most `MAX_CONNECTING` at a time
    /// and at its share of `--connect-rate`.
    pub(super) fn connect_phase(&mut self) {
        let n = self.conns.len();
        let rate = self.cfg.connect_rate as f64 / self.cfg.threads as f64;
        let t0 = Instant::now();
        let mut next = 0usize;
        let mut pending: VecDeque<usize> = VecDeque::new();
        while !self.shared.stopped() {
            let now = Instant::now();
            let mut room = MAX_CONNECTING.saturating_sub(self.connecting);
            let mut wait = MAX_WAIT;
            while next < n && room > 0 {
                if rate > 0.0 {
                    let due = t0 + Duration::from_secs_f64(next as f64 / rate);
                    if due > now {
                        wait = wait.min(due - now);
                        break;
                    }
                }
                self.start_connect(next, now);
                pending.push_back(next);
                next += 1;
                room -= 1;
            }
            while let Some(&i) = pending.front() {
                match self.conns[i].state {
                    State::Connecting(since) if now >= since + self.cfg.connect_timeout => {
                        self.count(Cause::ConnectTimeout, 1);
                        self.conns[i].kill();
                        self.connecting -= 1;
                    }
                    State::Connecting(since) => {
                        wait = wait.min(since + self.cfg.connect_timeout - now);
                        break;
                    }
                    _ => {}
                }
                pending.pop_front();
            }
            if next >= n && pending.is_empty() {
                break;
            }
            self.poll_once(wait, None);
        }
    }

    fn start_connect(&mut self, i: usize, now: Instant) {
        let from: Option<IpAddr> = self.conns[i].source.map(|s| self.cfg.sources[s]);
        let result = net::start_connect(self.cfg.addr, from).and_then(|mut stream| {
            self.poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match result {
            Ok(stream) => {
                self.conns[i].stream = Some(stream);
                self.conns[i].state = State::Connecting(now);
                self.connecting += 1;
            }
            Err(e) => {
                self.count(classify(&e), 1);
                self.conns[i].kill();
            }
        }
    }
}
