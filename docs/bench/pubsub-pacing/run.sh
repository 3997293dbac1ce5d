#!/usr/bin/env bash
# Issue 22 measured set (2026-12-08): saturated, rooms, fixed rate, round durations.
set -uo pipefail
cd /work/main
B=/work/bench/i22q
export VERIFY_EVERY=50 DURATION=4s WINDOW=64
for subs in 1000 10000; do
  echo "== saturated $subs $(cat /proc/loadavg)"
  RUNS=5 SCENARIOS=fanout FANOUT_SUBSCRIBERS=$subs PORT=$((3000 + subs / 1000 * 40)) \
    SERVERS="esockets esockets-credit-32 esockets-credit-64 esockets-ws redis" OUT=$B/sat-$subs \
    benches/pubsub-vs-redis.sh 2>&1 | tail -9
done
echo "== rooms $(cat /proc/loadavg)"
RUNS=3 SCENARIOS=rooms PORT=3600 SERVERS="esockets esockets-ws redis" OUT=$B/rooms \
  benches/pubsub-vs-redis.sh 2>&1 | tail -6
for subs in 1000 10000; do
  redis_rate=$(python3 -c "
import json,glob,statistics
print(statistics.median(json.load(open(f))['pubsub']['publishes_per_sec'] for f in glob.glob('$B/sat-$subs/fanout-redis-*.json')))")
  echo "== fixed rate $subs: redis saturated at $redis_rate publishes/s $(cat /proc/loadavg)"
  for pct in 25 50 90; do
    rate=$(python3 -c "print(round($redis_rate * $pct / 100, 1))")
    echo "-- $pct % = $rate publishes/s"
    RATE=$rate RUNS=3 SCENARIOS=fanout FANOUT_SUBSCRIBERS=$subs PORT=$((3700 + subs / 1000 * 40 + pct)) \
      SERVERS="esockets redis" OUT=$B/rate-$subs-$pct benches/pubsub-vs-redis.sh 2>&1 | tail -5
  done
done
echo "== round durations, 10000 subscribers, default credit $(cat /proc/loadavg)"
target/dist/esockets --protocol pubsub --threads 2 --bind 127.0.0.1:3990 --metrics 127.0.0.1:3991 > $B/rounds.server.log 2>&1 &
pid=$!
for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/3990) 2>/dev/null && break; sleep 0.1; done
target/dist/loadgen --mode pubsub --protocol pubsub --addr 127.0.0.1:3990 --subscribers 10000 --topics 1 --publishers 1 \
  --pipeline 64 --size 64 --duration 4s --warmup 2s --threads 2 --verify-every 50 --quiet > $B/rounds.loadgen.txt 2>&1
curl -s 127.0.0.1:3991/metrics > $B/rounds.metrics.txt
kill -TERM $pid; wait $pid
grep -E "round_duration|output_writes|pubsub_delivered" $B/rounds.metrics.txt | head -60
echo "== done $(cat /proc/loadavg)"
