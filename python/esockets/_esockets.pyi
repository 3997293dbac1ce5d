"""Type stubs of the native module (esockets._esockets)."""

from typing import Callable, Tuple

class Client:
    """One client: what the shard read for it, and the replies queued."""
    def recv(self, n: int) -> bytes:
        """Up to n bytes the shard already read; never blocks (b'' when none)."""
    def sendall(self, data: bytes) -> None:
        """Queues data with esockets' backpressure (from any thread)."""
    def send(self, data: bytes) -> int:
        """Like sendall; returns len(data)."""
    def close(self) -> None:
        """Closes the client once what was queued is delivered."""
    def fileno(self) -> int:
        """The client's socket descriptor."""
    def getpeername(self) -> Tuple[str, int]:
        """The peer's (host, port)."""
    def pending(self) -> int:
        """Bytes read and not yet taken by recv."""

class Core:
    """The native server: binds at once, serves in run()."""
    def __init__(self, host: str, port: int, backlog: int,
                 incoming: Callable[[Client, Tuple[str, int]], object],
                 readable: Callable[[Client], object],
                 closed: Callable[[Client], object], threads: int = 0) -> None: ...
    @property
    def port(self) -> int:
        """The bound port."""
    def run(self) -> None:
        """Serves until stop(), with the interpreter lock released."""
    def stop(self) -> None:
        """Starts the graceful shutdown."""
