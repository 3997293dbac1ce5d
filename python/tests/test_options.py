"""Bad input: every wrong argument type or value of the modern API is a
TypeError or ValueError naming the argument; good options are taken."""

import pytest

import esockets


class Echo(esockets.Handler):
    def on_data(self, client, data):
        client.sendall(data)


@pytest.mark.parametrize("kwargs, error, name", [
    ({"port": "80"}, TypeError, "port"),
    ({"port": True}, TypeError, "port"),
    ({"port": 70000}, ValueError, "port"),
    ({"port": -1}, ValueError, "port"),
    ({"host": 5}, TypeError, "host"),
    ({"host": "no such host.invalid"}, ValueError, "host"),
    ({"threads": -1}, ValueError, "threads"),
    ({"threads": 1.5}, TypeError, "threads"),
    ({"backlog": 0}, ValueError, "backlog"),
    ({"idle_timeout": "5s"}, TypeError, "idle_timeout"),
    ({"idle_timeout": -1}, ValueError, "idle_timeout"),
    ({"close_timeout": float("nan")}, ValueError, "close_timeout"),
    ({"stall_threshold": []}, TypeError, "stall_threshold"),
    ({"max_connections": 0}, ValueError, "max_connections"),
    ({"output_limit": None}, TypeError, "output_limit"),
    ({"nodelay": 1}, TypeError, "nodelay"),
    ({"refuse_message": 3}, TypeError, "refuse_message"),
    ({"metrics": "nowhere"}, ValueError, "metrics"),
    ({"backplane": "http://localhost"}, ValueError, "backplane"),
    ({"proxy_trusted": "10.0.0.0/8"}, TypeError, "proxy_trusted"),
    ({"proxy_trusted": ["ten"]}, ValueError, "proxy_trusted"),
    ({"tls_cert": "cert.pem"}, ValueError, "tls_key"),
    ({"tls_cert": "/nonexistent.pem", "tls_key": "/nonexistent.pem"}, ValueError, "tls_cert"),
    ({"output_low_water": 10, "output_high_water": 5}, ValueError, "output"),
    ({"bogus": 1}, TypeError, "bogus"),
])
def test_bad_options_name_the_argument(kwargs, error, name):
    args = {"host": "127.0.0.1", "port": 0}
    args.update(kwargs)
    with pytest.raises(error, match=name):
        esockets.Server(Echo(), **args)


@pytest.mark.parametrize("args, kwargs, error, name", [
    ((object(),), {}, TypeError, "handler"),
    ((Echo(),), {"protocol": "echo"}, ValueError, "protocol"),
    ((), {"protocol": "gopher"}, ValueError, "protocol"),
    ((), {"protocol": 1}, TypeError, "protocol"),
    ((), {}, ValueError, "handler"),
])
def test_bad_handler_or_protocol(args, kwargs, error, name):
    with pytest.raises(error, match=name):
        esockets.Server(*args, host="127.0.0.1", port=0, **kwargs)


def test_bad_method_arguments():
    server = esockets.Server(Echo(), host="127.0.0.1", port=0, threads=1)
    try:
        with pytest.raises(TypeError):
            server.publish(1, b"x")
        with pytest.raises(TypeError):
            server.send("not a client", b"x")
    finally:
        server.stop()


def test_port_in_use_is_an_oserror():
    first = esockets.Server(Echo(), host="127.0.0.1", port=0, threads=1)
    try:
        with pytest.raises(OSError):
            esockets.Server(Echo(), host="127.0.0.1", port=first.port, threads=1)
    finally:
        first.stop()


def test_every_option_is_taken():
    server = esockets.Server(
        Echo(), host="127.0.0.1", port=0, threads=2, pin_threads=False, backlog=128,
        nodelay=True, max_connections=100, refuse_message="busy\n", idle_timeout=30,
        close_timeout=1.5, shutdown_grace=0, user_timeout=None, keepalive=60,
        keepalive_interval=5, input_limit=1 << 16, output_limit=1 << 22,
        output_high_water=1 << 20, output_low_water=1 << 18, read_buffer=1 << 16,
        read_budget=1 << 18, accept_budget=64, inbox_capacity=1024, stall_threshold=0.05,
        metrics=None, tick=None, backplane=None, backplane_resend=100, fanout_credit=64,
        proxy_protocol=False, proxy_trusted=[], proxy_timeout=5, reuseport_join=False,
        max_line=1024)
    try:
        assert server.port > 0
        assert server.handle.shards == 2
    finally:
        server.stop()
