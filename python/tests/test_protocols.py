"""The built-in protocols from Python: no Python code per message."""

import base64
import os

import esockets
from helpers import connect, recv_until


def serve(protocol, **options):
    server = esockets.Server(protocol=protocol, host="127.0.0.1", port=0, threads=1, **options)
    server.start()
    return server


def test_echo_and_discard():
    for protocol, expected in (("echo", b"ping"), ("discard", b"")):
        server = serve(protocol)
        try:
            with connect(server.port) as sock:
                sock.sendall(b"ping")
                if expected:
                    assert recv_until(sock, expected) == expected
                else:
                    # Discard answers nothing; echo would have.
                    sock.settimeout(0.2)
                    try:
                        assert sock.recv(10) == b""
                    except OSError:
                        pass
            wait = server.stats
            assert wait()["accepted"] == 1
        finally:
            server.stop()


def test_line_echo_with_max_line():
    server = serve("line-echo", max_line=8)
    try:
        with connect(server.port) as sock:
            sock.sendall(b"one\ntw")
            assert recv_until(sock, b"one\n") == b"one\n"
            sock.sendall(b"o\n")
            assert recv_until(sock, b"two\n") == b"two\n"
            sock.sendall(b"x" * 20 + b"\n")
            assert b"too long" in recv_until(sock, b"\n")
    finally:
        server.stop()


def test_pubsub_lines():
    server = serve("pubsub")
    try:
        with connect(server.port) as sub, connect(server.port) as pub:
            sub.sendall(b"SUB news\n")
            assert recv_until(sub, b"\n") == b"+OK\n"
            pub.sendall(b"PUB news hello\n")
            assert recv_until(pub, b"\n") == b"+OK\n"
            assert recv_until(sub, b"hello\n") == b"MSG news hello\n"
            # And from Python, through the handle.
            server.publish("news", "from python")
            assert recv_until(sub, b"python\n") == b"MSG news from python\n"
    finally:
        server.stop()


def test_ws_echo():
    server = serve("ws-echo")
    try:
        with connect(server.port) as sock:
            key = base64.b64encode(os.urandom(16))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
                         b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
            assert recv_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 101")
            mask = b"\x01\x02\x03\x04"
            payload = b"hello"
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            sock.sendall(b"\x81" + bytes([0x80 | len(payload)]) + mask + masked)
            assert recv_until(sock, payload) == b"\x81\x05hello"
    finally:
        server.stop()
