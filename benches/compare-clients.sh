#!/usr/bin/env bash
# Compares loadgen with a second echo client, thread-client (one blocking
# thread per connection, as rust_echo_bench does), against one esockets
# server: 64-byte ping-pong, runs alternating, messages/s and client CPU.
# Usage: cargo build --profile dist --workspace && benches/compare-clients.sh
set -euo pipefail
bin=${BIN:-target/dist}
port=${PORT:-1250}
runs=${RUNS:-3}
"$bin/esockets" --threads 2 --bind "127.0.0.1:$port" 2>/dev/null &
server=$!
trap 'kill "$server"' EXIT
for _ in $(seq 100); do # up to 10 s for the server to listen
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
for conns in 100 1000; do
    for run in $(seq "$runs"); do
        echo "== $conns connections, run $run"
        "$bin/loadgen" --addr "127.0.0.1:$port" --connections "$conns" --duration 10s \
            --warmup 0s --quiet | grep -E '^(throughput|loadgen cpu|result)'
        "$bin/thread-client" --addr "127.0.0.1:$port" --connections "$conns" --seconds 10
    done
done
