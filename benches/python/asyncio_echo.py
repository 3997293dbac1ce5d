"""64 B ping-pong contender: an asyncio Protocol echo, or with --uvloop a
uvloop one. Usage: asyncio_echo.py PORT [--uvloop]"""
import asyncio
import signal
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port, backlog=4096)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with server:
        await stop


if "--uvloop" in sys.argv:
    import uvloop
    uvloop.install()
asyncio.run(main(int(sys.argv[1])))
