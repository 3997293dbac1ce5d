"""64 B ping-pong contender: an echo on the original esockets 3.0.7 from
PyPI (PYTHONPATH holds it). Usage: original_echo.py PORT"""
import sys

import esockets


def handle_readable(client):
    data = client.recv(4096)
    if data == b"":
        return False
    client.sendall(data)
    return True


server = esockets.SocketServer(port=int(sys.argv[1]), host="127.0.0.1",
                               handle_readable=handle_readable)
server.start()
