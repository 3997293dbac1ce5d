//! An in-memory transport: what the harness's client sent, what the server
//! wrote, and how much the "kernel" takes before it says `WouldBlock`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::rc::Rc;

use crate::net::transport::Transport;

/// Both directions of one in-memory connection.
#[derive(Debug, Default)]
pub(crate) struct Pipe {
    /// Bytes the client sent that the server has not read.
    pub(crate) inbound: VecDeque<u8>,
    /// The client closed its sending side.
    pub(crate) client_closed: bool,
    /// The client reset the connection: every call fails.
    pub(crate) reset: bool,
    /// Bytes the server wrote that the test has not taken.
    pub(crate) outbound: Vec<u8>,
    /// How many more bytes a write may take; `None`: any number.
    pub(crate) window: Option<usize>,
    /// The server ended its sending side (FIN).
    pub(crate) server_closed: bool,
}

/// The server's end of a [`Pipe`], as the shard's transport.
pub(crate) struct PipeEnd(pub(crate) Rc<RefCell<Pipe>>);

impl Transport for PipeEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pipe = self.0.borrow_mut();
        if pipe.reset {
            return Err(ErrorKind::ConnectionReset.into());
        }
        if pipe.inbound.is_empty() {
            return if pipe.client_closed {
                Ok(0)
            } else {
                Err(ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(pipe.inbound.len());
        for (slot, byte) in buf.iter_mut().zip(pipe.inbound.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut pipe = self.0.borrow_mut();
        if pipe.reset {
            return Err(ErrorKind::BrokenPipe.into());
        }
        let n = pipe
            .window
            .map_or(data.len(), |window| window.min(data.len()));
        if n == 0 && !data.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        if let Some(window) = pipe.window.as_mut() {
            *window -= n;
        }
        pipe.outbound.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// Takes from every buffer in order, up to the window, as the kernel's
    /// `writev` does.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut pipe = self.0.borrow_mut();
        if pipe.reset {
            return Err(ErrorKind::BrokenPipe.into());
        }
        let wanted: usize = bufs.iter().map(|b| b.len()).sum();
        let n = pipe.window.map_or(wanted, |window| window.min(wanted));
        if n == 0 && wanted > 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        if let Some(window) = pipe.window.as_mut() {
            *window -= n;
        }
        let mut left = n;
        for buf in bufs {
            let take = buf.len().min(left);
            pipe.outbound.extend_from_slice(&buf[..take]);
            left -= take;
        }
        Ok(n)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.borrow_mut().server_closed = true;
        Ok(())
    }

    /// What the pipe took counts as delivered and acknowledged.
    fn unacknowledged(&self) -> io::Result<usize> {
        Ok(0)
    }
}
