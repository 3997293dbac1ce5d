# 64 B ping-pong over one connection, N round trips, plaintext or TLS
# (CA file, or - for plaintext); the client of benches/tls-instructions.sh.
# Usage: python3 benches/pingpong-one.py HOST PORT CA|- N
import socket, ssl, sys
host, port, ca, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca) if ca != "-" else None
s = socket.create_connection((host, port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if ctx:
    s = ctx.wrap_socket(s, server_hostname="localhost")
msg = b"x" * 63 + b"\n"
for _ in range(n):
    s.sendall(msg)
    got = b""
    while len(got) < 64:
        chunk = s.recv(64 - len(got))
        if not chunk:
            sys.exit("closed")
        got += chunk
    assert got == msg
s.close()
