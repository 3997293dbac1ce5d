"""Type stubs of esockets."""

from typing import Any, Callable, Dict, Optional, Tuple, Union

from esockets._esockets import Client as Client
from esockets._esockets import ServerHandle as ServerHandle
from esockets.modern import Handler as Handler
from esockets.modern import Server as Server

__version__: str

class SocketServer:
    host: str
    port: int
    queue_size: int
    block_time: Union[int, float]
    selector: Any
    max_subthreads: int
    clients: Dict[int, Client]
    handle_readable: Callable[[Client], bool]
    handle_incoming: Callable[[Client, Tuple[str, int]], bool]
    def __init__(self, port: int = 1234, host: Optional[str] = None, queue_size: int = 1000,
                 block_time: Union[int, float] = 2, selector: Any = None,
                 handle_readable: Callable[[Client], bool] = ...,
                 handle_incoming: Callable[[Client, Tuple[str, int]], bool] = ...,
                 max_subthreads: int = -1, threads: int = 0) -> None: ...
    def start(self) -> None: ...
    def serve_forever(self) -> None: ...
    def join(self, timeout: Optional[float] = None) -> bool: ...
    def stop(self, timeout: Optional[float] = None) -> bool: ...
