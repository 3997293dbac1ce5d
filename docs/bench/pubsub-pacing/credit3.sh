#!/usr/bin/env bash
cd /work/main
export VERIFY_EVERY=50 DURATION=4s WINDOW=64
echo "== rooms credits $(cat /proc/loadavg)"
RUNS=3 SCENARIOS=rooms PORT=4300 SERVERS="esockets-credit-0 esockets-credit-1024 esockets-credit-2048 esockets-credit-4096 redis" OUT=/work/bench/i22q/rooms-credit3 benches/pubsub-vs-redis.sh 2>&1 | tail -8
echo "== fanout 1000 credits $(cat /proc/loadavg)"
RUNS=3 SCENARIOS=fanout FANOUT_SUBSCRIBERS=1000 PORT=4400 SERVERS="esockets esockets-credit-0 esockets-credit-4096 redis" OUT=/work/bench/i22q/fanout-credit3 benches/pubsub-vs-redis.sh 2>&1 | tail -7
echo "== done $(cat /proc/loadavg)"
