"""How the interpreter lock is held: a shard takes it once for all its
callbacks of a loop round and gives it back at the round's end, so while
the shards wait for events none holds it; in a free-threaded CPython the
shards run callbacks in parallel."""

import sys
import threading

import pytest

import esockets
from esockets import _esockets
from helpers import DEADLINE, connect, recv_until, wait_for

CLIENTS = 200


class Counting(esockets.Handler):
    def __init__(self):
        self.calls = 0

    def on_data(self, client, data):
        self.calls += 1
        client.sendall(data)


def test_one_hold_per_round_and_none_while_polling():
    handler = Counting()
    server = esockets.Server(handler, host="127.0.0.1", port=0, threads=1)
    server.start()
    socks = [connect(server.port) for _ in range(CLIENTS)]
    try:
        holds, releases = _esockets.lock_counts()
        rounds = server.stats()["rounds"]
        for _ in range(5):
            for sock in socks:
                sock.sendall(b"p")
            for sock in socks:
                assert recv_until(sock, b"p") == b"p"
        wait_for(lambda: server.stats()["rounds"] > rounds, "the counters exported")
        # Idle now: every hold was given back (nothing held while polling).
        wait_for(lambda: _esockets.lock_counts()[0] == _esockets.lock_counts()[1],
                 "the lock given back")
        held = _esockets.lock_counts()[0] - holds
        rounds = server.stats()["rounds"] - rounds
        assert handler.calls == 5 * CLIENTS
        assert 0 < held <= rounds, (held, rounds)
        # Batching: far fewer holds than callbacks (many clients a round).
        assert held < handler.calls, (held, handler.calls)
    finally:
        for sock in socks:
            sock.close()
        server.stop()


free_threaded = getattr(sys, "_is_gil_enabled", lambda: True)() is False


@pytest.mark.skipif(not free_threaded, reason="needs a free-threaded CPython (3.13t or later)")
def test_shards_run_callbacks_in_parallel_without_the_gil():
    both = threading.Barrier(2, timeout=DEADLINE)

    class Meet(esockets.Handler):
        def on_data(self, client, data):
            both.wait()  # only returns when two shards are in a callback at once
            client.sendall(data)

    server = esockets.Server(Meet(), host="127.0.0.1", port=0, threads=2)
    server.start()
    try:
        socks = [connect(server.port) for _ in range(16)]
        for sock in socks:
            sock.sendall(b"m")
        for sock in socks:
            assert recv_until(sock, b"m") == b"m"
    finally:
        server.stop()
