"""The modern API: a ``Handler`` with ``on_connect``, ``on_data``,
``on_close``, ``on_timer`` and ``on_tick``, served by ``Server`` on
esockets' Rust shards, or a built-in protocol with no Python per message.
"""

from esockets._esockets import Core
from esockets._run import Runner

__all__ = ["Handler", "Server"]

#: Each event the shards report, and the handler method it calls.
_EVENTS = {
    "connect": "on_connect",
    "data": "on_data",
    "close": "on_close",
    "timer": "on_timer",
    "tick": "on_tick",
}


class Handler:
    """A service: subclass it and override the events you need. Only
    the overridden methods are called (an event without one costs no
    Python call; without ``on_connect`` no client object is made until
    the client's first input).

    Callbacks run on the shards' threads. In a standard CPython they
    share the interpreter lock (one hold per shard round); in a
    free-threaded one they run in parallel. They must not block: a
    callback that runs past ``stall_threshold`` is reported.

    Per-client state goes on the client: ``client.name = ...`` (every
    client has a ``__dict__``). A callback that raises closes its client
    (the traceback is printed, at most 10 a second), never the server.
    """

    def on_connect(self, client):
        """A client connected. Return ``False`` to refuse it."""

    def on_data(self, client, data):
        """``data`` (bytes) arrived from ``client``. Return ``False`` to
        close it (as ``client.close()`` does)."""

    def on_close(self, client, reason):
        """``client`` is gone; ``reason`` is one of ``peer-closed``,
        ``reset``, ``handler``, ``server``, ``output-overflow``,
        ``input-overflow``, ``idle-timeout``, ``shutdown``, ``error``."""

    def on_timer(self, client, tag):
        """A timer set by ``client.set_timer(seconds, tag)`` fired."""

    def on_tick(self, shard):
        """Every ``tick`` seconds (the ``tick`` option), on each shard."""


def _callbacks(handler):
    """The handler's overridden methods, by event."""
    callbacks = {}
    for event, name in _EVENTS.items():
        method = getattr(handler, name, None)
        if method is None:
            continue
        if not callable(method):
            raise TypeError("handler: %s is not callable" % name)
        if getattr(type(handler), name, None) is getattr(Handler, name):
            continue
        callbacks[event] = method
    if not callbacks:
        raise TypeError("handler: expected an object with on_connect, on_data, on_close, "
                        "on_timer or on_tick, got %s" % type(handler).__name__)
    return callbacks


class Server:
    """A server on esockets' shards: Python callbacks (``handler``) or a
    built-in ``protocol`` (``echo``, ``discard``, ``line-echo``,
    ``pubsub``, ``ws-echo``) with no Python per message. Binds at once
    (a port in use is an ``OSError`` here); ``start()`` serves in a
    thread, ``serve_forever()`` until SIGINT/SIGTERM or ``stop()``, which
    drain as the binary does.

    Options (keyword arguments, named as the binary's flags without
    dashes; seconds as numbers, sizes in bytes, ``None`` for off):
    ``host``, ``port`` (0: any free port, see ``port``), ``threads`` (0:
    one per core), ``pin_threads``, ``backlog``, ``nodelay``,
    ``max_connections``, ``refuse_message``, ``idle_timeout``,
    ``close_timeout``, ``shutdown_grace``, ``user_timeout``,
    ``keepalive``, ``keepalive_interval``, ``input_limit``,
    ``output_limit``, ``output_high_water``, ``output_low_water``,
    ``read_buffer``, ``read_budget``, ``accept_budget``,
    ``inbox_capacity``, ``stall_threshold``, ``metrics``
    (``"host:port"``), ``tick``, ``tls_cert``/``tls_key`` (PEM files),
    ``backplane`` (``redis://``, ``redis-cluster://``, ``nats://``),
    ``backplane_resend``, ``fanout_credit``, ``proxy_protocol``,
    ``proxy_trusted``, ``proxy_timeout``, ``reuseport_join``,
    ``max_line`` (line-echo, pubsub). A wrong type is a ``TypeError``,
    a wrong value a ``ValueError``, each naming the argument.
    """

    def __init__(self, handler=None, *, protocol=None, **options):
        if protocol is not None and not isinstance(protocol, str):
            raise TypeError("protocol: expected a str, got %s" % type(protocol).__name__)
        callbacks = None if handler is None else _callbacks(handler)
        self.handler = handler
        self._core = Core(callbacks, protocol, **options)
        #: A ``ServerHandle``: send, close, publish, broadcast, stats,
        #: from any thread.
        self.handle = self._core.handle
        #: The bound port.
        self.port = self._core.port
        self._runner = Runner(self._core)

    def start(self):
        """Serves in a (non-daemon) thread and returns."""
        self._runner.start()

    def serve_forever(self):
        """``start()``, then wait until the server stops (SIGINT, SIGTERM
        or ``stop()``)."""
        self._runner.start()
        self._runner.join()

    def join(self, timeout=None):
        """Waits for the server to stop; True when it has."""
        return self._runner.join(timeout)

    def stop(self, timeout=None):
        """Graceful shutdown (stop accepting, flush, close), waited for
        except from a callback. True once stopped."""
        return self._runner.stop(timeout)

    def send(self, client, data):
        """Queues ``data`` for ``client``, from any thread."""
        self.handle.send(client, data)

    def publish(self, topic, data):
        """Publishes ``data`` to ``topic``'s subscribers, from any thread."""
        self.handle.publish(topic, data)

    def broadcast(self, data):
        """Writes ``data`` to every client."""
        self.handle.broadcast(data)

    def stats(self):
        """The shards' counters, summed."""
        return self.handle.stats()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
