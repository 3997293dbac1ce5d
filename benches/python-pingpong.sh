#!/usr/bin/env bash
# Python servers side by side (issue 25): 64 B ping-pong at 100, 1,000
# and 10,000 connections against an echo written as a Python callback in
# the original esockets 3.0.7 from PyPI, an asyncio Protocol, a uvloop
# Protocol and this package (python/), and the Rust server's own echo;
# then the idle memory per connection of this package's server and the
# Rust server's at 10,000 connections (loadgen --mode idle; VmRSS growth
# over the connections, as benches/tls-idle-memory.sh). Runs are
# interleaved, each server fresh on a fresh port; medians printed.
# The client is the repository's loadgen. Needs a quiet machine.
#
# Usage:
#   cargo build --profile dist --workspace
#   benches/python-pingpong.sh setup     # a venv: uvloop, esockets 3.0.7, pip install ./python
#   benches/python-pingpong.sh           # RUNS=3 DURATION=5s CONNECTIONS="100 1000 10000"
#     THREADS=2 (shards of esockets and of this package) MEMORY=1 (0: skip it)
#     CONTENDERS="original asyncio uvloop esockets-py esockets"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${BIN:-$root/target/dist}
venv=${VENV:-$root/target/python-bench}
runs=${RUNS:-3}
sizes=${CONNECTIONS:-100 1000 10000}
duration=${DURATION:-5s}
threads=${THREADS:-2}
contenders=${CONTENDERS:-original asyncio uvloop esockets-py esockets}
port=${PORT:-1500}
work=$(mktemp -d /tmp/python-pingpong.XXXXXX)

if [[ ${1:-} == setup ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q uvloop wheel
    # 3.0.7's setup.py imports its dependencies, so they go in first; a
    # target directory of its own keeps it from shadowing this package.
    "$venv/bin/pip" install -q --upgrade --target "$venv/original" loopfunction maxthreads
    PYTHONPATH="$venv/original" "$venv/bin/pip" install -q --no-build-isolation --no-deps \
        --target "$venv/original" esockets==3.0.7
    "$venv/bin/pip" install -q "$root/python"
    echo "setup done: $venv"
    exit 0
fi
[[ -x $venv/bin/python ]] || { echo "run '$0 setup' first" >&2; exit 2; }
py=$venv/bin/python

wait_listening() { # PORT
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    return 1
}

start() { # contender [args]: starts its server on $port, sets $pid
    case $1 in
    original) PYTHONPATH="$venv/original" "$py" "$here/python/original_echo.py" "$port" >/dev/null 2>&1 & ;;
    asyncio) "$py" "$here/python/asyncio_echo.py" "$port" >/dev/null 2>&1 & ;;
    uvloop) "$py" "$here/python/asyncio_echo.py" "$port" --uvloop >/dev/null 2>&1 & ;;
    esockets-py) "$py" "$here/python/esockets_echo.py" "$port" "$threads" >/dev/null 2>&1 & ;;
    esockets-py-state) "$py" "$here/python/esockets_echo.py" "$port" "$threads" --state >/dev/null 2>&1 & ;;
    esockets) "$bin/esockets" --threads "$threads" --bind "127.0.0.1:$port" 2>/dev/null & ;;
    *) echo "unknown contender $1" >&2; exit 2 ;;
    esac
    pid=$!
    wait_listening "$port"
}

stop() {
    kill -TERM "$pid" 2>/dev/null || true
    # The original ignores SIGTERM's drain: give it a moment, then kill.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    port=$((port + 1))
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "python: $("$py" -VV | head -1); runs $runs, $duration each, $threads server threads"
results=$work/results.tsv
: >"$results"
for round in $(seq "$runs"); do
    for n in $sizes; do
        for c in $contenders; do
            start "$c"
            sources=127.0.0.1
            ((n > 5000)) && sources=127.0.0.1-127.0.0.4
            if "$bin/loadgen" --addr "127.0.0.1:$port" -c "$n" --size 64 --duration "$duration" \
                --warmup 1s --source "$sources" --quiet --json "$work/run.json" >/dev/null 2>"$work/err"; then
                "$py" - "$work/run.json" "$c" "$n" "$round" >>"$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p99 = (r.get("latency_us") or {}).get("p99")
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{sys.argv[4]}\t{r['messages_per_sec']:.0f}\t{p99}\t{r['errors']['total']}")
PY
            else
                echo "$c $n: loadgen failed: $(tail -1 "$work/err")" >&2
                printf '%s\t%s\t%s\t0\tNone\tfailed\n' "$c" "$n" "$round" >>"$results"
            fi
            tail -1 "$results"
            stop
        done
    done
done

"$py" - "$results" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
by = {}
for c, n, _, rate, p99, _errors in rows:
    by.setdefault((int(n), c), []).append((float(rate), float(p99) if p99 != "None" else float("nan")))
print("\nconnections  contender      median msg/s   median p99 (us)   vs original  vs uvloop  vs esockets (Rust)")
for n in sorted({n for n, _ in by}):
    med = {c: statistics.median(r for r, _ in runs) for (m, c), runs in by.items() if m == n}
    for (m, c), runs in sorted(by.items()):
        if m != n:
            continue
        rate = med[c]
        p99 = statistics.median(p for _, p in runs)
        ratio = lambda base: f"{rate / med[base]:.2f}x" if med.get(base) else "-"
        print(f"{n:>11}  {c:<13} {rate:>13.0f}   {p99:>15.0f}   {ratio('original'):>11}  {ratio('uvloop'):>9}  {ratio('esockets'):>9}")
PY

[[ ${MEMORY:-1} == 1 ]] || exit 0
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
connections=${MEMORY_CONNECTIONS:-10000}
echo
echo "idle memory per connection, $connections connections (loadgen --mode idle):"
for c in esockets esockets-py esockets-py-state; do
    start "$c"
    before=$(settled_rss "$pid")
    fds_before=$(fds "$pid")
    "$bin/loadgen" --addr "127.0.0.1:$port" --mode idle -c "$connections" --connect-rate 5000 \
        --source 127.0.0.1-127.0.0.4 --duration 600s --warmup 0s --quiet >/dev/null 2>&1 &
    load=$!
    deadline=$((SECONDS + 60))
    while (($(fds "$pid") - fds_before < connections)); do
        ((SECONDS < deadline)) || { echo "$c: connections did not all arrive" >&2; break; }
        sleep 0.2
    done
    after=$(settled_rss "$pid")
    open=$(($(fds "$pid") - fds_before))
    kill -TERM "$load" 2>/dev/null || true
    wait "$load" 2>/dev/null || true
    echo "$c: $open connections, RSS $before -> $after, $(((after - before) / (open > 0 ? open : 1))) B per connection"
    stop
done
rm -rf "$work"
