"""The esockets pubsub protocol over WebSocket (one command per text
message, one reply or delivery per text message), served by Python's
`websockets` package: an implementation independent of loadgen's and
esockets', for loadgen's tests. SUB, UNSUB, PUB and PING as in
docs/protocols.md; no limits, no MISSED.

It binds an ephemeral loopback port and prints it as its first line.
--drop-every N   leave out every Nth delivery (a lossy server)
"""
import argparse
import asyncio

from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

PARSER = argparse.ArgumentParser()
PARSER.add_argument("--drop-every", type=int, default=0)
# Accept permessage-deflate.
PARSER.add_argument("--deflate", action="store_true")
ARGS = PARSER.parse_args()

SUBSCRIBERS = {}  # topic -> set of connections
DELIVERIES = [0]


async def session(ws):
    mine = set()
    try:
        async for command in ws:
            verb, _, rest = command.partition(" ")
            if verb == "SUB" and rest:
                SUBSCRIBERS.setdefault(rest, set()).add(ws)
                mine.add(rest)
                await ws.send("+OK")
            elif verb == "UNSUB" and rest in mine:
                SUBSCRIBERS[rest].discard(ws)
                mine.discard(rest)
                await ws.send("+OK")
            elif verb == "PUB" and rest:
                topic, _, payload = rest.partition(" ")
                targets = []
                for sub in SUBSCRIBERS.get(topic, ()):
                    DELIVERIES[0] += 1
                    if not (ARGS.drop_every and DELIVERIES[0] % ARGS.drop_every == 0):
                        targets.append(sub)
                broadcast(targets, f"MSG {topic} {payload}")
                await ws.send("+OK")
            elif verb == "PING":
                await ws.send("+PONG")
            else:
                await ws.send("-ERR unknown command")
    except ConnectionClosed:
        pass
    finally:
        for topic in mine:
            SUBSCRIBERS[topic].discard(ws)


async def main():
    options = dict(compression=None, max_size=None, ping_interval=None)
    if ARGS.deflate:
        options["compression"] = "deflate"
    async with serve(session, "127.0.0.1", 0, **options) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


asyncio.run(main())
