"""ESocketS: the oldest esockets API, a ``Socket`` class to subclass with
``on_*`` methods, on esockets' Rust shards. ``clients`` maps each client's
file number to its connection (``getip()``, ``send``, ``close``)."""

import esockets

__all__ = ["Socket", "Connection"]


class Connection:
    """A client of an ``ESocketS.Socket``."""

    def __init__(self, client, address):
        self.client = client
        self.address = address
        self.fileno = client.fileno()

    def getip(self):
        """The client's IP address."""
        return self.address[0]

    def send(self, data):
        """Queues ``data`` (bytes, or str as UTF-8) for the client."""
        if isinstance(data, str):
            data = data.encode()
        self.client.sendall(data)

    def close(self):
        """Closes the client after what was queued."""
        self.client.close()


class Socket:
    """Subclass and override the ``on_*`` methods; each runs on a shard's
    event with the interpreter lock, one at a time."""

    def __init__(self, port=1234, host=None, queue_size=1000, **ignored):
        self.clients = {}
        self._server = esockets.SocketServer(port=port, host=host, queue_size=queue_size,
                                             handle_incoming=self._incoming,
                                             handle_readable=self._readable)
        self._server._closed_hook = self._closed
        self.host = self._server.host
        self.port = self._server.port

    def _incoming(self, client, address):
        connection = Connection(client, address)
        self.clients[connection.fileno] = connection
        self.on_client_connect(connection.fileno)
        return True

    def _readable(self, client):
        msg = client.recv(1 << 20)
        if msg:
            self.on_message_recv(client.fileno(), msg)
        return True

    def _closed(self, client):
        fileno = client.fileno()
        if fileno in self.clients:
            try:
                self.on_client_disconnect(fileno)
            finally:
                del self.clients[fileno]

    def start(self):
        """Starts serving; calls ``on_start``."""
        self._server.start()
        self.on_start()

    def stop(self):
        """Shuts down: ``on_server_shutting_down``, drain, ``on_server_shut_down``."""
        self.on_server_shutting_down()
        self._server.stop()
        self.on_server_shut_down()

    def on_start(self):
        """The server started."""

    def on_client_connect(self, fileno):
        """A client connected."""

    def on_message_recv(self, fileno, msg):
        """``msg`` (bytes) arrived from client ``fileno``."""

    def on_client_disconnect(self, fileno):
        """Client ``fileno`` left (still in ``clients`` during this call)."""

    def on_server_shutting_down(self):
        """Shutdown began."""

    def on_server_shut_down(self):
        """The server closed."""

    def on_warning(self, msg):
        """A warning."""
