#!/usr/bin/env bash
# Server user-space instructions per 64 B echo, plaintext and TLS 1.3
# (callgrind; kernel work not counted): one shard (--threads 1 --no-pin),
# one connection, benches/pingpong-one.py as the client. Each server runs
# twice, for FEW and MANY round trips; per message = (MANY's total -
# FEW's) / (MANY - FEW), so start-up (aws-lc's entropy seeding, the
# handshake) cancels out. Nearly load-independent (the shards' 10 ms
# export tick and the watchdog still run for as long as a run lasts, so
# counts spread a few per cent): run it several times per build.
# Usage: cargo build --profile dist && benches/tls-instructions.sh
#   BIN=target/dist FEW=2000 MANY=12000 MODES="plain tls"
set -euo pipefail
shopt -s inherit_errexit
here=$(dirname "$0")
# shellcheck source=tls-common.sh
source "$here/tls-common.sh"
bin=${BIN:-target/dist}
few=${FEW:-2000}
many=${MANY:-12000}
modes=${MODES:-plain tls}
port=${PORT:-1700}
make_certs

total() { # MODE ROUND_TRIPS: the server's instruction count
    local mode=$1 n=$2 flags=() ca=- out
    [[ $mode == tls ]] && flags=(--tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem") && ca=$TLS_DIR/ca.pem
    out=$TLS_DIR/callgrind.$mode.$n
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin/esockets" --threads 1 --no-pin \
        --bind "127.0.0.1:$port" "${flags[@]}" 2>/dev/null &
    local pid=$!
    local up=0
    for _ in $(seq 600); do # valgrind starts slowly: up to 60 s
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && up=1 && break
        sleep 0.1
    done
    if ((!up)) || ! python3 "$here/pingpong-one.py" 127.0.0.1 "$port" "$ca" "$n"; then
        kill -TERM "$pid" 2>/dev/null || true
        echo "$mode $n: the server did not start or the ping-pong failed" >&2
        return 1
    fi
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    awk '/^summary:/ {print $2}' "$out"
}

for mode in $modes; do
    port=$((port + 1))
    a=$(total "$mode" "$few") || exit 1
    port=$((port + 1))
    b=$(total "$mode" "$many") || exit 1
    echo "$mode: $a ($few) -> $b ($many): $(( (b - a) / (many - few) )) instructions per message"
done
