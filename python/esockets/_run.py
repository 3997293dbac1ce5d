"""Running a native server from Python: a non-daemon thread that serves
with the interpreter lock released, SIGINT/SIGTERM handlers that drain,
and a stop that waits for the drain. Shared by ``SocketServer`` and
``Server``."""

import signal
import threading


class Runner:
    """Serves ``core`` (an ``esockets._esockets.Core``) in a thread."""

    def __init__(self, core):
        self._core = core
        self._thread = None

    def start(self):
        """Starts serving in a non-daemon thread and returns: the process
        lives on until ``stop()``, SIGINT or SIGTERM, which drain. On the
        main thread, SIGINT and SIGTERM are set to stop the server."""
        if self._thread is not None:
            raise RuntimeError("start: the server already started")
        self._thread = threading.Thread(target=self._core.run, name="esockets", daemon=False)
        self._thread.start()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self._core.stop())

    def join(self, timeout=None):
        """Waits for the server to stop; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout=None):
        """Graceful shutdown: stop accepting, flush every client, close;
        waits for it (up to ``timeout`` seconds) unless called from a
        callback (a shard's thread), where waiting would never end."""
        self._core.stop()
        here = threading.current_thread()
        if self._thread is None or here is self._thread or isinstance(here, threading._DummyThread):
            return self._thread is None
        return self.join(timeout)
