"""The modern API: an echo with a greeting, per-client state, a topic
and a timer. Run it, then `nc 127.0.0.1 1234` (port from argv[1]).
Ctrl-C drains and exits."""

import sys

import esockets


class Echo(esockets.Handler):
    def on_connect(self, client):
        client.received = 0                      # per-client state
        client.subscribe("news")                 # publishes to "news" reach it
        client.sendall(b"hello\n")

    def on_data(self, client, data):
        client.received += len(data)
        if data.startswith(b"big"):
            client.sendall(b"x" * (4 << 20))     # queued with backpressure
        elif data.startswith(b"later"):
            client.set_timer(0.05, tag=1)        # on_timer in 50 ms
        elif data.startswith(b"news "):
            client.publish("news", data[5:])     # to every subscriber
        else:
            client.sendall(data)

    def on_timer(self, client, tag):
        client.sendall(b"timer %d\n" % tag)

    def on_close(self, client, reason):
        print("closed", client.id, reason, client.received, flush=True)


port = int(sys.argv[1]) if len(sys.argv) > 1 else 1234
server = esockets.Server(Echo(), host="127.0.0.1", port=port, threads=2)
print("serving on port", server.port, flush=True)
server.serve_forever()                           # until Ctrl-C or SIGTERM, then drains
print("stopped", flush=True)
