#!/usr/bin/env bash
# Idle user-space memory per TLS connection, by the method of the
# plaintext figure (bench-e2e's idle-memory workload, docs/benchmarks.md):
# the server's settled VmRSS before, then loadgen opens CONNECTIONS idle
# connections at 3,000/s (here over TLS, each finishing its handshake),
# the server's descriptor count is waited for, VmRSS settles again; the
# growth divided by the connections. Runs interleaved, median printed.
# Needs a quiet machine.
# Usage: cargo build --profile dist --workspace && benches/tls-idle-memory.sh
#   RUNS=3 CONNECTIONS=15000 CONTENDERS="tokio-rustls esockets-tls" THREADS=2
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=tls-common.sh
source "$here/tls-common.sh"
bin=${BIN:-target/dist}
runs=${RUNS:-3}
connections=${CONNECTIONS:-15000}
threads=${THREADS:-2}
contenders=${CONTENDERS:-tokio-rustls esockets-tls}
port=${PORT:-1400}
make_certs

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
settled_rss() { # PID: VmRSS once two reads 200 ms apart agree (up to 5 s)
    local last now
    last=$(rss "$1")
    for _ in $(seq 25); do
        sleep 0.2
        now=$(rss "$1")
        [[ $now == "$last" ]] && break
        last=$now
    done
    echo "$last"
}
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

declare -A per_conn
for _ in $(seq "$runs"); do
    for c in $contenders; do
        case $c in
        tokio-rustls) "$bin/tokio-rustls-echo" --threads "$threads" --bind "127.0.0.1:$port" \
            --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem" >/dev/null 2>&1 & ;;
        esockets-tls) "$bin/esockets" --threads "$threads" --bind "127.0.0.1:$port" \
            --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem" 2>/dev/null & ;;
        *) echo "unknown contender $c" >&2; exit 2 ;;
        esac
        server=$!
        wait_listening "$port"
        before=$(settled_rss "$server")
        fds_before=$(fds "$server")
        "$bin/loadgen" --addr "localhost:$port" --tls --tls-ca "$TLS_DIR/ca.pem" --mode idle \
            -c "$connections" --connect-rate 3000 --duration 600s --warmup 0s --quiet >/dev/null 2>&1 &
        load=$!
        deadline=$((SECONDS + 120))
        while (($(fds "$server") - fds_before < connections)); do
            ((SECONDS < deadline)) || { echo "$c: connections did not all arrive" >&2; break; }
            kill -0 "$load" 2>/dev/null || { echo "$c: loadgen ended early" >&2; break; }
            sleep 0.2
        done
        after=$(settled_rss "$server")
        open=$(($(fds "$server") - fds_before))
        kill -TERM "$load" 2>/dev/null || true
        wait "$load" || true
        kill -TERM "$server"
        wait "$server" || true
        bytes=$(((after - before) / (open > 0 ? open : 1)))
        echo "$c: $open connections, RSS $before -> $after, $bytes B per connection"
        per_conn[$c]="${per_conn[$c]:-} $bytes"
        port=$((port + 1))
    done
done
for c in $contenders; do
    # shellcheck disable=SC2086 # a list of numbers
    median=$(printf '%s\n' ${per_conn[$c]} | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    echo "median $c: $median B per idle TLS connection ($connections connections, $runs runs)"
done
