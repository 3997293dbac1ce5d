"""A WebSocket client written with Python's `websockets` package (an
independent implementation) that checks the esockets ws-echo server.

Usage: client.py HOST:PORT MODE [SECONDS]; with WS_CA_FILE set in the
environment it connects over wss, trusting that CA. Prints "PASS <check>" for each
check that held; any failure raises (non-zero exit status).
"""

import asyncio
import os
import ssl
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

CA_FILE = os.environ.get("WS_CA_FILE")
URI = f"{'wss' if CA_FILE else 'ws'}://{sys.argv[1]}/"
SSL = ssl.create_default_context(cafile=CA_FILE) if CA_FILE else None
MODE = sys.argv[2]
TIMEOUT = 15


def passed(check):
    print("PASS", check, flush=True)


async def echoed(ws, message):
    await ws.send(message)
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


async def exchange(quiet_seconds):
    async with websockets.connect(URI, ssl=SSL, ping_interval=None, max_size=2**21) as ws:
        assert await echoed(ws, "hello") == "hello"
        passed("text")
        assert await echoed(ws, b"\x00\xffbinary") == b"\x00\xffbinary"
        passed("binary")
        assert await echoed(ws, ["frag", "mented ", "\u20ac"]) == "fragmented \u20ac"
        passed("fragmented text")
        assert await echoed(ws, [b"a", b"", b"bc"]) == b"abc"
        passed("fragmented binary")
        big = bytes(range(256)) * 4096
        assert len(big) == 2**20 and await echoed(ws, big) == big
        passed("1 MiB binary")
        text = "\u00e9" * 2**19
        assert len(text.encode()) == 2**20 and await echoed(ws, text) == text
        passed("1 MiB text")
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, TIMEOUT)
        passed("ping answered with pong")
        # The server pings a quiet client; the library answers, so the
        # connection must survive several ping intervals.
        await asyncio.sleep(quiet_seconds)
        assert await echoed(ws, "still here") == "still here"
        passed("open across server pings")
        await ws.close(4000, "bye")
        assert ws.close_code == 4000, ws.close_code
        passed("client-initiated close handshake")


async def oversize():
    async with websockets.connect(URI, ssl=SSL, ping_interval=None) as ws:
        await ws.send(b"x" * (64 * 1024 + 1))
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1009, closed
            passed("oversize message closed with 1009")
            return
        raise AssertionError("the oversize message was answered")


async def server_close():
    async with websockets.connect(URI, ssl=SSL, ping_interval=None) as ws:
        assert await echoed(ws, "ready") == "ready"
        print("OPEN", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1001, closed
            assert closed.rcvd.reason == "server shutting down", closed
            # The library answered the close frame before reporting it.
            assert closed.sent is not None and closed.sent.code == 1001, closed
            passed("server-initiated close handshake")
            return
        raise AssertionError("no close from the server")


async def origins():
    try:
        async with websockets.connect(URI, ssl=SSL, origin="https://evil.example"):
            raise AssertionError("a forbidden origin was let in")
    except InvalidStatus as refused:
        assert refused.response.status_code == 403, refused
        passed("forbidden origin refused with 403")
    async with websockets.connect(URI, ssl=SSL, origin="https://good.example") as ws:
        assert await echoed(ws, "hi") == "hi"
        passed("allowed origin served")


async def pubsub():
    async with websockets.connect(URI, ssl=SSL, ping_interval=None) as sub, websockets.connect(
        URI, ssl=SSL, ping_interval=None
    ) as pub:
        assert await echoed(sub, "SUB news") == "+OK"
        assert await echoed(pub, "PUB news hello, world \u20ac") == "+OK"
        delivery = await asyncio.wait_for(sub.recv(), TIMEOUT)
        assert delivery == "MSG news hello, world \u20ac", delivery
        passed("delivery as a text message")
        assert await echoed(sub, "UNSUB news") == "+OK"
        assert await echoed(sub, "UNSUB news") == "-ERR not subscribed"
        assert await echoed(sub, "NOPE") == "-ERR unknown command"
        assert await echoed(sub, b"SUB news") == "-ERR commands are text messages"
        assert await echoed(sub, "PING") == "+PONG"
        passed("replies and errors as text messages")


async def main():
    if MODE == "exchange":
        await exchange(float(sys.argv[3]))
    elif MODE == "oversize":
        await oversize()
    elif MODE == "server-close":
        await server_close()
    elif MODE == "pubsub":
        await pubsub()
    elif MODE == "origins":
        await origins()
    else:
        raise SystemExit(f"unknown mode {MODE}")


asyncio.run(main())
