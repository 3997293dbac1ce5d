#!/usr/bin/env bash
# Fixed rate with the final build (flush budget, credit 4,096): 25/50/90 % of Redis's saturated rate from the budget sets.
cd /work/main
B=/work/bench/i22q
export VERIFY_EVERY=50 DURATION=4s
idx=0
for case in fanout-1000 fanout-10000 rooms; do
  case $case in
    fanout-1000) dir=budget-1000; sc=fanout; subs=1000 ;;
    fanout-10000) dir=budget-10000; sc=fanout; subs=10000 ;;
    rooms) dir=rooms-final; sc=rooms; subs=10000 ;;
  esac
  redis_rate=$(python3 -c "
import json,glob,statistics
print(statistics.median(json.load(open(f))['pubsub']['publishes_per_sec'] for f in glob.glob('$B/$dir/$sc-redis-*.json')))")
  echo "== fixed rate $case: redis saturated at $redis_rate publishes/s $(cat /proc/loadavg)"
  for pct in 25 50 90; do
    idx=$((idx + 1))
    rate=$(python3 -c "print(round($redis_rate * $pct / 100, 1))")
    echo "-- $pct % = $rate publishes/s"
    RATE=$rate RUNS=3 SCENARIOS=$sc FANOUT_SUBSCRIBERS=$subs PORT=$((6600 + idx * 10)) \
      SERVERS="esockets redis" OUT=$B/rate2-$case-$pct benches/pubsub-vs-redis.sh 2>&1 | tail -5
  done
done
echo "== done $(cat /proc/loadavg)"
