"""10,000 clients held by a server with Python callbacks (the clients in
a process of their own: the open-file limit is per process)."""

import os
import resource
import subprocess
import sys

import pytest

import esockets
from helpers import DEADLINE, HERE, wait_for

CLIENTS = 10_000


class Echo(esockets.Handler):
    def on_connect(self, client):
        client.seen = 0

    def on_data(self, client, data):
        client.seen += 1
        client.sendall(data)


def test_ten_thousand_clients_with_python_callbacks():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CLIENTS + 100:
        pytest.skip("open-file limit %d is under %d" % (soft, CLIENTS + 100))
    server = esockets.Server(Echo(), host="127.0.0.1", port=0, threads=2)
    server.start()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "many_clients.py"),
                             str(server.port), str(CLIENTS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode()
        assert line == "held %d\n" % CLIENTS, (line, proc.stderr.read().decode())
        wait_for(lambda: server.stats()["open"] == CLIENTS, "every client open at once")
        stats = server.stats()
        assert stats["accepted"] == CLIENTS and stats["bytes_out"] == CLIENTS
        proc.stdin.close()
        assert proc.stdout.readline() == b"done\n"
        assert proc.wait(DEADLINE) == 0
        wait_for(lambda: server.stats()["open"] == 0, "every client closed", deadline=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()
