"""A TLS client written with Python's `ssl` module (OpenSSL underneath,
an implementation independent of rustls) that checks the esockets
server over TLS.

Usage: client.py HOST:PORT CA_FILE MODE [ARGS]. Modes: `echo SIZE...`
(each SIZE bytes echoed byte-exact on one connection), `pubsub` (SUB and
PUB lines between two TLS clients). Prints "PASS <check>" for each check
that held; any failure raises (non-zero exit status).
"""

import socket
import ssl
import sys

HOST, PORT = sys.argv[1].rsplit(":", 1)
CONTEXT = ssl.create_default_context(cafile=sys.argv[2])
MODE = sys.argv[3]
TIMEOUT = 15


def passed(check):
    print("PASS", check, flush=True)


def connect():
    raw = socket.create_connection((HOST, int(PORT)), timeout=TIMEOUT)
    return CONTEXT.wrap_socket(raw, server_hostname="localhost")


def read_exactly(conn, size):
    got = bytearray()
    while len(got) < size:
        chunk = conn.recv(min(65536, size - len(got)))
        if not chunk:
            raise AssertionError(f"closed after {len(got)} of {size} bytes")
        got += chunk
    return bytes(got)


def read_line(conn):
    got = bytearray()
    while not got.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            raise AssertionError(f"closed after {bytes(got)!r}")
        got += chunk
    return bytes(got)


def echo(sizes):
    with connect() as conn:
        assert conn.version() in ("TLSv1.3", "TLSv1.2"), conn.version()
        for size in sizes:
            data = bytes((i * 7 + size) % 256 for i in range(size))
            # In pieces, each read back before the next is written: an
            # echo server stops reading a client that does not read.
            back = bytearray()
            for at in range(0, size, 65536):
                piece = data[at : at + 65536]
                conn.sendall(piece)
                back += read_exactly(conn, len(piece))
            assert back == data, f"{size} bytes echoed differently"
            passed(f"{size} bytes echoed")


def pubsub():
    with connect() as sub, connect() as pub:
        sub.sendall(b"SUB news\n")
        assert read_line(sub) == b"+OK\n"
        pub.sendall(b"PUB news hello over TLS\n")
        assert read_line(pub) == b"+OK\n"
        delivery = read_line(sub)
        assert delivery == b"MSG news hello over TLS\n", delivery
        passed("delivery over TLS")


if MODE == "echo":
    echo([int(size) for size in sys.argv[4:]])
elif MODE == "pubsub":
    pubsub()
else:
    raise SystemExit(f"unknown mode {MODE}")
