#!/usr/bin/env python3
"""Server memory per idle compressed WebSocket connection (the method of
bench-e2e's ws-idle-memory: VmRSS of the server before and after N
connections, user space only), with and without context takeover.

Starts `esockets --protocol ws-echo` (from BIN, default target/dist) with
each set of flags in turn, opens N connections with Python's `websockets`
(permessage-deflate offered, as browsers do), has each exchange one
compressed 1 KiB JSON message (so a connection under context takeover has
made its deflate and inflate contexts) or none, waits for the server to
settle, reads its VmRSS, closes everything.

Usage: cargo build --profile dist --bin esockets && N=15000 benches/ws-deflate-memory.py
(needs `ulimit -n` above N; the lead runs it on a quiet machine)
"""
import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import websockets

BIN = os.environ.get("BIN", "target/dist")
N = int(os.environ.get("N", "1000"))

MESSAGE = json.dumps(
    [{"id": i, "user": f"user{i % 7}", "text": "hello there, how is it going", "ts": 1700000000 + i}
     for i in range(14)]
)[:1024]


def rss(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def hold(port, exchange):
    clients = []
    for _ in range(N):
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/", compression="deflate", ping_interval=None
        )
        if exchange:
            await ws.send(MESSAGE)
            assert await ws.recv() == MESSAGE
        clients.append(ws)
    return clients


async def measure(flags, exchange):
    port = free_port()
    server = subprocess.Popen(
        [f"{BIN}/esockets", "--protocol", "ws-echo", "--bind", f"127.0.0.1:{port}",
         "--threads", "2", "--ws-ping-interval", "off", *flags],
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        before = rss(server.pid)
        clients = await hold(port, exchange)
        await asyncio.sleep(1)  # let the server finish its rounds
        after = rss(server.pid)
        for ws in clients:
            await ws.close()
        return (after - before) / N
    finally:
        server.kill()
        server.wait()


async def main():
    for name, flags, exchange in [
        ("no compression", [], True),
        ("--ws-deflate, idle after the handshake", ["--ws-deflate"], False),
        ("--ws-deflate, after one message each way", ["--ws-deflate"], True),
        ("--ws-deflate --ws-deflate-context-takeover, idle", ["--ws-deflate", "--ws-deflate-context-takeover"], False),
        ("--ws-deflate --ws-deflate-context-takeover, after one message", ["--ws-deflate", "--ws-deflate-context-takeover"], True),
    ]:
        per = await measure(flags, exchange)
        print(f"{name:64} {per:10.0f} B per connection ({N} connections)", flush=True)


asyncio.run(main())
