#!/usr/bin/env bash
# A TLS handshake storm (issue 20): CONNECTIONS clients from 4 loopback
# sources connect at once, each completes a TLS handshake and has one byte
# echoed, all held until the last is served (connect-storm --tls-ca); then
# every client closes and the same clients storm again resuming with the
# tickets they got (--tls-resume). Times full and resumed storms for
# esockets TLS and for HAProxy terminating TLS in front of esockets
# plaintext (benches/haproxy-tls.sh), interleaved, each server fresh on a
# fresh port; prints one JSON line per storm, then the medians.
# HAProxy holds two descriptors per client: under a 20,000-file limit it
# takes 9,900 clients, so esockets is also run at HAPROXY_CONNECTIONS for
# the side by side.
# Usage: cargo build --profile dist --workspace && benches/tls-storm.sh
#   RUNS=3 CONNECTIONS=15000 HAPROXY_CONNECTIONS=9900 THREADS=2
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=tls-common.sh
source "$here/tls-common.sh"
bin=${BIN:-target/dist}
runs=${RUNS:-3}
connections=${CONNECTIONS:-15000}
haproxy_connections=${HAPROXY_CONNECTIONS:-9900}
threads=${THREADS:-2}
port=${PORT:-1400}
results=$TLS_DIR/storms.jsonl
make_certs
: >"$results"

storm() { # name, connections: starts the server, storms it twice, stops it
    local name=$1 n=$2 pid
    case $name in
    esockets-tls*) "$bin/esockets" --threads "$threads" --bind "127.0.0.1:$port" \
        --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem" 2>/dev/null & ;;
    haproxy) PORT=$port BACKEND_PORT=$((port + 1)) NBTHREAD=$threads THREADS=$threads \
        TLS_DIR=$TLS_DIR BIN=$bin "$here/haproxy-tls.sh" >/dev/null 2>&1 & ;;
    esac
    pid=$!
    wait_listening "$port"
    "$bin/connect-storm" --addr "127.0.0.1:$port" --connections "$n" --tls-ca "$TLS_DIR/ca.pem" \
        --tls-resume | sed "s/^{/{\"server\": \"$name\", /" | tee -a "$results" ||
        echo "$name $n: the storm failed" >&2
    kill -TERM "$pid"
    wait "$pid" || true
    port=$((port + 2)) # fresh ports: no TIME_WAIT from the last run
}

for _ in $(seq "$runs"); do
    storm esockets-tls "$connections"
    storm esockets-tls-"$haproxy_connections" "$haproxy_connections"
    storm haproxy "$haproxy_connections"
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault((r["server"], r["connections"], r["tls"]), []).append(r)
print("\nserver               clients  handshakes  median served (ms)  median p99 (ms)  runs")
for (server, n, kind), runs in sorted(by.items()):
    served = statistics.median(r["served_ms"] for r in runs)
    p99 = statistics.median(r["p99_ms"] for r in runs)
    print(f"{server:20} {n:7}  {kind:10}  {served:18.0f}  {p99:15.0f}  {len(runs)}")
PY
