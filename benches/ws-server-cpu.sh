#!/usr/bin/env bash
# Server CPU (user + system, from /proc/PID/stat) per echoed message:
# esockets --protocol ws-echo against tokio-tungstenite-echo with a 4 KiB
# and with its default (128 KiB) read buffer; 64 B binary messages, closed
# loop, loadgen --ws, 3 interleaved runs of 5 s (no warm-up, so the CPU
# and the messages cover the same span; 1,000 handshakes are noise).
# System time includes the kernel's loopback TCP work for the server.
# Usage: cargo build --profile dist --workspace && CONNS=1000 benches/ws-server-cpu.sh
set -euo pipefail
bin=${BIN:-target/dist}
conns=${CONNS:-1000}
out=${OUT:-$(mktemp -d /tmp/ws-server-cpu.XXXXXX)}
ticks_per_s=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for run in 1 2 3; do
    for who in esockets-ws tokio-tungstenite-4k tokio-tungstenite; do
        port=$((1700 + run * 10 + ${#who} % 10))
        case $who in
        esockets-ws) "$bin/esockets" --protocol ws-echo --bind "127.0.0.1:$port" --threads 2 2>/dev/null & ;;
        tokio-tungstenite-4k) "$bin/tokio-tungstenite-echo" --bind "127.0.0.1:$port" --threads 2 --read-buffer-size 4096 >/dev/null 2>&1 & ;;
        tokio-tungstenite) "$bin/tokio-tungstenite-echo" --bind "127.0.0.1:$port" --threads 2 >/dev/null 2>&1 & ;;
        esac
        pid=$!
        for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
        "$bin/loadgen" --ws --addr "127.0.0.1:$port" -c "$conns" --size 64 --warmup 0s \
            --duration 5s --json "$out/$who-$run.json" >/dev/null 2>&1
        ticks=$(cpu_ticks "$pid")
        kill "$pid"; wait "$pid" 2>/dev/null || true
        python3 - "$out/$who-$run.json" "$ticks" "$ticks_per_s" "$who" "$run" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
ticks, per_s, who, run = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
messages = report["messages"]
print(f"run {run} {who:22} {report['messages_per_sec']:>9.0f} msgs/s  "
      f"server cpu {ticks / per_s:5.2f} s  {ticks / per_s * 1e6 / messages:6.2f} us/msg")
PY
    done
done
echo "(reports in $out)"
