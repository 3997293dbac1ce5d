"""esockets: the original esockets API (``SocketServer``) on esockets' Rust shards.

The server's sockets, polling, reading and writing are Rust; each client
event calls your Python function with the interpreter lock held for that
call only. ``ESocketS.Socket`` (the older subclass style) is the
top-level module ``ESocketS``.
"""

import atexit
import os
import signal
import socket
import threading

from esockets._esockets import Client, Core

__all__ = ["SocketServer", "Client"]
__version__ = "4.0.0"


def _port(port):
    """The port to bind: ESOCKETS_PORT, when set, overrides the argument
    (so the original scripts run unchanged on another port)."""
    override = os.environ.get("ESOCKETS_PORT")
    if override is not None:
        return int(override)
    return port


def _host(host):
    """The host to bind: ESOCKETS_HOST, when set, overrides the argument."""
    return os.environ.get("ESOCKETS_HOST", host)


def _default_host():
    return socket.gethostbyname(socket.gethostname())


class SocketServer:
    """The esockets 3 server: ``handle_incoming(client, address)`` and
    ``handle_readable(client)`` each return True to keep the client, False
    to close it.

    ``queue_size`` is the listen backlog. ``block_time``, ``selector`` and
    ``max_subthreads`` are accepted for compatibility and mean nothing
    here: the shards poll with epoll, never block on a timeout, and start
    no thread per event.
    """

    def __init__(self, port=1234, host=None, queue_size=1000, block_time=2,
                 selector=None, handle_readable=lambda client: True,
                 handle_incoming=lambda client, address: True,
                 max_subthreads=-1, threads=0):
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("port: expected an int, got %s" % type(port).__name__)
        if host is not None and not isinstance(host, str):
            raise TypeError("host: expected a str, got %s" % type(host).__name__)
        if isinstance(queue_size, bool) or not isinstance(queue_size, int):
            raise TypeError("queue_size: expected an int, got %s" % type(queue_size).__name__)
        if not isinstance(block_time, (int, float)):
            raise TypeError("block_time: expected a number, got %s" % type(block_time).__name__)
        if not callable(handle_readable):
            raise TypeError("handle_readable: expected a callable")
        if not callable(handle_incoming):
            raise TypeError("handle_incoming: expected a callable")
        if isinstance(max_subthreads, bool) or not isinstance(max_subthreads, int):
            raise TypeError("max_subthreads: expected an int")
        if not isinstance(threads, int) or threads < 0:
            raise ValueError("threads: expected an int >= 0, got %r" % (threads,))
        self.host = _host(host if host is not None else _default_host())
        self.queue_size = queue_size
        self.block_time = block_time
        self.selector = selector
        self.max_subthreads = max_subthreads
        self.handle_readable = handle_readable
        self.handle_incoming = handle_incoming
        self.clients = {}
        self._lock = threading.Lock()
        self._core = Core(self.host, _port(port), queue_size, self._incoming,
                          self._readable, self._closed, threads)
        self.port = self._core.port
        self._thread = None

    def _incoming(self, client, address):
        with self._lock:
            self.clients[client.fileno()] = client
        return self.handle_incoming(client, address)

    def _readable(self, client):
        return self.handle_readable(client)

    _closed_hook = None

    def _closed(self, client):
        with self._lock:
            if self.clients.get(client.fileno()) is client:
                del self.clients[client.fileno()]
        if self._closed_hook is not None:
            self._closed_hook(client)

    def start(self):
        """Starts serving in a (non-daemon) thread and returns; the process
        lives on until ``stop()``, SIGINT or SIGTERM, which drain."""
        if self._thread is not None:
            raise RuntimeError("start: the server already started")
        self._thread = threading.Thread(target=self._core.run, name="esockets", daemon=False)
        self._thread.start()
        atexit.register(self.stop)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stop())

    def serve_forever(self):
        """``start()``, then wait until the server stops."""
        if self._thread is None:
            self.start()
        self.join()

    def join(self, timeout=None):
        """Waits for the server to stop; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self):
        """Graceful shutdown: stop accepting, flush every client, close."""
        self._core.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
