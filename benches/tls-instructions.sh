#!/usr/bin/env bash
# Server user-space instructions per 64 B echo, plaintext and TLS 1.3
# (callgrind; kernel work not counted): one shard (--threads 1 --no-pin),
# one connection, benches/pingpong-one.py as the client. Each server runs
# twice, for FEW and MANY round trips; per message = (MANY's total -
# FEW's) / (MANY - FEW), so start-up (aws-lc's entropy seeding, the
# handshake) cancels out. Deterministic: a loaded machine gives the same
# counts, so this is the figure to compare builds by.
# Usage: cargo build --profile dist && benches/tls-instructions.sh
#   BIN=target/dist FEW=2000 MANY=12000 MODES="plain tls"
set -euo pipefail
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
    port=$((port + 1))
    out=$TLS_DIR/callgrind.$mode.$n
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin/esockets" --threads 1 --no-pin \
        --bind "127.0.0.1:$port" "${flags[@]}" 2>/dev/null &
    local pid=$!
    for _ in $(seq 600); do # valgrind starts slowly: up to 60 s
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    python3 "$here/pingpong-one.py" 127.0.0.1 "$port" "$ca" "$n"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    awk '/^summary:/ {print $2}' "$out"
}

for mode in $modes; do
    a=$(total "$mode" "$few")
    b=$(total "$mode" "$many")
    echo "$mode: $a ($few) -> $b ($many): $(( (b - a) / (many - few) )) instructions per message"
done
