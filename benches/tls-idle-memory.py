#!/usr/bin/env python3
# Idle user-space memory per connection of a running server: its VmRSS
# before and after N idle connections, divided by N (the method of
# docs/bench/idle-memory.md). tls: each connection finished its handshake
# and echoed 5 bytes; plain: echoed 5 bytes; silent: connected and sent
# nothing (a handshake that never starts). Connections are opened by
# PROCS child processes, each from its own loopback source address
# (127.0.0.2, .3, ...), so no process nears the open-file limit.
# cert.pem (the server's certificate, trusted) must be in the current
# directory for tls.
#
# Usage: benches/tls-idle-memory.py PORT SERVER_PID N PROCS tls|plain|silent [1.2]
# Example (docs/bench/tls/idle-memory.txt):
#   target/release/esockets --bind 127.0.0.1:24444 --tls-cert cert.pem --tls-key key.pem &
#   benches/tls-idle-memory.py 24444 $! 15000 3 tls
import socket, ssl, sys, time, os
port, pid, n, procs, kind = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
maxver = sys.argv[6] if len(sys.argv) > 6 else None
def rss():
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])*1024
def opener(count, src, ready_w, go_r):
    ctx=ssl.create_default_context(cafile='cert.pem')
    if maxver == '1.2': ctx.maximum_version=ssl.TLSVersion.TLSv1_2
    conns=[]
    for i in range(count):
        s=socket.socket(); s.bind((src,0)); s.connect(('127.0.0.1',port))
        if kind=='tls':
            s=ctx.wrap_socket(s, server_hostname='localhost'); s.sendall(b'hello'); assert s.recv(10)==b'hello'
        elif kind=='plain':
            s.sendall(b'hello'); assert s.recv(10)==b'hello'
        conns.append(s)
    os.write(ready_w, b'r'); os.read(go_r, 1)
    os._exit(0)
def batch(count):
    kids=[]; per=count//procs
    for p in range(procs):
        rw=os.pipe(); gw=os.pipe()
        pid_=os.fork()
        if pid_==0: opener(per, f'127.0.0.{2+p}', rw[1], gw[0])
        kids.append((pid_, rw[0], gw[1]))
    for k in kids: os.read(k[1],1)
    return kids
def release(kids):
    for k in kids: os.write(k[2], b'g')
    for k in kids: os.waitpid(k[0],0)
time.sleep(0.2)
base=rss(); kids=batch(n); time.sleep(1.0); after=rss()
print(f"{kind} {maxver or ''}: {n} idle connections: server VmRSS {base} -> {after}: {(after-base)/n:.0f} B per connection")
release(kids)
