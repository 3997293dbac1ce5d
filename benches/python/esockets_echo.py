"""64 B ping-pong contender: this package, an echo written as a Python
callback (the modern API). With --state, on_connect gives every client
a Python object and some state at once (for the memory figure).
Usage: esockets_echo.py PORT THREADS [--state]"""
import sys

import esockets


class Echo(esockets.Handler):
    def on_data(self, client, data):
        client.sendall(data)


class EchoWithState(Echo):
    def on_connect(self, client):
        client.messages = 0


handler = EchoWithState() if "--state" in sys.argv else Echo()
server = esockets.Server(handler, host="127.0.0.1", port=int(sys.argv[1]),
                         threads=int(sys.argv[2]))
server.serve_forever()
