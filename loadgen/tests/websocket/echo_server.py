"""A WebSocket echo server built on Python's `websockets` package, an
implementation independent of loadgen's, for loadgen's tests.

It binds an ephemeral loopback port and prints it as its first line.
--ping S        ping every client every S seconds; one that does not
                answer within 5 S is closed (1011)
--corrupt-every N   flip one bit in every Nth message of a connection
--close-after N     close each connection (1000) after echoing N messages
--deflate       accept permessage-deflate, and close (1008) a client that
                did not offer it
"""
import argparse
import asyncio

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--ping", type=float, default=0)
    p.add_argument("--corrupt-every", type=int, default=0)
    p.add_argument("--close-after", type=int, default=0)
    p.add_argument("--deflate", action="store_true")
    return p.parse_args()


ARGS = parse()


def corrupt(message):
    if isinstance(message, str):
        last = "a" if message[-1] != "a" else "b"
        return message[:-1] + last
    flipped = bytearray(message)
    flipped[len(flipped) // 2] ^= 1
    return bytes(flipped)


async def echo(ws):
    count = 0
    if ARGS.deflate and "permessage-deflate" not in (
        ws.response.headers.get("Sec-WebSocket-Extensions") or ""
    ):
        await ws.close(1008, "compression required")
        return
    try:
        async for message in ws:
            count += 1
            if ARGS.corrupt_every and count % ARGS.corrupt_every == 0:
                message = corrupt(message)
            await ws.send(message)
            if ARGS.close_after and count >= ARGS.close_after:
                await ws.close(1000, "enough")
                return
    except ConnectionClosed:
        # loadgen resets a connection after its close frame: expected.
        return


async def main():
    options = dict(
        compression="deflate" if ARGS.deflate else None, max_size=None, ping_interval=None
    )
    if ARGS.ping:
        options.update(ping_interval=ARGS.ping, ping_timeout=5 * ARGS.ping)
    async with serve(echo, "127.0.0.1", 0, **options) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


asyncio.run(main())
