"""The modern API: Handler callbacks, per-client state, refusal and
closes, timers, sends from other threads, publish/subscribe, and what a
raising callback does (only its client closed, tracebacks rate-limited).
Every wait has a deadline."""

import re
import threading
import time

import pytest

import esockets
from helpers import DEADLINE, connect, is_closed, recv_until, wait_for


def serve(handler, **options):
    options.setdefault("threads", 1)
    server = esockets.Server(handler, host="127.0.0.1", port=0, **options)
    server.start()
    return server


class Echo(esockets.Handler):
    """Echoes, counting bytes per client; records closes."""

    def __init__(self):
        self.closed = []

    def on_connect(self, client):
        client.count = 0
        client.sendall(b"hi\n")

    def on_data(self, client, data):
        client.count += len(data)
        if data == b"count":
            client.sendall(b"%d" % client.count)
        elif data == b"quit":
            return False
        else:
            client.sendall(data)

    def on_close(self, client, reason):
        self.closed.append((client.count, reason))


def test_echo_state_and_close_reasons():
    handler = Echo()
    server = serve(handler)
    try:
        with connect(server.port) as sock:
            assert recv_until(sock, b"hi\n") == b"hi\n"
            sock.sendall(b"abc")
            assert recv_until(sock, b"abc") == b"abc"
            sock.sendall(b"count")
            assert recv_until(sock, b"8") == b"8"
        wait_for(lambda: handler.closed == [(8, "peer-closed")], "the peer's close")
        with connect(server.port) as sock:
            recv_until(sock, b"hi\n")
            sock.sendall(b"quit")
            assert is_closed(sock)
        wait_for(lambda: handler.closed[-1] == (4, "handler"), "the handler's close")
    finally:
        server.stop()
    assert server.join(0)


def test_on_connect_false_refuses_and_only_overridden_events_are_called():
    class Refuse(esockets.Handler):
        def on_connect(self, client):
            return False

    server = serve(Refuse())
    try:
        with connect(server.port) as sock:
            assert is_closed(sock)
    finally:
        server.stop()


def test_data_only_handler_gets_lazy_clients_with_state():
    class Count(esockets.Handler):
        def on_data(self, client, data):
            client.n = getattr(client, "n", 0) + 1
            client.send(b"%d" % client.n)

    server = serve(Count())
    try:
        with connect(server.port) as sock:
            for n in (1, 2, 3):
                sock.sendall(b"x")
                assert recv_until(sock, b"%d" % n) == b"%d" % n
    finally:
        server.stop()


def test_timers():
    fired = []

    class Timed(esockets.Handler):
        def on_data(self, client, data):
            client.set_timer(0.02, tag=int(data))

        def on_timer(self, client, tag):
            fired.append(tag)
            client.sendall(b"timer %d;" % tag)

    server = serve(Timed())
    try:
        with connect(server.port) as sock:
            sock.sendall(b"7")
            assert recv_until(sock, b"timer 7;") == b"timer 7;"
        assert fired == [7]
    finally:
        server.stop()


def test_sends_from_another_python_thread():
    clients = []

    class Keep(esockets.Handler):
        def on_connect(self, client):
            clients.append(client)

    server = serve(Keep())
    try:
        with connect(server.port) as sock:
            wait_for(lambda: clients, "the client")
            client = clients[0]
            with pytest.raises(RuntimeError, match="set_timer"):
                client.set_timer(1)
            workers = [
                threading.Thread(target=lambda: client.sendall(b"a;")),
                threading.Thread(target=lambda: server.send(client, b"b;")),
            ]
            for worker in workers:
                worker.start()
                worker.join(DEADLINE)
            data = recv_until(sock, b"b;")
            assert sorted(data.split(b";")) == [b"", b"a", b"b"]
            closer = threading.Thread(target=lambda: server.handle.close(client))
            closer.start()
            closer.join(DEADLINE)
            assert is_closed(sock)
        wait_for(lambda: client.closed, "the client marked closed")
        with pytest.raises(OSError, match="closed"):
            client.sendall(b"late")
    finally:
        server.stop()


def test_publish_and_subscribe_from_python():
    class Topics(esockets.Handler):
        def on_data(self, client, data):
            verb, _, rest = data.partition(b" ")
            if verb == b"sub":
                client.subscribe(rest)
                client.sendall(b"ok;")
            elif verb == b"unsub":
                client.unsubscribe(rest)
                client.sendall(b"ok;")
            elif verb == b"pub":
                topic, _, payload = rest.partition(b" ")
                client.publish(topic, payload)

    server = serve(Topics(), threads=2)
    try:
        subscribers = [connect(server.port) for _ in range(4)]
        for sock in subscribers:
            sock.sendall(b"sub news")
            assert recv_until(sock, b"ok;") == b"ok;"
        with connect(server.port) as publisher:
            publisher.sendall(b"pub news first;")
            for sock in subscribers:
                assert recv_until(sock, b"first;") == b"first;"
            # From another Python thread, through the handle.
            worker = threading.Thread(target=lambda: server.publish("news", "second;"))
            worker.start()
            worker.join(DEADLINE)
            for sock in subscribers:
                assert recv_until(sock, b"second;") == b"second;"
            subscribers[0].sendall(b"unsub news")
            assert recv_until(subscribers[0], b"ok;") == b"ok;"
            publisher.sendall(b"pub news third;")
            for sock in subscribers[1:]:
                assert recv_until(sock, b"third;") == b"third;"
            subscribers[0].sendall(b"sub other")
            assert recv_until(subscribers[0], b";") == b"ok;", "nothing from news after unsub"
        for sock in subscribers:
            sock.close()
        # The clients' two publishes (the counters lag by up to 10 ms).
        wait_for(lambda: server.stats()["published"] >= 2, "the publishes counted")
    finally:
        server.stop()


def test_a_raising_callback_closes_only_its_client(capfd):
    class Fragile(esockets.Handler):
        def on_data(self, client, data):
            if data == b"boom":
                raise ValueError("boom from the test")
            client.sendall(data)

    server = serve(Fragile())
    try:
        with connect(server.port) as good, connect(server.port) as bad:
            good.sendall(b"1")
            assert recv_until(good, b"1") == b"1"
            bad.sendall(b"boom")
            assert is_closed(bad)
            good.sendall(b"still")
            assert recv_until(good, b"still") == b"still"
    finally:
        server.stop()
    err = capfd.readouterr().err
    assert "boom from the test" in err and "Traceback" in err
    assert "on_data raised; closing that client" in err


def test_tracebacks_are_rate_limited(capfd):
    limit = esockets._esockets.TRACEBACKS_PER_SECOND

    class Raise(esockets.Handler):
        def on_data(self, client, data):
            raise RuntimeError("raised by client %s" % data.decode())

    server = serve(Raise())
    try:
        start = time.monotonic()
        for n in range(3 * limit):
            with connect(server.port) as sock:
                sock.sendall(b"%d" % n)
                assert is_closed(sock)
        burst = time.monotonic() - start
        # One more after the window: printed, with the count left out.
        time.sleep(max(0.0, 1.05 - (time.monotonic() - start)))
        with connect(server.port) as sock:
            sock.sendall(b"last")
            assert is_closed(sock)
    finally:
        server.stop()
    err = capfd.readouterr().err
    # The limit is the process's: an earlier test's traceback may share
    # the burst's window.
    shown = len(re.findall(r"raised by client \d+", err))
    left_out = sum(int(n) for n in re.findall(r"(\d+) more callback exceptions not shown", err))
    assert shown + left_out == 3 * limit, err
    assert shown <= limit * (int(burst) + 2), (shown, burst)
    if burst < 1.0:
        assert left_out >= 2 * limit, err
    assert "raised by client last" in err, "printed again once the window passed"
