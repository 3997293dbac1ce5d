#!/usr/bin/env bash
# Cross-process fan-out through a backplane (issue 23): 3 esockets
# processes on one backplane, subscribers spread over them, publishers on
# all, driven by one loadgen (--mode pubsub over the three addresses,
# connection g to process g mod 3), every delivery verified (lost,
# duplicated, out of order). Backplanes, interleaved run by run (each run
# starts everything fresh on fresh ports and stops it by PID):
#   redis         one redis-server, PSUBSCRIBE esockets:* (the default)
#   redis-topics  one redis-server, --backplane-subscribe topics
#   cluster       a 3-master Redis Cluster (no replicas), SPUBLISH/SSUBSCRIBE
#   nats          one nats-server
#   nats3         a 3-server NATS cluster, process i on server i
# Scenarios (1,000 topics, 30 publishers, 64 B, closed loop of $WINDOW):
#   everywhere  3,000 subscribers: every topic has one on each process
#               (each publish crosses to the two others)
#   spread      1,000 subscribers: each topic lives on one process, never
#               the publisher's (each publish crosses to one other)
# Per run: deliveries/s and p99 (loadgen), publishes/s (deliveries/s over
# subscribers per topic), what each process received from the backplane
# (esockets_backplane_received_total, medians over the 3), with one Redis
# its bytes sent to clients (INFO total_net_output_bytes) per process,
# and CPU seconds over loadgen's whole run: the 3 esockets, and the
# backplane's servers. Prints medians; every file stays in $OUT.
#
# Usage:
#   cargo build --profile dist --workspace && benches/backplane-fanout.sh
# Settings (environment): BIN (target/dist), RUNS (3), DURATION (5s),
# WARMUP (2s), SERVER_THREADS (1 per process), LOADGEN_THREADS (2),
# SIZE (64), WINDOW (8), BACKPLANES ("redis cluster nats"),
# SCENARIOS ("everywhere"), PORT (2400), OUT.
# The link traffic of pattern against per-topic subscription is
# benches/backplane-link.sh (this script with other defaults).
set -euo pipefail
here=$(dirname "$0")
bin=${BIN:-target/dist}
runs=${RUNS:-3}
duration=${DURATION:-5s}
warmup=${WARMUP:-2s}
server_threads=${SERVER_THREADS:-1}
loadgen_threads=${LOADGEN_THREADS:-2}
size=${SIZE:-64}
window=${WINDOW:-8}
backplanes=${BACKPLANES:-redis cluster nats}
scenarios=${SCENARIOS:-everywhere}
port=${PORT:-2400}
out=${OUT:-$(mktemp -d /tmp/backplane-fanout.XXXXXX)}
mkdir -p "$out"
for program in "$bin/esockets" "$bin/loadgen"; do
    [[ -x $program ]] || {
        echo "$program is missing: cargo build --profile dist --workspace" >&2
        exit 1
    }
done
for program in redis-server redis-cli nats-server; do
    command -v "$program" >/dev/null || {
        echo "$program is not installed: run scripts/components.sh" >&2
        exit 1
    }
done
# shellcheck source=benches/backplane-common.sh
source "$here/backplane-common.sh"

scenario_args() { # scenario
    case $1 in
    everywhere) echo "--topics 1000 --subscribers 3000 --publishers 30" ;;
    spread) echo "--topics 1000 --subscribers 1000 --publishers 30" ;;
    *)
        echo "unknown scenario $1" >&2
        exit 1
        ;;
    esac
}

: >"$out/runs.txt"
for n in $(seq "$runs"); do
    for scenario in $scenarios; do
        for backplane_kind in $backplanes; do
            name="$scenario-$backplane_kind-$n"
            start_backplane "$backplane_kind"
            start_processes "$backplane_kind"
            read -r -a load <<<"$(scenario_args "$scenario")"
            run_load "${load[@]}" --pipeline "$window"
            echo "$scenario $backplane_kind $n $out/$name ${#esockets_pids[@]} ${#backplane_pids[@]}" \
                >>"$out/runs.txt"
        done
    done
done

python3 - "$out/runs.txt" "$(getconf CLK_TCK)" <<'PY'
import json, statistics, sys

runs_file, ticks = sys.argv[1], float(sys.argv[2])

def cpu(path):
    lines = [l.split() for l in open(path) if l.strip()]
    return (float(lines[-1][1]) - float(lines[0][1])) / ticks if len(lines) >= 2 else None

def series(path, name):
    for line in open(path):
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None

def info(path, key):
    for line in open(path):
        if line.startswith(key + ":"):
            return int(line.split(":")[1])
    return None

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def fmt(v):
    if v is None:
        return "n/a"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"

rows = {}
for line in open(runs_file):
    scenario, kind, n, prefix, procs, servers = line.split()
    try:
        report = json.load(open(prefix + ".json"))
    except (OSError, ValueError):
        print(f"{scenario} {kind} run {n}: no report (see {prefix}.txt)")
        continue
    p = report["pubsub"]
    per_topic = 3 if scenario == "everywhere" else 1
    received = [series(f"{prefix}.metrics-{i}", "esockets_backplane_received_total") for i in range(3)]
    bytes_out = None
    try:
        bytes_out = (info(prefix + ".redis-after", "total_net_output_bytes")
                     - info(prefix + ".redis-before", "total_net_output_bytes")) / 3
    except (OSError, TypeError):
        pass
    esockets_cpu = sum(cpu(f"{prefix}.cpu-{i}") or 0 for i in range(int(procs)))
    backplane_cpu = sum(cpu(f"{prefix}.cpu-{i}") or 0
                        for i in range(int(procs), int(procs) + int(servers)))
    clean = not report["problems"] and p["lost"] == p["duplicated"] == p["out_of_order"] == 0
    rows.setdefault((scenario, kind), []).append(dict(
        dps=p["deliveries_per_sec"], pps=p["deliveries_per_sec"] / per_topic,
        p99=(report["latency_us"] or {}).get("p99"), received=med(received),
        bytes=bytes_out, ecpu=esockets_cpu, bcpu=backplane_cpu, clean=clean,
        problems=report["problems"] + [f"lost {p['lost']}", f"dup {p['duplicated']}",
                                       f"ooo {p['out_of_order']}"]))

print()
print(f"{'scenario':<10} {'backplane':<13} {'runs':>4} {'deliveries/s':>12} {'publishes/s':>11} "
      f"{'p99':>10} {'recv/proc':>10} {'link B/proc':>11} {'esockets cpu-s':>14} "
      f"{'backplane cpu-s':>15}  checks")
for (scenario, kind), rs in rows.items():
    p99 = med([r["p99"] for r in rs])
    checks = "all clean" if all(r["clean"] for r in rs) else "; ".join(
        f"run {i + 1}: " + ", ".join(r["problems"]) for i, r in enumerate(rs) if not r["clean"])
    print(f"{scenario:<10} {kind:<13} {len(rs):>4} {fmt(med([r['dps'] for r in rs])):>12} "
          f"{fmt(med([r['pps'] for r in rs])):>11} "
          f"{'n/a' if p99 is None else f'{p99 / 1000:.1f} ms':>10} "
          f"{fmt(med([r['received'] for r in rs])):>10} {fmt(med([r['bytes'] for r in rs])):>11} "
          f"{med([r['ecpu'] for r in rs]) or 0:>14.2f} {med([r['bcpu'] for r in rs]) or 0:>15.2f}  {checks}")
print(f"(medians of interleaved runs; every run's files in {runs_file.rsplit('/', 1)[0]})")
PY
