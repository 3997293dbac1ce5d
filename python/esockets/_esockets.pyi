"""Type stubs of the native module (esockets._esockets)."""

from typing import Any, Callable, Dict, Optional, Tuple, Union

Data = Union[bytes, bytearray, memoryview, str]

TRACEBACKS_PER_SECOND: int
PROTOCOLS: str

def lock_counts() -> Tuple[int, int]:
    """(holds, releases): how often the shards took the interpreter lock
    for a loop round and gave it back (equal while none holds it)."""

class Client:
    """One client. Any attribute may be set on it (per-client state)."""
    @property
    def id(self) -> int:
        """A number unique among the server's clients, past and present."""
    @property
    def closed(self) -> bool:
        """Whether the shard closed the client."""
    def recv(self, n: int) -> bytes:
        """Up to n bytes the shard already read for this callback; never
        blocks (b'' when none, or outside the client's handle_readable)."""
    def sendall(self, data: bytes) -> None:
        """Queues data with esockets' backpressure (from any thread)."""
    def send(self, data: bytes) -> int:
        """Like sendall; returns len(data)."""
    def close(self) -> None:
        """Closes the client once what was queued is delivered."""
    def subscribe(self, topic: Data) -> None:
        """Subscribes to topic (only in this client's callback)."""
    def unsubscribe(self, topic: Data) -> None:
        """Ends a subscription (only in this client's callback)."""
    def publish(self, topic: Data, data: Data) -> None:
        """Publishes data to topic's subscribers (from any thread)."""
    def set_timer(self, seconds: float, tag: int = 0) -> None:
        """on_timer(client, tag) in seconds (only in this client's callback)."""
    def fileno(self) -> int:
        """The client's socket descriptor."""
    def getpeername(self) -> Tuple[str, int]:
        """The peer's (host, port)."""
    def pending(self) -> int:
        """Bytes read and not yet taken by recv in this callback."""
    def __getattr__(self, name: str) -> Any: ...
    def __setattr__(self, name: str, value: Any) -> None: ...

class ServerHandle:
    """A running server, from any thread."""
    def send(self, client: Client, data: Data) -> None: ...
    def close(self, client: Client) -> None: ...
    def publish(self, topic: Data, data: Data) -> None: ...
    def broadcast(self, data: Data) -> None: ...
    @property
    def port(self) -> int: ...
    @property
    def shards(self) -> int: ...
    def stats(self) -> Dict[str, int]:
        """accepted, refused, open, closed, bytes_in, bytes_out,
        published, delivered, rounds, stalls (all shards)."""
    def shutdown(self) -> None:
        """Starts the graceful shutdown."""

class Core:
    """The native server: binds at once, serves in run()."""
    def __init__(self, callbacks: Optional[Dict[str, Any]] = None,
                 protocol: Optional[str] = None, **options: Any) -> None: ...
    @property
    def port(self) -> int:
        """The bound port."""
    @property
    def handle(self) -> ServerHandle: ...
    def run(self) -> None:
        """Serves until stop(), with the interpreter lock released."""
    def stop(self) -> None:
        """Starts the graceful shutdown."""
