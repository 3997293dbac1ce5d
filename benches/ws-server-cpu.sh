#!/usr/bin/env bash
# Server CPU (user + system, from /proc/PID/stat) per echoed message:
# esockets --protocol ws-echo against tokio-tungstenite-echo (4 KiB and
# default buffers), 64 B, closed loop, 3 interleaved runs of 5 s.
# Usage: cargo build --profile dist --workspace && CONNS=1000 benches/ws-server-cpu.sh
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
tck=$(getconf CLK_TCK)
for run in 1 2 3; do
for who in esockets tt4k tt; do
  port=$((1700+run*10+${#who}))
  case $who in
    esockets) target/dist/esockets --protocol ws-echo --bind 127.0.0.1:$port --threads 2 2>/dev/null & ;;
    tt4k) target/dist/tokio-tungstenite-echo --bind 127.0.0.1:$port --threads 2 --read-buffer-size 4096 2>/dev/null & ;;
    tt) target/dist/tokio-tungstenite-echo --bind 127.0.0.1:$port --threads 2 2>/dev/null & ;;
  esac
  pid=$!; sleep 0.5
  out=$(target/dist/loadgen --ws --addr 127.0.0.1:$port -c ${CONNS:-1000} --size 64 --warmup 0s --duration 5s --json /tmp/ws-$who.json 2>&1)
  # the whole run (warm-up included): messages from the json total
  c1=$(cpu $pid)
  msgs=$(python3 -c "import json;d=json.load(open('/tmp/ws-$who.json'));print(d.get('messages') or d['throughput']['messages'])" 2>/dev/null)
  echo "$run $who cpu_ticks=$c1 msgs_window=$msgs $(echo "$out" | grep throughput)"
  kill $pid; wait $pid 2>/dev/null
done; done
