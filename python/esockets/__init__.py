"""esockets: Python callbacks on esockets' Rust shards.

Two APIs: the original esockets one (``SocketServer`` with
``handle_incoming``/``handle_readable``; ``ESocketS.Socket``, the older
subclass style, is the top-level module ``ESocketS``) and the modern one
(``Handler`` and ``Server``, with timers, per-client state, publish and
subscribe, every option of the server, and the built-in protocols).

The server's sockets, polling, reading and writing are Rust; a shard's
Python callbacks of one loop round share one hold of the interpreter
lock, never held while the shard waits for events.
"""

import os
import socket
import threading

from esockets._esockets import Client, Core, ServerHandle
from esockets._run import Runner
from esockets.modern import Handler, Server

__all__ = ["SocketServer", "Client", "Handler", "Server", "ServerHandle"]
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
        if queue_size < 1:
            raise ValueError("queue_size: must be at least 1, got %d" % queue_size)
        if not isinstance(block_time, (int, float)):
            raise TypeError("block_time: expected a number, got %s" % type(block_time).__name__)
        if not callable(handle_readable):
            raise TypeError("handle_readable: expected a callable")
        if not callable(handle_incoming):
            raise TypeError("handle_incoming: expected a callable")
        if isinstance(max_subthreads, bool) or not isinstance(max_subthreads, int):
            raise TypeError("max_subthreads: expected an int")
        if isinstance(threads, bool) or not isinstance(threads, int):
            raise TypeError("threads: expected an int, got %s" % type(threads).__name__)
        self.host = _host(host if host is not None else _default_host())
        self.queue_size = queue_size
        self.block_time = block_time
        self.selector = selector
        self.max_subthreads = max_subthreads
        self.handle_readable = handle_readable
        self.handle_incoming = handle_incoming
        self.clients = {}
        self._lock = threading.Lock()
        self._core = Core({"original": True, "connect": self._incoming,
                           "data": self._readable, "close": self._closed},
                          None, host=self.host, port=_port(port), backlog=queue_size,
                          threads=threads)
        self.port = self._core.port
        self._runner = Runner(self._core)

    def _incoming(self, client, address):
        with self._lock:
            self.clients[client.fileno()] = client
        keep = False
        try:
            keep = self.handle_incoming(client, address)
        finally:
            if not keep:
                # Refused: no close event comes for it.
                with self._lock:
                    self.clients.pop(client.fileno(), None)
        return keep

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
        self._runner.start()

    def serve_forever(self):
        """``start()``, then wait until the server stops."""
        self._runner.start()
        self._runner.join()

    def join(self, timeout=None):
        """Waits for the server to stop; True when it has."""
        return self._runner.join(timeout)

    def stop(self, timeout=None):
        """Graceful shutdown: stop accepting, flush every client, close."""
        return self._runner.stop(timeout)
