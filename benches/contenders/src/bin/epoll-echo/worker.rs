//! One epoll-echo worker: its own listener, epoll instance and read buffer.
//!
//! Connections are edge-triggered. Input is read into the worker's single
//! 64 KiB buffer and written straight back. Only when the kernel refuses part
//! of a write does the connection get a private pending buffer and EPOLLOUT
//! interest; until that buffer drains the connection is not read, so a client
//! that does not read its answers cannot make the server buffer without bound.

use std::io::{self, ErrorKind};
use std::os::fd::RawFd;

use crate::sys;

/// Size of the per-thread read buffer.
const READ_BUF: usize = 64 * 1024;
/// Events taken per `epoll_wait`.
const MAX_EVENTS: usize = 256;
/// Connections accepted per listener wakeup before serving others again.
const MAX_ACCEPTS: usize = 256;
/// Reads per connection per turn; a busier connection is revisited later.
const MAX_READS: usize = 16;

/// Interest of a connection with nothing pending.
const INTEREST_IN: u32 = (libc::EPOLLIN | libc::EPOLLET) as u32;
/// Interest of a connection whose output is pending.
const INTEREST_IN_OUT: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLET) as u32;
/// Event bits that mean "try to write the pending output now".
const WRITE_BITS: u32 = (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// State of one worker thread.
pub struct Worker {
    /// The worker's epoll instance.
    epfd: RawFd,
    /// The worker's own SO_REUSEPORT listener (level-triggered).
    listener: RawFd,
    /// Shared read buffer for all connections of this worker.
    buf: Box<[u8]>,
    /// Output the kernel did not take yet, indexed by fd; empty when none.
    pending: Vec<Vec<u8>>,
    /// Connections that may still have unread input (read budget ran out).
    again: Vec<RawFd>,
}

impl Worker {
    /// Creates a worker serving `listener`, which it takes ownership of.
    pub fn new(listener: RawFd) -> io::Result<Self> {
        let epfd = sys::epoll_create()?;
        sys::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, listener, libc::EPOLLIN as u32)?;
        Ok(Self {
            epfd,
            listener,
            buf: vec![0; READ_BUF].into_boxed_slice(),
            pending: Vec::new(),
            again: Vec::new(),
        })
    }

    /// Serves connections until the process is killed or epoll fails.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        let mut again = Vec::new();
        loop {
            let timeout = if self.again.is_empty() { -1 } else { 0 };
            let n = sys::epoll_wait(self.epfd, &mut events, timeout)?;
            std::mem::swap(&mut again, &mut self.again);
            for fd in again.drain(..) {
                self.on_readable(fd);
            }
            for ev in &events[..n] {
                let (fd, bits) = (ev.u64 as RawFd, ev.events);
                if fd == self.listener {
                    self.accept_some();
                    continue;
                }
                if bits & WRITE_BITS != 0 && !self.pending_of(fd).is_empty() {
                    self.flush(fd);
                } else {
                    // Also covers errors and hang-ups: the read reports them.
                    self.on_readable(fd);
                }
            }
        }
    }

    /// Accepts up to `MAX_ACCEPTS` connections.
    fn accept_some(&mut self) {
        for _ in 0..MAX_ACCEPTS {
            let fd = match sys::accept(self.listener) {
                Ok(fd) => fd,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
                Err(e) => {
                    eprintln!("epoll-echo: accept: {e}");
                    return;
                }
            };
            if sys::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, INTEREST_IN).is_err() {
                sys::close(fd);
                continue;
            }
            let slot = fd as usize;
            if slot >= self.pending.len() {
                self.pending.resize_with(slot + 1, Vec::new);
            }
        }
    }

    /// The pending output of `fd` (empty for unknown descriptors).
    fn pending_of(&self, fd: RawFd) -> &[u8] {
        self.pending.get(fd as usize).map_or(&[], Vec::as_slice)
    }

    /// Reads and echoes until the socket is drained or the budget runs out.
    fn on_readable(&mut self, fd: RawFd) {
        for _ in 0..MAX_READS {
            if !self.pending_of(fd).is_empty() {
                return; // Resumed by `flush` once the client reads its answers.
            }
            match sys::read(fd, &mut self.buf) {
                Ok(0) => return self.close(fd),
                Ok(n) => {
                    if self.echo(fd, n).is_err() {
                        return self.close(fd);
                    }
                    if n < self.buf.len() {
                        return; // Drained: edge-triggered, the next byte wakes us.
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.close(fd),
            }
        }
        self.again.push(fd);
    }

    /// Writes `buf[..n]` back; keeps what the kernel refused as pending.
    fn echo(&mut self, fd: RawFd, n: usize) -> io::Result<()> {
        let mut off = 0;
        while off < n {
            match sys::write(fd, &self.buf[off..n]) {
                Ok(0) => break,
                Ok(k) => off += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if off < n {
            let rest = &self.buf[off..n];
            let slot = self
                .pending
                .get_mut(fd as usize)
                .ok_or(ErrorKind::NotFound)?;
            slot.extend_from_slice(rest);
            sys::epoll_ctl(self.epfd, libc::EPOLL_CTL_MOD, fd, INTEREST_IN_OUT)?;
        }
        Ok(())
    }

    /// Writes pending output; once drained, drops EPOLLOUT and reads again.
    fn flush(&mut self, fd: RawFd) {
        let Some(pending) = self.pending.get_mut(fd as usize) else {
            return;
        };
        while !pending.is_empty() {
            match sys::write(fd, pending) {
                Ok(0) => return,
                Ok(k) => drop(pending.drain(..k)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.close(fd),
            }
        }
        // Give the memory back: pending buffers exist only while needed.
        *pending = Vec::new();
        if sys::epoll_ctl(self.epfd, libc::EPOLL_CTL_MOD, fd, INTEREST_IN).is_err() {
            return self.close(fd);
        }
        self.on_readable(fd);
    }

    /// Closes `fd` and forgets its pending output.
    fn close(&mut self, fd: RawFd) {
        if let Some(slot) = self.pending.get_mut(fd as usize) {
            *slot = Vec::new();
        }
        sys::close(fd);
    }
}
