#!/usr/bin/env bash
# A fleet reconnecting at once, side by side: esockets (default backlog,
# i.e. net.core.somaxconn), esockets with the old default backlog of 1000,
# and the raw epoll loop. Each run starts the server fresh, fires
# connect-storm (15,000 clients from 4 loopback sources, one byte echoed
# each) and stops it; servers alternate run by run. Prints one JSON line
# per run; quote the median served_ms.
# Usage: cargo build --profile dist --workspace && benches/connect-storm.sh
set -euo pipefail
bin=${BIN:-target/dist}
runs=${RUNS:-3}
connections=${CONNECTIONS:-15000}
port=${PORT:-1260}

wait_listening() {
    for _ in $(seq 100); do # up to 10 s
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2
    return 1
}

run() { # name, command...
    local name=$1
    shift
    "$@" 2>/dev/null &
    local server=$!
    wait_listening "$port"
    printf '%s ' "$name"
    "$bin/connect-storm" --addr "127.0.0.1:$port" --connections "$connections"
    kill -TERM "$server"
    wait "$server" || true
    port=$((port + 1)) # a fresh port: no TIME_WAIT from the last run
}

for _ in $(seq "$runs"); do
    run esockets "$bin/esockets" --threads 2 --bind "127.0.0.1:$port"
    run esockets-backlog-1000 "$bin/esockets" --threads 2 --backlog 1000 --bind "127.0.0.1:$port"
    run epoll "$bin/epoll-echo" --threads 2 --bind "127.0.0.1:$port"
done
