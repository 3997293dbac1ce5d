#!/usr/bin/env bash
cd /work/main
export VERIFY_EVERY=50 DURATION=4s WINDOW=64
echo "== rooms credit $(cat /proc/loadavg)"
RUNS=3 SCENARIOS=rooms PORT=4100 SERVERS="esockets esockets-credit-0 esockets-credit-4096 redis" OUT=/work/bench/i22q/rooms-credit benches/pubsub-vs-redis.sh 2>&1 | tail -6
echo "== rooms one shard $(cat /proc/loadavg)"
RUNS=3 SCENARIOS=rooms PORT=4200 SERVER_THREADS=1 SERVERS="esockets" OUT=/work/bench/i22q/rooms-1shard benches/pubsub-vs-redis.sh 2>&1 | tail -3
echo "== done $(cat /proc/loadavg)"
