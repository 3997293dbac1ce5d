#!/usr/bin/env bash
# Pub/sub recovery (issue 21): SUBSCRIBERS subscribers (10,000) of one
# topic all leave at once, stay away AWAY while one publisher goes on at
# RATE publishes/s (RATE x AWAY = 100 messages missed each by default),
# then all come back at once; loadgen --recover times each from its due
# return to having everything again. Side by side, interleaved run by run
# (each with its server started fresh on a fresh port):
#   history   esockets --history $HISTORY; subscribers come back with
#             SUB t SINCE offset epoch and must get every missed message
#             once, in order, before the live ones (else the run fails)
#   plain     esockets without history; subscribers come back with a
#             plain SUB t (what they missed is skipped): the time to
#             reconnect and resubscribe, the baseline
# Each run has the subscribers leave every EVERY, so a run of DURATION
# has floor((WARMUP + DURATION) / EVERY) rounds when each ends AWAY
# before the window does. Prints medians over the runs of the recovery
# time's p50, p99 and max (the max is the round's: the last of the
# 10,000 to be whole again), the messages recovered, server RSS growth
# per subscription (from before the load to its peak), and the checks.
# Every run's loadgen JSON and text stay in $OUT.
#
# Usage:
#   cargo build --profile dist -p esockets -p loadgen && benches/pubsub-recovery.sh
# Settings (environment): BIN (target/dist), RUNS (3), SUBSCRIBERS
# (10000), RATE (20), AWAY (5s), EVERY (12s), DURATION (30s), WARMUP
# (1s), HISTORY (1000), SERVER_THREADS (2), LOADGEN_THREADS (2), SIZE
# (64), VARIANTS ("history plain"), AUTH (unset; 1: tokens on both, HS256
# from a secret file), PORT (1500), OUT.
# A tiny smoke run: RUNS=1 SUBSCRIBERS=50 RATE=100 AWAY=300ms EVERY=1s \
#   DURATION=2s WARMUP=0s BIN=target/debug benches/pubsub-recovery.sh
set -euo pipefail
bin=${BIN:-target/dist}
runs=${RUNS:-3}
subscribers=${SUBSCRIBERS:-10000}
rate=${RATE:-20}
away=${AWAY:-5s}
every=${EVERY:-12s}
duration=${DURATION:-30s}
warmup=${WARMUP:-1s}
history=${HISTORY:-1000}
server_threads=${SERVER_THREADS:-2}
loadgen_threads=${LOADGEN_THREADS:-2}
size=${SIZE:-64}
variants=${VARIANTS:-history plain}
port=${PORT:-1500}
out=${OUT:-$(mktemp -d /tmp/pubsub-recovery.XXXXXX)}
mkdir -p "$out"
for program in "$bin/esockets" "$bin/loadgen"; do
    [[ -x $program ]] || {
        echo "$program is missing: cargo build --profile dist -p esockets -p loadgen" >&2
        exit 1
    }
done
auth_server=() auth_load=()
if [[ -n ${AUTH:-} ]]; then
    # A file, never the command line.
    head -c 48 /dev/urandom | base64 >"$out/jwt-secret"
    auth_server=(--auth-jwt-secret-file "$out/jwt-secret")
    auth_load=(--auth-jwt-secret-file "$out/jwt-secret")
fi

wait_listening() { # port
    for _ in $(seq 200); do # up to 20 s
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2
    return 1
}

# Samples "epoch-seconds rss(pages)" of a PID every 100 ms until it exits
# or the sampler is killed.
sample_rss() { # pid file
    while [[ -r /proc/$1/stat ]]; do
        local rss
        rss=$(cut -d' ' -f24 "/proc/$1/stat" 2>/dev/null) || break
        echo "$(date +%s.%N) $rss"
        sleep 0.1
    done >"$2"
}

run() { # variant run-number
    local variant=$1 n=$2 name="$1-$2"
    local -a server=("$bin/esockets" --protocol pubsub --threads "$server_threads"
        --bind "127.0.0.1:$port" "${auth_server[@]}")
    local mode=plain
    if [[ $variant == history ]]; then
        server+=(--history "$history")
        mode=since
    fi
    "${server[@]}" >"$out/$name.server.log" 2>&1 &
    local pid=$!
    wait_listening "$port"
    sample_rss "$pid" "$out/$name.rss" &
    local sampler=$!
    "$bin/loadgen" --mode pubsub --addr "127.0.0.1:$port" "${auth_load[@]}" \
        --subscribers "$subscribers" --topics 1 --publishers 1 --rate "$rate" \
        --size "$size" --duration "$duration" --warmup "$warmup" \
        --recover "$mode" --recover-together --recover-every "$every" --recover-away "$away" \
        --threads "$loadgen_threads" --quiet \
        --json "$out/$name.json" >"$out/$name.txt" 2>&1 || true
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    kill -TERM "$pid"
    wait "$pid" || true
    port=$((port + 1)) # a fresh port: no TIME_WAIT from the last run
    echo "$variant $n $out/$name" >>"$out/runs.txt"
    grep -E '^(recovery|result|FAILED)' "$out/$name.txt" | sed "s/^/  $name: /" || true
}

: >"$out/runs.txt"
for n in $(seq "$runs"); do
    for variant in $variants; do
        run "$variant" "$n"
    done
done

python3 - "$out/runs.txt" "$(getconf PAGESIZE)" <<'PY'
import json, statistics, sys

runs_file, page = sys.argv[1], int(sys.argv[2])
rows = {}
for line in open(runs_file):
    variant, n, prefix = line.split()
    try:
        report = json.load(open(prefix + ".json"))
    except (OSError, ValueError):
        print(f"{variant} run {n}: no report (see {prefix}.txt)")
        continue
    p = report["pubsub"]
    r = p["recovery"] or {}
    t = r.get("recovery_us") or {}
    samples = [[float(x) for x in l.split()] for l in open(prefix + ".rss") if l.strip()]
    rss = None
    if len(samples) >= 2 and p["subscriptions"]:
        rss = (max(s[1] for s in samples) - samples[0][1]) * page / p["subscriptions"]
    rows.setdefault(variant, []).append(dict(
        p50=t.get("p50"), p99=t.get("p99"), max=t.get("max"), leaves=r.get("leaves"),
        per_return=(r.get("recovered_messages", 0) / r["leaves"]) if r.get("leaves") else None,
        rss=rss, problems=report["problems"]))

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def ms(us):
    return "n/a" if us is None else f"{us / 1000:.1f} ms"

print()
print(f"{'variant':<8} {'runs':>4} {'returns':>8} {'missed/return':>13} {'p50':>10} {'p99':>10} "
      f"{'max':>10} {'RSS B/sub':>10}  checks")
for variant, rs in rows.items():
    checks = "all clean" if all(not r["problems"] for r in rs) else "; ".join(
        f"run {i + 1}: " + ", ".join(r["problems"]) for i, r in enumerate(rs) if r["problems"])
    per = med([r["per_return"] for r in rs])
    rss = med([r["rss"] for r in rs])
    print(f"{variant:<8} {len(rs):>4} {med([r['leaves'] for r in rs]) or 0:>8.0f} "
          f"{'n/a' if per is None else f'{per:.0f}':>13} {ms(med([r['p50'] for r in rs])):>10} "
          f"{ms(med([r['p99'] for r in rs])):>10} {ms(med([r['max'] for r in rs])):>10} "
          f"{'n/a' if rss is None else f'{rss:.0f}':>10}  {checks}")
print(f"(medians of interleaved runs; every run's files in {runs_file.rsplit('/', 1)[0]})")
PY
