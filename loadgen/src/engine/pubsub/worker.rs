//! One pub/sub worker thread, on the shared worker core
//! (`engine::worker`): its own `mio::Poll` and its share of the
//! subscribers and publishers. It connects them, subscribes and waits for
//! every confirmation, waits for the common start, publishes (closed loop
//! with a window of unacknowledged publishes, or on the open-loop
//! schedule) until the end, then drains: its publishers finish, and
//! everyone reads until every worker's deliveries are in or the drain
//! timeout passes. With tokens, every connection sends `AUTH` first;
//! with `--recover`, subscribers also leave and come back during the
//! load (`recovery`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::Sender;
use hdrhistogram::Histogram;
use mio::{Interest, Token};

use super::client::{Client, Role, State, Step};
use super::counts::{PubsubShared, SubscriberEnd, WorkerEnd};
use crate::engine::errors::{classify, Cause};
use crate::engine::fault::Fault;
use crate::engine::histo::new_histogram;
use crate::engine::outcome::pubsub::Counts;
use crate::engine::outcome::Tally;
use crate::engine::recorder::Recorder;
use crate::engine::shared::ConnectDone;
use crate::engine::shared::{Sample, Shared};
use crate::engine::token::Holder;
use crate::engine::worker::{
    self, connect_step, drive, Connect, Connector, Core, Load, OpenLoop, Ramp, Ready, Window,
    MAX_WAIT,
};
use crate::engine::ws::Link;
use crate::front::config::RunConfig;
use crate::front::plan::{topic_name, Plan};

/// Poll wait while draining and other workers may still be receiving.
const DRAIN_WAIT: Duration = Duration::from_millis(5);
/// A publisher stops queueing while this much is unwritten (the server
/// is not reading); open-loop sends then fall behind their schedule.
pub const OUT_LIMIT: usize = 256 * 1024;

/// What a pub/sub worker needs to start.
#[derive(Debug)]
pub struct Spec {
    /// Worker number.
    pub index: usize,
    /// The run.
    pub cfg: Arc<RunConfig>,
    /// The pub/sub layout.
    pub plan: Plan,
    /// Flags and counters of every run.
    pub shared: Arc<Shared>,
    /// Pub/sub counters shared by the workers.
    pub pubsub: Arc<PubsubShared>,
    /// Where per-second samples go.
    pub samples: Sender<Sample>,
}

/// Runs a worker to completion.
pub fn run(spec: Spec) -> std::io::Result<WorkerEnd> {
    let shared = Arc::clone(&spec.shared);
    let mut done = ConnectDone(&shared, false);
    let mut w = Worker::new(&spec)?;
    w.setup();
    done.signal();
    let start = w.wait_for_start();
    let window_end = w.load(start, &spec.samples);
    w.drain(window_end);
    w.last_sample(&spec.samples);
    Ok(w.finish(window_end))
}

/// Open-loop schedule of this worker: send `f` is due at
/// `start + f × step_ns`, going to local publisher `f mod count`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    /// Due time of send 0.
    start: Instant,
    /// Nanoseconds between two sends of this worker.
    step_ns: f64,
    /// Publishers of this worker.
    count: u64,
}

pub(super) struct Worker {
    /// Poll, buffer, measurements and counts, as every worker has them.
    pub(super) core: Core,
    pub(super) plan: Plan,
    pub(super) ps: Arc<PubsubShared>,
    pub(super) scratch: Vec<u8>,
    pub(super) clients: Vec<Client>,
    /// Indices of this worker's publishers, in slot order.
    pub(super) publishers: Vec<usize>,
    pub(super) subscribe: Histogram<u64>,
    /// Connect deadlines in start order (one timeout for all, so in
    /// deadline order too).
    pub(super) deadlines: VecDeque<(Instant, usize)>,
    pub(super) counts: Counts,
    /// Confirmed subscribers per topic, all workers (known at the start).
    pub(super) topic_subscribers: Vec<u64>,
    /// Publishes with an intended time from here on (ns since the epoch)
    /// are measured.
    pub(super) warm_ns: u64,
    /// Publishers may queue messages.
    pub(super) sending: bool,
    pub(super) schedule: Option<Schedule>,
    /// Deliveries expected / received not yet added to the shared totals.
    pub(super) unshared_expected: u64,
    pub(super) unshared_delivered: u64,
    /// The last, partial second: its number, its length, and the
    /// deliveries counted in it before the window closed.
    pub(super) last_tick: (u64, Duration, u64),
    /// `--recover`: leaves and returns to come, soonest first.
    pub(super) comebacks: BinaryHeap<Reverse<(Instant, usize, Step)>>,
    /// `--recover`: subscribers due back whose connect has not started
    /// (at most [`crate::engine::worker::MAX_CONNECTING`] at once).
    pub(super) returning: VecDeque<usize>,
    /// `--recover`: return-to-caught-up times (ns).
    pub(super) recovery: Histogram<u64>,
    /// `--recover`: when sending ends (a subscriber leaves only if it is
    /// back by then).
    pub(super) load_end: Instant,
}

fn ns_between(from: Instant, to: Instant) -> u64 {
    to.saturating_duration_since(from).as_nanos() as u64
}

impl Worker {
    fn new(spec: &Spec) -> std::io::Result<Self> {
        let cfg = Arc::clone(&spec.cfg);
        let plan = spec.plan;
        let mut per_target = vec![Tally::default(); cfg.targets.len()];
        let mut clients = Vec::new();
        let mut publishers = Vec::new();
        for g in (spec.index as u64..plan.connections()).step_by(cfg.threads) {
            let role = if g < plan.subscribers {
                Role::Subscriber(g)
            } else {
                Role::Publisher(g - plan.subscribers)
            };
            let mut client = Client::new(role, g);
            client.ws = cfg
                .ws
                .as_ref()
                .map(|ws| Box::new(Link::new(Arc::clone(ws), g)));
            if let Role::Publisher(p) = role {
                client.publishing.topics = plan.publisher_topics(p);
                client.publishing.queued = vec![0; client.publishing.topics.len()];
                client.publishing.names = (client.publishing.topics.iter())
                    .map(|&t| topic_name(t).into_bytes())
                    .collect();
                client.publishing.slot = publishers.len() as u64;
                publishers.push(clients.len());
            }
            per_target[(g % cfg.targets.len() as u64) as usize].connections += 1;
            clients.push(client);
        }
        let core = Core::new(
            spec.index,
            cfg,
            Arc::clone(&spec.shared),
            Recorder::new(1, true),
            per_target,
        )?;
        Ok(Self {
            core,
            scratch: Vec::with_capacity(super::payload::MAX_HEADER),
            subscribe: new_histogram(),
            deadlines: VecDeque::new(),
            counts: Counts::default(),
            topic_subscribers: Vec::new(),
            warm_ns: u64::MAX,
            sending: false,
            schedule: None,
            unshared_expected: 0,
            unshared_delivered: 0,
            last_tick: (0, Duration::ZERO, 0),
            comebacks: BinaryHeap::new(),
            returning: VecDeque::new(),
            recovery: new_histogram(),
            load_end: Instant::now(),
            ps: Arc::clone(&spec.pubsub),
            clients,
            publishers,
            plan,
        })
    }

    pub(super) fn target(&self, i: usize) -> usize {
        (self.clients[i].global % self.core.cfg.targets.len() as u64) as usize
    }

    /// Counts `n` errors of `cause` on connection `i`.
    fn count(&mut self, i: usize, cause: Cause, n: u64) {
        let t = self.target(i);
        self.core.count(t, cause, n);
    }

    /// Counts a protocol violation on connection `i`, remembering the
    /// first one's description.
    pub(super) fn mismatch(&mut self, i: usize, what: impl FnOnce() -> String) {
        if self.counts.first_mismatch.is_none() {
            self.counts.first_mismatch = Some(what());
        }
        self.count(i, Cause::Mismatch, 1);
    }

    /// Connection `i`, connecting since `since`, is up at `now` (for the
    /// first time, or back): it authenticates, and a subscriber
    /// subscribes (again).
    fn established(&mut self, i: usize, since: Instant, now: Instant) {
        self.core.connecting -= 1;
        let first = !self.clients[i].been_up;
        if first {
            self.core
                .connect
                .saturating_record((ns_between(since, now)).max(1));
        }
        let g = self.clients[i].global;
        let sources = self.core.per_source.len() as u64;
        let source = (sources > 0).then(|| (g % sources) as usize);
        let t = self.target(i);
        self.core.came_up(first, source, t);
        self.clients[i].been_up = true;
        self.clients[i].state = State::Open;
        self.authenticate(i);
        let Role::Subscriber(s) = self.clients[i].role else {
            return;
        };
        let mut out = std::mem::take(&mut self.clients[i].out);
        for topic in self.plan.subscriber_topics(s) {
            let start = out.len();
            let name = topic_name(topic);
            match self.since(i, topic) {
                None => super::wire::subscribe(self.plan.protocol, name.as_bytes(), &mut out),
                Some(position) => {
                    let since = position.map(|p| (p.offset, &*p.epoch));
                    super::wire::subscribe_positioned(name.as_bytes(), since, &mut out);
                }
            }
            self.clients[i].framed_into(&mut out, start);
            self.clients[i].subs.pending.push_back((topic, now));
        }
        self.clients[i].out = out;
    }

    /// With tokens: queues `AUTH` with a token minted for connection `i`.
    fn authenticate(&mut self, i: usize) {
        let Some(minter) = self.core.cfg.auth.clone() else {
            return;
        };
        let client = &mut self.clients[i];
        let (identity, holder) = match client.role {
            Role::Subscriber(s) => (format!("lg-sub-{s}"), Holder::Subscriber),
            Role::Publisher(p) => (format!("lg-pub-{p}"), Holder::Publisher),
        };
        match minter.mint(&identity, holder, std::time::SystemTime::now()) {
            Ok(token) => {
                let start = client.out.len();
                super::wire::auth(token.as_bytes(), &mut client.out);
                client.framed(start);
                client.authenticating = true;
            }
            Err(e) => self.mismatch(i, || format!("cannot sign a token: {e}")),
        }
    }

    /// Connection `i` failed: count why and what it was owed.
    fn fail(&mut self, i: usize, cause: Cause) {
        self.count(i, cause, 1);
        self.drop_conn(i);
    }

    /// Closes connection `i`, counting the replies it was owed as lost.
    fn drop_conn(&mut self, i: usize) {
        let owed = self.clients[i].awaiting;
        self.count(i, Cause::Lost, owed);
        self.clients[i].awaiting = 0;
        if self.clients[i].state == State::Open {
            self.core.went_down();
        }
        self.clients[i].kill();
    }

    /// Connect timeouts that are due.
    pub(super) fn run_deadlines(&mut self, now: Instant) {
        while let Some(&(at, i)) = self.deadlines.front() {
            if at > now {
                break;
            }
            self.deadlines.pop_front();
            if matches!(self.clients[i].state, State::Connecting(_)) {
                self.core.connecting -= 1;
                self.clients[i].kill();
                self.count(i, Cause::ConnectTimeout, 1);
            }
        }
    }

    fn subscribing(&self) -> bool {
        self.clients
            .iter()
            .any(|c| c.state == State::Open && (c.authenticating || !c.subs.pending.is_empty()))
    }

    /// Connects every connection (ramped, bounded), subscribes the
    /// subscribers and waits for the confirmations (up to
    /// `--connect-timeout` after the last connect); then adds the
    /// confirmed subscriptions to the shared per-topic counts.
    fn setup(&mut self) {
        let n = self.clients.len();
        let mut ramp = Ramp::new(&self.core.cfg, n);
        let mut confirm_by: Option<Instant> = None;
        while !self.core.shared.stopped() {
            let now = Instant::now();
            let mut wait = MAX_WAIT;
            ramp.start_due(self, now, &mut wait);
            self.run_deadlines(now);
            if ramp.started_all() && self.core.connecting == 0 {
                let by = *confirm_by.get_or_insert(now + self.core.cfg.connect_timeout);
                if !self.subscribing() || now >= by {
                    break;
                }
                wait = wait.min(by - now);
            }
            if let Some(&(at, _)) = self.deadlines.front() {
                wait = wait.min(at.saturating_duration_since(now));
            }
            self.poll_once(wait);
        }
        for i in 0..n {
            let unconfirmed = self.clients[i].subs.pending.len() as u64;
            self.clients[i].subs.pending.clear();
            self.count(i, Cause::Unanswered, unconfirmed);
            for &topic in &self.clients[i].subs.topics {
                self.ps.topic_subscribers[topic as usize].fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Services events until the coordinator publishes the start time.
    fn wait_for_start(&mut self) -> Instant {
        let shared = Arc::clone(&self.core.shared);
        worker::await_start(&shared, |wait| self.poll_once(wait))
    }

    /// Adds this worker's new expected and received deliveries to the
    /// shared totals (once per poll, not per message).
    fn share_counts(&mut self) {
        if self.unshared_expected > 0 {
            self.ps.expected.fetch_add(
                std::mem::take(&mut self.unshared_expected),
                Ordering::SeqCst,
            );
        }
        if self.unshared_delivered > 0 {
            self.ps.delivered.fetch_add(
                std::mem::take(&mut self.unshared_delivered),
                Ordering::SeqCst,
            );
        }
    }

    /// Advances connection `i`: finishes its connect, reads and checks
    /// what arrived, queues publishes, writes.
    fn service(&mut self, i: usize, readable: bool) {
        match self.clients[i].state {
            State::Connecting(since) => {
                let Some(stream) = self.clients[i].stream.as_ref() else {
                    return;
                };
                let target = self.target(i);
                let connected = crate::engine::net::connect_result(stream.tcp());
                let (client, buf) = (&mut self.clients[i], &mut self.core.buf);
                match connect_step(connected, || client.upgrade(buf, target)) {
                    Connect::Up => {
                        self.established(i, since, Instant::now());
                        self.service(i, true);
                    }
                    Connect::Pending => {}
                    Connect::Failed(cause) => {
                        self.core.connecting -= 1;
                        self.clients[i].kill();
                        self.count(i, cause, 1);
                    }
                }
            }
            State::Open => {
                if readable {
                    loop {
                        let drained = match self.clients[i].read_some(&mut self.core.buf) {
                            Ok(drained) => drained,
                            Err(fault) => return self.fault(i, fault),
                        };
                        if !self.take_input(i) {
                            return;
                        }
                        if drained {
                            break;
                        }
                    }
                }
                if self.sending {
                    self.fill(i, Instant::now());
                }
                if let Err(fault) = self.clients[i].flush() {
                    self.fault(i, fault);
                }
            }
            State::Waiting | State::Dead => {}
        }
    }

    fn fault(&mut self, i: usize, fault: Fault) {
        self.fail(i, fault.cause());
    }

    /// Handles every complete frame of connection `i`'s input; returns
    /// false when the input could not be parsed (the connection is then
    /// closed).
    fn take_input(&mut self, i: usize) -> bool {
        let input = std::mem::take(&mut self.clients[i].input);
        let now = Instant::now();
        let protocol = self.plan.protocol;
        let mut at = 0;
        loop {
            match super::wire::next_frame(protocol, &input[at..]) {
                Ok(Some((frame, used))) => {
                    at += used;
                    self.on_frame(i, frame, now);
                }
                Ok(None) => break,
                Err(garbled) => {
                    self.mismatch(i, || format!("unreadable reply: {}", garbled.0));
                    self.drop_conn(i);
                    return false;
                }
            }
        }
        if self.clients[i].state == State::Open {
            let mut input = input;
            input.drain(..at);
            self.clients[i].input = input;
        }
        true
    }

    /// Queues publishes on connection `i` (if it is a publisher) as the
    /// window or the schedule allows.
    fn fill(&mut self, i: usize, now: Instant) {
        let Role::Publisher(p) = self.clients[i].role else {
            return;
        };
        let window = self.core.cfg.pipeline as u64;
        loop {
            let client = &self.clients[i];
            if client.unwritten() >= OUT_LIMIT {
                break;
            }
            let intended = match self.schedule {
                None => {
                    if client.awaiting >= window {
                        break;
                    }
                    now
                }
                Some(s) => {
                    let pubs = &client.publishing;
                    if pubs.total >= pubs.owed {
                        break;
                    }
                    let at = (pubs.total * s.count + pubs.slot) as f64 * s.step_ns;
                    s.start + Duration::from_nanos(at as u64)
                }
            };
            self.queue_publish(i, p, intended, now);
        }
    }

    fn queue_publish(&mut self, i: usize, p: u64, intended: Instant, now: Instant) {
        let epoch = self.ps.epoch;
        let protocol = self.plan.protocol;
        let size = self.core.cfg.size;
        let client = &mut self.clients[i];
        let (c, seq) = client.publishing.next_slot();
        let topic = client.publishing.topics[c];
        let header = super::payload::Header {
            publisher: p,
            topic,
            seq,
            intended_ns: ns_between(epoch, intended),
            sent_ns: ns_between(epoch, now),
        };
        super::payload::header(&header, &mut self.scratch);
        let len = super::payload::len(self.scratch.len(), size);
        let name = &client.publishing.names[c];
        let start = client.out.len();
        super::wire::publish_start(protocol, name, len, &mut client.out);
        super::payload::write(
            &header,
            &self.scratch,
            size,
            self.core.cfg.payload,
            &mut client.out,
        );
        super::wire::publish_end(protocol, &mut client.out);
        client.framed(start);
        client.publishing.queued[c] += 1;
        client.publishing.total += 1;
        client.awaiting += 1;
        self.counts.published += 1;
        if header.intended_ns >= self.warm_ns {
            self.counts.published_measured += 1;
        }
        self.unshared_expected += self.topic_subscribers[topic as usize];
    }

    fn schedule(&self, start: Instant) -> Option<Schedule> {
        let rate = self.core.cfg.rate?;
        let count = self.publishers.len() as u64;
        if count == 0 {
            return None;
        }
        let worker_rate = rate * count as f64 / self.plan.publishers as f64;
        let step_ns = 1e9 / worker_rate;
        let offset = step_ns * self.core.index as f64 / self.core.cfg.threads as f64;
        Some(Schedule {
            start: start + Duration::from_nanos(offset as u64),
            step_ns,
            count,
        })
    }

    /// Publishes from `start` to the end of the measured window; returns
    /// when sending stopped.
    fn load(&mut self, start: Instant, samples: &Sender<Sample>) -> Instant {
        let cfg = Arc::clone(&self.core.cfg);
        let mut window = Window::new(start, &cfg);
        let warm_end = window.warm_end;
        self.warm_ns = ns_between(self.ps.epoch, warm_end);
        self.topic_subscribers = self
            .ps
            .topic_subscribers
            .iter()
            .map(|n| n.load(Ordering::SeqCst))
            .collect();
        self.schedule = self.schedule(start);
        self.plan_leaves(start, window.end);
        let open_loop = self
            .schedule
            .map(|s| OpenLoop::new(s.start, s.step_ns, s.count, self.core.poll.registry()));
        self.sending = true;
        self.core.rec.measuring = cfg.warmup.is_zero();
        for i in 0..self.clients.len() {
            self.service(i, false);
        }
        let window_end = drive(self, &mut window, open_loop, samples);
        self.sending = false;
        if let Some(s) = self.schedule {
            self.count_unsent(s, warm_end, window_end);
        }
        let (tick, length) = window.last(window_end);
        self.last_tick = (tick, length, self.core.rec.interval_messages);
        window_end
    }

    /// Open loop: publishes due in the measured window but never queued
    /// (the publisher's output stayed full).
    fn count_unsent(&mut self, s: Schedule, warm_end: Instant, window_end: Instant) {
        for (slot, &i) in self.publishers.iter().enumerate() {
            let pubs = &self.clients[i].publishing;
            for j in pubs.total..pubs.owed {
                let at = (j * s.count + slot as u64) as f64 * s.step_ns;
                let intended = s.start + Duration::from_nanos(at as u64);
                if intended >= warm_end && intended < window_end {
                    self.core.rec.unsent += 1;
                }
            }
        }
    }

    fn publishers_settled(&self) -> bool {
        self.publishers.iter().all(|&i| {
            let c = &self.clients[i];
            c.state != State::Open || (c.awaiting == 0 && c.unwritten() == 0)
        })
    }

    /// After the window: this worker's publishers finish writing and get
    /// their replies; then everyone reads until all workers' publishers
    /// are done and every expected delivery arrived, or the drain timeout.
    fn drain(&mut self, window_end: Instant) {
        let deadline = window_end + self.core.cfg.drain_timeout;
        let mut settled = false;
        loop {
            let now = Instant::now();
            // Shared first: once this worker counts as done, its
            // publishes must all be in the expected total.
            self.share_counts();
            if !settled && (self.publishers_settled() || now >= deadline) {
                settled = true;
                self.ps.publishing_done.fetch_add(1, Ordering::SeqCst);
            }
            self.run_comebacks(now);
            let all_done = self.ps.publishing_done.load(Ordering::SeqCst) >= self.core.cfg.threads
                && self.ps.delivered.load(Ordering::SeqCst)
                    >= self.ps.expected.load(Ordering::SeqCst);
            if (settled && all_done) || now >= deadline {
                break;
            }
            self.poll_once(DRAIN_WAIT.min(deadline - now));
        }
    }

    /// The last, partial second ends with the window; deliveries during
    /// the drain are in its histograms, not in its count.
    fn last_sample(&mut self, samples: &Sender<Sample>) {
        let (tick, length, in_window) = self.last_tick;
        if self.core.rec.measuring {
            self.send_sample(samples, tick, length, Some(in_window));
        }
    }

    /// Checks which connections are still open, closes everything and
    /// hands over what was counted.
    fn finish(mut self, window_end: Instant) -> WorkerEnd {
        let mut open_at_end = 0;
        let mut subscribers = Vec::new();
        let mut published = Vec::new();
        for i in 0..self.clients.len() {
            if self.clients[i].state == State::Open {
                let alive = self.clients[i]
                    .stream
                    .as_ref()
                    .is_some_and(|s| crate::engine::net::still_open(s.tcp()));
                let owed = self.clients[i].awaiting;
                if alive {
                    open_at_end += 1;
                    let t = self.target(i);
                    self.core.per_target[t].open_at_end += 1;
                    self.count(i, Cause::Unanswered, owed);
                } else {
                    self.count(i, Cause::Closed, 1);
                    self.count(i, Cause::Lost, owed);
                }
                self.core.shared.open.fetch_sub(1, Ordering::Relaxed);
            }
            let client = &mut self.clients[i];
            client.kill();
            if client.subs.back_since.is_some() {
                self.counts.unrecovered += 1;
            }
            match client.role {
                Role::Subscriber(s) => subscribers.push(SubscriberEnd {
                    topics: std::mem::take(&mut client.subs.topics),
                    streams: std::mem::take(&mut client.subs.streams),
                    counted: (!self.plan.verified(s)).then_some(client.subs.counted),
                }),
                Role::Publisher(p) => {
                    let pubs = &client.publishing;
                    published.push((
                        p,
                        pubs.topics
                            .iter()
                            .copied()
                            .zip(pubs.queued.iter().copied())
                            .collect(),
                    ));
                }
            }
        }
        WorkerEnd {
            recorder: self.core.rec,
            connect: self.core.connect,
            subscribe: self.subscribe,
            recovery: self.recovery,
            errors: self.core.errors,
            established: self.core.established,
            open_at_end,
            per_source: self.core.per_source,
            per_target: self.core.per_target,
            window_end,
            subscribers,
            published,
            counts: self.counts,
        }
    }
}

impl Connector for Worker {
    fn connecting(&self) -> usize {
        self.core.connecting
    }

    fn start_connect(&mut self, i: usize, now: Instant) {
        let g = self.clients[i].global;
        let from = (!self.core.cfg.sources.is_empty())
            .then(|| self.core.cfg.sources[(g % self.core.cfg.sources.len() as u64) as usize]);
        let to = self.core.cfg.targets[self.target(i)];
        let (tls, target) = (self.core.cfg.tls.as_ref(), self.target(i));
        let result = crate::engine::net::start_connect(to, from)
            .and_then(|tcp| crate::engine::tls::Stream::new(tcp, tls, target))
            .and_then(|mut stream| {
                self.core.poll.registry().register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                Ok(stream)
            });
        match result {
            Ok(stream) => {
                self.clients[i].stream = Some(stream);
                self.clients[i].state = State::Connecting(now);
                self.core.connecting += 1;
                self.deadlines
                    .push_back((now + self.core.cfg.connect_timeout, i));
            }
            Err(e) => {
                self.clients[i].kill();
                self.count(i, classify(&e), 1);
            }
        }
    }
}

impl Load for Worker {
    fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    fn run_timers(&mut self, now: Instant) -> Option<Instant> {
        self.run_comebacks(now)
    }

    fn send_due(&mut self, publisher: usize, due: Instant) {
        let i = self.publishers[publisher];
        let before = self.clients[i].publishing.total;
        self.clients[i].publishing.owed += 1;
        self.service(i, false);
        if self.clients[i].publishing.total > before {
            self.core
                .rec
                .record_pacing(Instant::now().saturating_duration_since(due));
        }
    }

    /// Waits up to `wait` for events and handles them.
    fn poll_once(&mut self, wait: Duration) {
        let Some(events) = self.core.wait(wait) else {
            return;
        };
        for event in events.iter() {
            let i = event.token().0;
            if i < self.clients.len() {
                let ready = Ready::of(event);
                self.clients[i].peer_closed |= ready.peer_closed;
                self.service(i, ready.readable);
            }
        }
        self.core.restore(events);
        self.share_counts();
    }

    /// Hands the coordinator this interval's sample; `messages` replaces
    /// the count of deliveries when given.
    fn send_sample(
        &mut self,
        samples: &Sender<Sample>,
        index: u64,
        length: Duration,
        messages: Option<u64>,
    ) {
        self.core.send_sample(samples, index, length, messages, 0);
    }
}
