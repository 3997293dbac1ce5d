#!/usr/bin/env bash
# permessage-deflate, side by side (issue 24). Two parts:
#
# 1. Echo of 1 KiB messages at CONNS (1,000) connections, closed loop,
#    loadgen --ws [--ws-deflate] --size 1024 (every echo inflated and
#    verified), against: esockets ws-echo without compression, with
#    --ws-deflate (no context takeover, level 1), and Node's `ws` package
#    (benches/node-ws-echo: permessage-deflate at level 1 without context
#    takeover, as loadgen offers it, and off; ws answers 400 to that offer
#    when configured for takeover). Prints msgs/s, server CPU per message
#    (user + system from /proc/PID/stat) and bytes on the wire per message
#    (esockets: its own bytes_in/bytes_out summary; Node: /proc/PID/io
#    rchar/wchar, the bytes its read and write calls moved, nearly all
#    socket traffic).
# 2. Fan-out of 1 KiB publishes to SUBS (10,000) subscribers of one topic,
#    `esockets --protocol pubsub --websocket` with and without
#    --ws-deflate, loadgen --ws [--ws-deflate] --mode pubsub (every
#    delivery inflated and verified): deliveries/s, server CPU per
#    delivery, bytes out per delivery.
#
# The payload is loadgen's `--payload json` (PAYLOAD=letters for the
# old one): its self-identifying header, then a window into chat-like
# JSON records (loadgen/src/engine/corpus.rs), so deflate meets what it
# would meet in a chat or a feed; every byte is still verified.
#
# Every contender runs once per round, RUNS rounds (interleaved, each
# server fresh on a fresh port); the medians of each come last.
#
# Usage (a quiet machine; `ulimit -n` above SUBS + 100):
#   cargo build --profile dist --workspace && benches/ws-deflate.sh
#   CONNS=20 SUBS=50 DURATION=1s benches/ws-deflate.sh    # a check that it runs
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/dist}
conns=${CONNS:-1000}
payload=${PAYLOAD:-json}
subs=${SUBS:-10000}
duration=${DURATION:-10s}
runs=${RUNS:-3}
out=${OUT:-$(mktemp -d /tmp/ws-deflate.XXXXXX)}
ticks_per_s=$(getconf CLK_TCK)
(cd benches/node-ws-echo && [[ -d node_modules/ws ]] || npm install --no-audit --no-fund >/dev/null)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
io_bytes() { awk '/^rchar|^wchar/ {n += $2} END {print n}' "/proc/$1/io"; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing on port $1" >&2; exit 1; }
port=1800
report() { # NAME JSON TICKS WIRE_BYTES UNIT_FIELD
    python3 - "$@" "$ticks_per_s" <<'PY'
import json, sys
name, path, ticks, wire, unit, per_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(float(sys.argv[4])), sys.argv[5], int(sys.argv[6])
r = json.load(open(path))
if unit == "deliveries":
    count = r["pubsub"]["delivered"]
    rate = r["pubsub"].get("deliveries_per_sec") or count / r["duration_s"]
else:
    count, rate = r["messages"], r["messages_per_sec"]
errors = r["errors"]["total"]
print(f"{name:34} {rate:>10.0f} {unit}/s  server cpu {ticks / per_s * 1e6 / max(count, 1):6.2f} us  "
      f"wire {wire / max(count, 1):7.0f} B each  errors {errors}")
PY
}
rows=$out/rows.txt
: >"$rows"

for round in $(seq "$runs"); do

echo "== round $round: echo, 1 KiB, $conns connections, $duration (reports in $out)"
for who in esockets esockets-deflate node-ws node-ws-deflate; do
    port=$((port + 1))
    flags=()
    case $who in
    esockets) "$bin/esockets" --protocol ws-echo --bind "127.0.0.1:$port" --threads 2 2>"$out/$who.log" & ;;
    esockets-deflate) "$bin/esockets" --protocol ws-echo --bind "127.0.0.1:$port" --threads 2 --ws-deflate 2>"$out/$who.log" & flags=(--ws-deflate) ;;
    node-ws) node benches/node-ws-echo/server.js "$port" --plain >/dev/null & ;;
    node-ws-deflate) node benches/node-ws-echo/server.js "$port" --no-takeover >/dev/null & flags=(--ws-deflate) ;;
    esac
    pid=$!
    wait_port "$port"
    io_before=$(io_bytes "$pid")
    "$bin/loadgen" --ws "${flags[@]}" --addr "127.0.0.1:$port" -c "$conns" --size 1024 --payload "$payload" --warmup 0s \
        --duration "$duration" --json "$out/$who.json" >/dev/null 2>&1 || true
    ticks=$(cpu_ticks "$pid")
    io_after=$(io_bytes "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    if [[ $who == esockets* ]]; then
        wire=$(grep -o 'total accepted.*bytes_in=[0-9]* bytes_out=[0-9]*' "$out/$who.log" | awk -F'[= ]' '{print $(NF-2) + $NF}')
    else
        wire=$((io_after - io_before))
    fi
    report "$who" "$out/$who.json" "$ticks" "${wire:-0}" messages | tee -a "$rows"
done

echo "== round $round: fan-out, 1 KiB to $subs subscribers of one topic, $duration"
for who in esockets esockets-deflate; do
    port=$((port + 1))
    flags=()
    [[ $who == esockets-deflate ]] && flags=(--ws-deflate)
    "$bin/esockets" --protocol pubsub --websocket --bind "127.0.0.1:$port" --threads 2 "${flags[@]}" 2>"$out/fanout-$who.log" &
    pid=$!
    wait_port "$port"
    "$bin/loadgen" --ws "${flags[@]}" --mode pubsub --addr "127.0.0.1:$port" --subscribers "$subs" \
        --publishers 1 --topics 1 --pipeline 8 --size 1024 --payload "$payload" --warmup 0s --duration "$duration" \
        --json "$out/fanout-$who.json" >/dev/null 2>&1 || true
    ticks=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    wire=$(grep -o 'total accepted.*bytes_out=[0-9]*' "$out/fanout-$who.log" | awk -F'=' '{print $NF}')
    report "fanout-$who" "$out/fanout-$who.json" "$ticks" "${wire:-0}" deliveries | tee -a "$rows"
done
done

echo "== medians of $runs rounds"
python3 - "$rows" <<'PY'
import re, statistics, sys
by = {}
for line in open(sys.argv[1]):
    name, rate, unit = line.split()[:3]
    cpu = float(re.search(r"server cpu +([0-9.]+)", line).group(1))
    wire = float(re.search(r"wire +([0-9.]+)", line).group(1))
    by.setdefault(name, []).append((float(rate), cpu, wire, unit))
for name, runs in by.items():
    print(f"{name:34} {statistics.median(r[0] for r in runs):>10.0f} {runs[0][3]}  "
          f"server cpu {statistics.median(r[1] for r in runs):6.2f} us  "
          f"wire {statistics.median(r[2] for r in runs):7.0f} B each  ({len(runs)} runs)")
PY
