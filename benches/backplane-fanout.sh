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
#   spread      1,000 subscribers: each topic's one subscriber is on one
#               process (a third of the publishes the publisher's own,
#               the rest cross to one other)
# Per run: deliveries/s, publishes/s and p99 (loadgen); per publish and
# per process, the other processes' publishes received from the
# backplane (esockets_backplane_received_total) and, with one Redis, the
# bytes it sent on each process's link (INFO total_net_output_bytes, a
# third each: the publishers' replies are a few bytes); CPU over
# loadgen's whole run, of the 3 esockets per delivery and of the
# backplane's servers per publish, in microseconds. Prints medians
# (benches/backplane-report.py); every file stays in $OUT.
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

python3 "$here/backplane-report.py" "$out/runs.txt"
