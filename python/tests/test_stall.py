"""A callback that blocks its shard is reported by the stall detector:
counted in the stats and warned about on stderr, naming the shard."""

import time

import esockets
from helpers import connect, recv_until, wait_for


class Sleepy(esockets.Handler):
    def on_data(self, client, data):
        if data == b"sleep":
            time.sleep(0.3)  # the behaviour under test: a blocking callback
        client.sendall(data)


def test_a_blocking_callback_is_a_stall(capfd):
    server = esockets.Server(Sleepy(), host="127.0.0.1", port=0, threads=1,
                             stall_threshold=0.1)
    server.start()
    try:
        with connect(server.port) as sock:
            sock.sendall(b"fast")
            assert recv_until(sock, b"fast") == b"fast"
            assert server.stats()["stalls"] == 0
            sock.sendall(b"sleep")
            assert recv_until(sock, b"sleep") == b"sleep"
            wait_for(lambda: server.stats()["stalls"] == 1, "the stall counted")
    finally:
        server.stop()
    err = ""
    # The log writer thread may write the line a little later.
    def warned():
        nonlocal err
        err += capfd.readouterr().err
        return "stalled" in err or "stall" in err
    wait_for(warned, "the stall warning on stderr")
    assert "shard 0" in err, err
