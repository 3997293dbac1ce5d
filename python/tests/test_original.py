"""The original esockets API: the seed examples run unchanged, the
callbacks' True/False, exceptions, shutdown, sends from other threads,
and argument errors. Every wait has a deadline."""

import os
import socket
import threading

import pytest

import esockets
from helpers import DEADLINE, EXAMPLES, is_closed, read_line_with, recv_until, start_script, stop_script


def run_script(name):
    return start_script(os.path.join(EXAMPLES, name))


def test_seed_000_echo_runs_unchanged():
    proc = run_script("seed_000_echo.py")
    try:
        line = read_line_with(proc, "Server started on:")
        port = int(line.strip().rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
            assert recv_until(sock, b"accepted!\n") == b"SERVER: Connection accepted!\n"
            sock.sendall(b"hello\n")
            assert recv_until(sock, b"hello\n") == b"SERVER: hello\n"
    finally:
        code = stop_script(proc)
    assert code == 0, proc.stderr.read().decode()


def test_seed_001_subclass_runs_unchanged():
    proc = run_script("seed_001_esockets.py")
    try:
        line = read_line_with(proc, "Server started on:")
        port = int(line.split()[-1])
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
            read_line_with(proc, "Connected")
            sock.sendall(b"hi there")
            assert "b'hi there'" in read_line_with(proc, "hi there")
        read_line_with(proc, "Disconnected")
    finally:
        code = stop_script(proc)
    assert code == 0, proc.stderr.read().decode()


def serve(**kwargs):
    server = esockets.SocketServer(port=0, host="127.0.0.1", threads=1, **kwargs)
    server.start()
    return server


def test_handle_incoming_false_refuses():
    server = serve(handle_incoming=lambda client, address: False)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            assert is_closed(sock)
    finally:
        server.stop()


def test_handle_readable_false_closes():
    def readable(client):
        data = client.recv(100)
        client.sendall(b"bye " + data)
        return False

    server = serve(handle_readable=readable)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"x")
            assert recv_until(sock, b"bye x") == b"bye x"
            assert is_closed(sock)
    finally:
        server.stop()


def test_raising_callback_closes_only_its_client(capfd):
    def readable(client):
        data = client.recv(100)
        if data == b"boom":
            raise ValueError("boom from the test")
        client.sendall(data)
        return True

    server = serve(handle_readable=readable)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as good, \
                socket.create_connection(("127.0.0.1", server.port)) as bad:
            bad.sendall(b"boom")
            assert is_closed(bad)
            good.sendall(b"still")
            assert recv_until(good, b"still") == b"still"
    finally:
        server.stop()
    err = capfd.readouterr().err
    assert "boom from the test" in err and "Traceback" in err


def test_stop_drains_and_ends():
    def readable(client):
        client.sendall(client.recv(1 << 16) * 1000)
        return True

    server = serve(handle_readable=readable)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"0123456789")
        first = recv_until(sock, b"0")
        assert first
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        rest = first + recv_until(sock, b"never", deadline=DEADLINE)
        assert len(rest) == 10 * 1000
    stopper.join(DEADLINE)
    assert server.join(DEADLINE)


def test_sendall_from_another_thread():
    clients = []
    arrived = threading.Event()

    def incoming(client, address):
        clients.append(client)
        arrived.set()
        return True

    server = serve(handle_incoming=incoming)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            assert arrived.wait(DEADLINE)
            worker = threading.Thread(target=lambda: clients[0].sendall(b"from a thread"))
            worker.start()
            worker.join(DEADLINE)
            assert recv_until(sock, b"thread") == b"from a thread"
            assert clients[0].getpeername()[0] == "127.0.0.1"
            assert clients[0].fileno() > 2
            assert server.clients[clients[0].fileno()] is clients[0]
    finally:
        server.stop()


@pytest.mark.parametrize("kwargs, error, name", [
    ({"port": "80"}, TypeError, "port"),
    ({"port": 70000}, ValueError, "port"),
    ({"host": 5}, TypeError, "host"),
    ({"queue_size": 0}, ValueError, "queue_size"),
    ({"handle_readable": 3}, TypeError, "handle_readable"),
    ({"handle_incoming": None}, TypeError, "handle_incoming"),
])
def test_bad_arguments_name_the_argument(kwargs, error, name):
    args = {"port": 0, "host": "127.0.0.1"}
    args.update(kwargs)
    with pytest.raises(error, match=name):
        esockets.SocketServer(**args)
