"""Helpers of the Python tests: reading with deadlines, waiting for a
condition, running a script. Every wait is bounded."""

import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
DEADLINE = 10.0


def recv_until(sock, needle, deadline=DEADLINE):
    """Reads from sock until needle arrived (or EOF/deadline); returns all."""
    sock.settimeout(deadline)
    data = b""
    end = time.monotonic() + deadline
    while needle not in data and time.monotonic() < end:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def is_closed(sock, deadline=DEADLINE):
    """True when the peer closed sock (EOF or reset) before the deadline."""
    sock.settimeout(deadline)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def wait_for(condition, what, deadline=DEADLINE):
    """Polls condition() until it is true; fails naming what after the deadline."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.005)


def connect(port):
    """A client socket to the local server, with a timeout on every call."""
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)


def start_script(path, *args):
    """Runs a Python script with unbuffered output, on any free port."""
    env = dict(os.environ, ESOCKETS_PORT="0", ESOCKETS_HOST="127.0.0.1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, path] + list(args), env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def read_line_with(proc, needle):
    """Reads the script's output lines until one contains needle."""
    end = time.monotonic() + DEADLINE
    lines = []
    while time.monotonic() < end:
        line = proc.stdout.readline().decode()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return line
    raise AssertionError("no line with %r in %r" % (needle, lines))


def stop_script(proc):
    """SIGINT, then the exit status (killed after the deadline)."""
    import signal
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
