#!/usr/bin/env bash
cd /work/main
B=/work/bench/i22q
export VERIFY_EVERY=50 DURATION=4s WINDOW=64 BEFORE_BIN=/tmp/before2/target/dist
for subs in 1000 10000; do
  echo "== budget saturated $subs $(cat /proc/loadavg)"
  RUNS=5 SCENARIOS=fanout FANOUT_SUBSCRIBERS=$subs PORT=$((4500 + subs / 1000 * 40)) \
    SERVERS="esockets-before esockets redis" OUT=$B/budget-$subs benches/pubsub-vs-redis.sh 2>&1 | tail -6
done
echo "== rooms, new default $(cat /proc/loadavg)"
RUNS=3 SCENARIOS=rooms PORT=5000 SERVERS="esockets esockets-credit-0 redis" OUT=$B/rooms-final benches/pubsub-vs-redis.sh 2>&1 | tail -6
echo "== round durations with the budget, 10000 subscribers $(cat /proc/loadavg)"
for build in /tmp/before2/target/dist target/dist; do
target=$build/esockets
$target --protocol pubsub --threads 2 --bind 127.0.0.1:5990 --metrics 127.0.0.1:5991 > /dev/null 2>&1 &
pid=$!
for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/5990) 2>/dev/null && break; sleep 0.1; done
target/dist/loadgen --mode pubsub --protocol pubsub --addr 127.0.0.1:5990 --subscribers 10000 --topics 1 --publishers 1 \
  --pipeline 64 --size 64 --duration 4s --warmup 2s --threads 2 --verify-every 50 --quiet > $B/rounds-$(basename $(dirname $(dirname $build))).loadgen.txt 2>&1
curl -s 127.0.0.1:5991/metrics > $B/rounds-$(basename $(dirname $(dirname $build))).metrics.txt
kill -TERM $pid; wait $pid
echo "-- $target"; grep -E "^deliveries|^latency" -A1 $B/rounds-$(basename $(dirname $(dirname $build))).loadgen.txt
grep -E "round_duration_seconds_(bucket|sum|count)|carried" $B/rounds-$(basename $(dirname $(dirname $build))).metrics.txt | grep -E 'le="(0.001|0.005|0.01|0.025|0.05|0.1|0.25|\+Inf)"|sum|count|carried'
sleep 1
done
echo "== done $(cat /proc/loadavg)"
