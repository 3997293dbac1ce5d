#!/usr/bin/env bash
# perf profile of the server during the 1,000-subscriber saturated fan-out (issue 22), esockets and redis.
cd /work/main
B=/work/bench/i22q/profile
mkdir -p $B
for server in esockets redis; do
  if [ $server = esockets ]; then
    target/dist/esockets --protocol pubsub --threads 2 --bind 127.0.0.1:6500 > /dev/null 2>&1 & proto=pubsub
  else
    redis-server --port 6500 --bind 127.0.0.1 --save '' --appendonly no --maxclients 30000 > /dev/null 2>&1 & proto=redis
  fi
  pid=$!
  for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/6500) 2>/dev/null && break; sleep 0.1; done
  target/dist/loadgen --mode pubsub --protocol $proto --addr 127.0.0.1:6500 --subscribers 1000 --topics 1 --publishers 1 \
    --pipeline 64 --size 64 --duration 6s --warmup 2s --threads 2 --verify-every 50 --quiet > $B/$server.loadgen.txt 2>&1 &
  lg=$!
  sleep 3
  perf record -F 999 -g -p $pid -o $B/$server.perf.data -- sleep 4 > /dev/null 2>&1
  wait $lg
  kill -TERM $pid; wait $pid
  perf report -i $B/$server.perf.data --no-children --sort sym --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -25 > $B/$server.top.txt
  perf report -i $B/$server.perf.data --no-children --sort dso --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -8 > $B/$server.dso.txt
  echo "== $server"; grep "^deliveries" $B/$server.loadgen.txt; cat $B/$server.dso.txt; head -15 $B/$server.top.txt
  sleep 1
done
