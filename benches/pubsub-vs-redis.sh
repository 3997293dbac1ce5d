#!/usr/bin/env bash
# Pub/sub fan-out, side by side: esockets --protocol pubsub and
# redis-server, driven by the same loadgen (--mode pubsub; --protocol redis
# for Redis), every delivery checked (lost, duplicated, out of order).
#
# Two scenarios, each run against both servers, interleaved run by run
# (esockets, redis, esockets, redis, ...) so drift on a shared machine hits
# both alike; each run starts its server fresh on a fresh port:
#   fanout  1 publisher, 1 topic, 10,000 subscribers, 64 B payloads
#   rooms   1,000 topics x 10 subscribers, 100 publishers
# For each run: deliveries/s and p99 delivery latency (loadgen), server
# CPU seconds in loadgen's measured window (utime+stime from
# /proc/PID/stat, sampled every 100 ms and interpolated at the window's
# ends, which the interval log gives) -> deliveries per server CPU-second,
# and server RSS growth from before the load to its peak in the window
# per subscription (at small sizes the allocator's baseline dominates).
# Deliveries/s and deliveries per CPU-second both count the deliveries of
# publishes due in the window (some arrive in the drain after it).
# Prints a table of medians; every run's loadgen JSON,
# interval log and CPU samples stay in $OUT.
#
# Usage:
#   cargo build --profile dist -p esockets -p loadgen && benches/pubsub-vs-redis.sh
# Settings (environment): BIN (target/dist), RUNS (3), DURATION (10s),
# WARMUP (2s), SERVER_THREADS (2, esockets), LOADGEN_THREADS (2), SIZE (64),
# WINDOW (8: unacknowledged publishes per publisher; closed loop),
# RATE (unset; a total publish rate makes it an open loop),
# FANOUT_SUBSCRIBERS (10000), ROOMS (1000), ROOM_SUBSCRIBERS (10),
# ROOM_PUBLISHERS (100), SCENARIOS ("fanout rooms"), PORT (1400), OUT,
# SERVERS ("esockets redis"; "esockets+history" is esockets with
# --history $HISTORY, default 1000: fan-out with a history kept against
# without, issue 21; "esockets-credit-N" is esockets with --fanout-credit N,
# e.g. esockets-credit-0 without pacing; "esockets-before" is the esockets
# binary in $BEFORE_BIN, a build before a change, run the same way, issue
# 22); "esockets-ws" is `esockets --protocol pubsub --websocket` driven over
# WebSocket (loadgen --ws), against the lines protocol.
# VERIFY_EVERY (1): loadgen checks and times one subscriber in N and counts
# the others (--verify-every), so its own CPU is not the ceiling.
# Before and after pacing (issue 22), 1,000 and 10,000 subscribers, 64
# publishes unacknowledged:
#   git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --profile dist -p esockets)
#   BEFORE_BIN=/tmp/before/target/dist WINDOW=64 SCENARIOS=fanout FANOUT_SUBSCRIBERS=1000 \
#     SERVERS="esockets-before esockets esockets-credit-64 esockets-credit-1024 redis" \
#     benches/pubsub-vs-redis.sh
# "esockets+auth" requires JWT connection tokens
# (--auth-jwt-secret-file, loadgen minting one per connection from the
# same secret file) and "esockets+auth+history" both: the issue's goal is
# fan-out within 5 % of plain esockets, auth being per connection).
# Fan-out with auth and history against without, the issue-21 comparison:
#   SERVERS="esockets esockets+auth+history" SCENARIOS=fanout RUNS=5 benches/pubsub-vs-redis.sh
# A tiny smoke run: RUNS=1 DURATION=1s WARMUP=200ms FANOUT_SUBSCRIBERS=50 \
#   ROOMS=10 ROOM_SUBSCRIBERS=3 ROOM_PUBLISHERS=5 BIN=target/debug benches/pubsub-vs-redis.sh
set -euo pipefail
bin=${BIN:-target/dist}
runs=${RUNS:-3}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
server_threads=${SERVER_THREADS:-2}
loadgen_threads=${LOADGEN_THREADS:-2}
size=${SIZE:-64}
window=${WINDOW:-8}
fanout_subscribers=${FANOUT_SUBSCRIBERS:-10000}
rooms=${ROOMS:-1000}
room_subscribers=${ROOM_SUBSCRIBERS:-10}
room_publishers=${ROOM_PUBLISHERS:-100}
scenarios=${SCENARIOS:-fanout rooms}
servers=${SERVERS:-esockets redis}
history=${HISTORY:-1000}
port=${PORT:-1400}
verify_every=${VERIFY_EVERY:-1}
out=${OUT:-$(mktemp -d /tmp/pubsub-vs-redis.XXXXXX)}
mkdir -p "$out"
# The secret of the +auth servers: a file, never the command line.
secret="$out/jwt-secret"
head -c 48 /dev/urandom | base64 >"$secret"
redis=$(command -v redis-server) || {
    echo "redis-server is not installed: run scripts/components.sh" >&2
    exit 1
}
for program in "$bin/esockets" "$bin/loadgen"; do
    [[ -x $program ]] || {
        echo "$program is missing: cargo build --profile dist -p esockets -p loadgen" >&2
        exit 1
    }
done

wait_listening() { # port
    for _ in $(seq 200); do # up to 20 s
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2
    return 1
}

# Samples "epoch-seconds utime+stime(ticks) rss(pages)" of a PID every
# 100 ms until it exits or the sampler is killed.
sample_cpu() { # pid file
    while [[ -r /proc/$1/stat ]]; do
        local stat
        stat=$(cut -d' ' -f14,15,24 "/proc/$1/stat" 2>/dev/null) || break
        read -r user sys rss <<<"$stat"
        echo "$(date +%s.%N) $((user + sys)) $rss"
        sleep 0.1
    done >"$2"
}

scenario_args() { # scenario
    case $1 in
    fanout) echo "--subscribers $fanout_subscribers --topics 1 --publishers 1" ;;
    rooms)
        echo "--subscribers $((rooms * room_subscribers)) --topics $rooms --publishers $room_publishers"
        ;;
    *)
        echo "unknown scenario $1" >&2
        exit 1
        ;;
    esac
}

run() { # scenario server run-number
    local scenario=$1 server=$2 n=$3 name="$1-$2-$3"
    local -a command protocol tokens=()
    case $server in
    esockets)
        command=("$bin/esockets" --protocol pubsub --threads "$server_threads"
            --bind "127.0.0.1:$port")
        protocol=(--protocol pubsub)
        ;;
    esockets-ws)
        command=("$bin/esockets" --protocol pubsub --websocket --threads "$server_threads"
            --bind "127.0.0.1:$port")
        protocol=(--protocol pubsub --ws)
        ;;
    esockets+history)
        command=("$bin/esockets" --protocol pubsub --threads "$server_threads"
            --bind "127.0.0.1:$port" --history "$history")
        protocol=(--protocol pubsub)
        ;;
    esockets-credit-*)
        command=("$bin/esockets" --protocol pubsub --threads "$server_threads"
            --bind "127.0.0.1:$port" --fanout-credit "${server#esockets-credit-}")
        protocol=(--protocol pubsub)
        ;;
    esockets-before)
        command=("${BEFORE_BIN:?esockets-before needs BEFORE_BIN, the build to compare with}/esockets"
            --protocol pubsub --threads "$server_threads" --bind "127.0.0.1:$port")
        protocol=(--protocol pubsub)
        ;;
    esockets+auth)
        command=("$bin/esockets" --protocol pubsub --threads "$server_threads"
            --bind "127.0.0.1:$port" --auth-jwt-secret-file "$secret")
        protocol=(--protocol pubsub)
        tokens=(--auth-jwt-secret-file "$secret")
        ;;
    esockets+auth+history)
        command=("$bin/esockets" --protocol pubsub --threads "$server_threads"
            --bind "127.0.0.1:$port" --history "$history" --auth-jwt-secret-file "$secret")
        protocol=(--protocol pubsub)
        tokens=(--auth-jwt-secret-file "$secret")
        ;;
    redis)
        command=("$redis" --port "$port" --bind 127.0.0.1 --save '' --appendonly no
            --maxclients 30000)
        protocol=(--protocol redis)
        ;;
    *)
        echo "unknown server $server" >&2
        exit 1
        ;;
    esac
    "${command[@]}" >"$out/$name.server.log" 2>&1 &
    local pid=$!
    wait_listening "$port"
    sample_cpu "$pid" "$out/$name.cpu" &
    local sampler=$!
    local -a load
    read -r -a load <<<"$(scenario_args "$scenario")"
    if [[ -n ${RATE:-} ]]; then
        load+=(--rate "$RATE")
    else
        load+=(--pipeline "$window")
    fi
    "$bin/loadgen" --mode pubsub "${protocol[@]}" "${tokens[@]}" --addr "127.0.0.1:$port" "${load[@]}" \
        --size "$size" --duration "$duration" --warmup "$warmup" \
        --threads "$loadgen_threads" --verify-every "$verify_every" --quiet \
        --json "$out/$name.json" --hdr-log "$out/$name.hlog" >"$out/$name.txt" 2>&1 || true
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    kill -TERM "$pid"
    wait "$pid" || true
    port=$((port + 1)) # a fresh port: no TIME_WAIT from the last run
    echo "$scenario $server $n $out/$name" >>"$out/runs.txt"
    grep -E '^(deliveries|result|FAILED)' "$out/$name.txt" | sed "s/^/  $name: /" || true
}

: >"$out/runs.txt"
for n in $(seq "$runs"); do
    for scenario in $scenarios; do
        for server in $servers; do
            run "$scenario" "$server" "$n"
        done
    done
done

python3 - "$out/runs.txt" "$(getconf CLK_TCK)" "$(getconf PAGESIZE)" <<'EOF'
import json, statistics, sys

runs_file, ticks, page = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])

def window(hlog):
    """Absolute [start, end] of the measured window from an interval log."""
    base, spans = 0.0, []
    for line in open(hlog):
        if line.startswith("#[BaseTime:"):
            base = float(line.split()[1])
        elif line[:1].isdigit():
            start, length = (float(x) for x in line.split(",")[:2])
            spans.append((base + start, base + start + length))
    return (min(s for s, _ in spans), max(e for _, e in spans)) if spans else None

def at(samples, t):
    """CPU ticks at time t, interpolated between samples."""
    for (t0, c0, _), (t1, c1, _) in zip(samples, samples[1:]):
        if t0 <= t <= t1:
            return c0 + (c1 - c0) * (t - t0) / max(t1 - t0, 1e-9)
    return samples[-1][1] if t > samples[-1][0] else samples[0][1]

rows = {}
for line in open(runs_file):
    scenario, server, n, prefix = line.split()
    try:
        report = json.load(open(prefix + ".json"))
    except (OSError, ValueError):
        print(f"{scenario} {server} run {n}: no report (see {prefix}.txt)")
        continue
    p = report["pubsub"]
    samples = [tuple(float(x) for x in l.split()) for l in open(prefix + ".cpu") if l.strip()]
    span = window(prefix + ".hlog")
    cpu_s = per_cpu = rss_per_sub = None
    if span and len(samples) >= 2:
        cpu_s = (at(samples, span[1]) - at(samples, span[0])) / ticks
        if cpu_s > 0:
            per_cpu = p["deliveries_in_window"] / cpu_s
        before = samples[0][2]
        peak = max(s[2] for s in samples if s[0] <= span[1])
        if p["subscriptions"]:
            rss_per_sub = (peak - before) * page / p["subscriptions"]
    clean = not report["problems"] and p["lost"] == p["duplicated"] == p["out_of_order"] == 0
    rows.setdefault((scenario, server), []).append(
        dict(dps=p["deliveries_per_sec"], p50=(report["latency_us"] or {}).get("p50"),
             p99=(report["latency_us"] or {}).get("p99"),
             cpu=cpu_s, per_cpu=per_cpu, rss=rss_per_sub, clean=clean,
             lost=p["lost"], problems=report["problems"]))

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M{unit}"
    if v >= 1e4:
        return f"{v / 1e3:.1f}k{unit}"
    return f"{v:.0f}{unit}"

print()
print(f"{'scenario':<8} {'server':<22} {'runs':>4} {'deliveries/s':>13} {'p50':>10} {'p99':>10} "
      f"{'server cpu-s':>12} {'deliv/cpu-s':>12} {'RSS B/sub':>10}  checks")
for (scenario, server), rs in rows.items():
    p50 = med([r["p50"] for r in rs])
    p99 = med([r["p99"] for r in rs])
    cpu = med([r["cpu"] for r in rs])
    checks = "all clean" if all(r["clean"] for r in rs) else "; ".join(
        f"run {i + 1}: " + ", ".join(r["problems"]) for i, r in enumerate(rs) if not r["clean"])
    print(f"{scenario:<8} {server:<22} {len(rs):>4} {fmt(med([r['dps'] for r in rs])):>13} "
          f"{'n/a' if p50 is None else f'{p50 / 1000:.2f} ms':>10} "
          f"{'n/a' if p99 is None else f'{p99 / 1000:.2f} ms':>10} "
          f"{'n/a' if cpu is None else f'{cpu:.2f}':>12} {fmt(med([r['per_cpu'] for r in rs])):>12} "
          f"{fmt(med([r['rss'] for r in rs])):>10}  {checks}")
print(f"(medians of interleaved runs; every run's files in {runs_file.rsplit('/', 1)[0]})")
EOF
