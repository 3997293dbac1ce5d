"""Shutdown from Python drains as the binary does: `server.stop()` and
Ctrl-C (SIGINT) to a script both deliver what was queued, then close."""

import os
import signal
import threading

import esockets
from helpers import DEADLINE, EXAMPLES, connect, read_line_with, recv_until, start_script

BIG = 4 << 20


def read_all(sock, limit=DEADLINE):
    """Everything until EOF (bounded by the socket timeout)."""
    sock.settimeout(limit)
    chunks = []
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class Big(esockets.Handler):
    def on_data(self, client, data):
        client.sendall(b"x" * BIG)


def test_stop_drains_queued_output():
    server = esockets.Server(Big(), host="127.0.0.1", port=0, threads=1)
    server.start()
    with connect(server.port) as sock:
        sock.sendall(b"go")
        first = recv_until(sock, b"x")
        assert first
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        rest = read_all(sock)
        assert len(first) + len(rest) == BIG
    stopper.join(DEADLINE)
    assert not stopper.is_alive()
    assert server.join(0)


def test_ctrl_c_drains_the_modern_example():
    proc = start_script(os.path.join(EXAMPLES, "modern_echo.py"), "0")
    try:
        port = int(read_line_with(proc, "serving on port").split()[-1])
        with connect(port) as sock:
            assert recv_until(sock, b"hello\n") == b"hello\n"
            sock.sendall(b"later")
            assert recv_until(sock, b"timer 1\n") == b"timer 1\n"
            sock.sendall(b"big")
            first = recv_until(sock, b"x")
            proc.send_signal(signal.SIGINT)
            rest = read_all(sock)
            assert len(first) + len(rest) == BIG
        line = read_line_with(proc, "closed")
        assert "shutdown" in line or "peer-closed" in line
        read_line_with(proc, "stopped")
        code = proc.wait(DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, proc.stderr.read().decode()
