"""A process of many clients (apart from the server's, for the open-file
limit): connects COUNT clients to 127.0.0.1:PORT from several loopback
sources, echoes one byte through each, prints "held COUNT", holds them
until its stdin closes, then closes them and prints "done"."""

import selectors
import socket
import sys
import time

DEADLINE = 60.0


def main(port, count):
    end = time.monotonic() + DEADLINE
    sel = selectors.DefaultSelector()
    socks = []
    for n in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        # Several sources: the ephemeral ports of one would do, but leave
        # room for the machine's other tests.
        sock.bind(("127.0.0.%d" % (1 + n % 4), 0))
        sock.connect_ex(("127.0.0.1", port))
        socks.append(sock)
        sel.register(sock, selectors.EVENT_WRITE)
    waiting = count
    while waiting:
        if time.monotonic() > end:
            sys.exit("connect: timed out with %d left" % waiting)
        for key, _ in sel.select(1.0):
            err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                sys.exit("connect: error %d" % err)
            key.fileobj.send(b"x")
            sel.modify(key.fileobj, selectors.EVENT_READ)
            waiting -= 1
    waiting = count
    while waiting:
        if time.monotonic() > end:
            sys.exit("echo: timed out with %d left" % waiting)
        for key, _ in sel.select(1.0):
            if key.fileobj.recv(16) != b"x":
                sys.exit("echo: wrong reply")
            sel.unregister(key.fileobj)
            waiting -= 1
    print("held %d" % count, flush=True)
    sys.stdin.read()
    for sock in socks:
        sock.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
