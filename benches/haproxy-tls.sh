#!/usr/bin/env bash
# HAProxy terminating TLS in front of esockets plaintext: the setup users
# run today. Starts esockets (echo, plaintext, on BACKEND_PORT) and HAProxy
# (`mode tcp`, `bind ... ssl crt ...`, NBTHREAD threads) listening on PORT
# with a certificate for localhost made in $TLS_DIR (maxconn: half the
# descriptor limit), prints
# "listening PORT CA-FILE" and waits; Ctrl-C or SIGTERM stops both.
# HAProxy holds two descriptors per client (client and backend): under
# this machine's 20,000-file limit it takes 9,900 clients at most (MAXCONN).
# Usage: benches/haproxy-tls.sh   (PORT=1250 BACKEND_PORT=1251 NBTHREAD=2)
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=tls-common.sh
source "$here/tls-common.sh"
bin=${BIN:-target/dist}
port=${PORT:-1250}
backend=${BACKEND_PORT:-1251}
threads=${NBTHREAD:-2}
command -v haproxy >/dev/null || { echo "haproxy missing: run scripts/components.sh" >&2; exit 1; }
make_certs
# Two descriptors per client (its socket and the one to esockets): the
# most the descriptor limit allows. At 10k clients that needs `ulimit -n`
# above 20,000 (this project's machines allow 20,000 per process).
maxconn=$(($(ulimit -n) / 2 - 100))
cat >"$TLS_DIR/haproxy.cfg" <<CFG
global
    nbthread $threads
    maxconn $maxconn
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend tls_in
    bind 127.0.0.1:$port ssl crt $TLS_DIR/haproxy.pem
    default_backend esockets
backend esockets
    server e1 127.0.0.1:$backend
CFG
"$bin/esockets" --threads "${THREADS:-2}" --bind "127.0.0.1:$backend" 2>/dev/null &
server=$!
haproxy -f "$TLS_DIR/haproxy.cfg" -db &
proxy=$!
trap 'kill -TERM $proxy $server 2>/dev/null; wait $proxy $server 2>/dev/null || true' EXIT INT TERM
wait_listening "$backend"
wait_listening "$port"
echo "listening $port $TLS_DIR/ca.pem"
wait "$proxy"
