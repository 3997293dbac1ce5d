#!/usr/bin/env bash
# 64 B ping-pong over TLS at 1k and 10k connections (issue 20): esockets
# TLS, esockets plaintext, tokio-rustls-echo and HAProxy terminating TLS in
# front of esockets plaintext. Runs are interleaved (every contender once
# per round, RUNS rounds), each server started fresh on a fresh port;
# prints one line per run, then the median msgs/s and p99 of each and its
# ratio to esockets TLS. Needs a quiet machine.
# Usage: cargo build --profile dist --workspace && benches/tls-pingpong.sh
#   RUNS=5 CONNECTIONS="1000 10000" DURATION=10s THREADS=2 (server threads)
#   CONTENDERS="esockets-tls esockets tokio-rustls tokio-rustls-ring haproxy"
# (tokio-rustls: aws-lc-rs, its default provider and esockets's;
# tokio-rustls-ring: the same on ring; esockets-tls-base: esockets TLS
# from the build in BASE=DIR, the baseline of a change, side by side)
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=tls-common.sh
source "$here/tls-common.sh"
bin=${BIN:-target/dist}
runs=${RUNS:-5}
sizes=${CONNECTIONS:-1000 10000}
duration=${DURATION:-10s}
threads=${THREADS:-2}
contenders=${CONTENDERS:-esockets-tls esockets tokio-rustls tokio-rustls-ring haproxy}
port=${PORT:-1300}
results=$TLS_DIR/results.tsv
if [[ " $contenders " == *" esockets-tls-base "* ]] && [[ ! -x ${BASE:-}/esockets ]]; then
    echo "esockets-tls-base needs BASE=DIR, a build holding esockets" >&2
    exit 2
fi
make_certs
: >"$results"

start() { # contender: starts its server on $port, sets $pid and $tls
    tls=1
    case $1 in
    esockets-tls) "$bin/esockets" --threads "$threads" --bind "127.0.0.1:$port" \
        --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem" 2>/dev/null & ;;
    esockets-tls-base) "$BASE/esockets" --threads "$threads" \
        --bind "127.0.0.1:$port" --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem" 2>/dev/null & ;;
    esockets) tls=0; "$bin/esockets" --threads "$threads" --bind "127.0.0.1:$port" 2>/dev/null & ;;
    tokio-rustls) "$bin/tokio-rustls-echo" --threads "$threads" --bind "127.0.0.1:$port" \
        --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem" >/dev/null 2>&1 & ;;
    tokio-rustls-ring) "$bin/tokio-rustls-echo" --threads "$threads" --bind "127.0.0.1:$port" \
        --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem" --provider ring >/dev/null 2>&1 & ;;
    haproxy) PORT=$port BACKEND_PORT=$((port + 1)) NBTHREAD=$threads THREADS=$threads \
        TLS_DIR=$TLS_DIR BIN=$bin "$here/haproxy-tls.sh" >/dev/null 2>&1 & ;;
    *) echo "unknown contender $1" >&2; exit 2 ;;
    esac
    pid=$!
    wait_listening "$port"
}

for round in $(seq "$runs"); do
    for n in $sizes; do
        for c in $contenders; do
            if [ "$c" = haproxy ] && [ "$n" -gt 9900 ]; then
                # Two descriptors per client: past the 20,000-file limit.
                echo "haproxy $n: skipped (HAProxy needs 2 descriptors per client; the limit is 20,000)" >&2
                continue
            fi
            start "$c"
            args=(--addr "localhost:$port" -c "$n" --size 64 --duration "$duration" --quiet
                --json "$TLS_DIR/run.json")
            ((tls)) && args+=(--tls --tls-ca "$TLS_DIR/ca.pem")
            # shellcheck disable=SC2086 # LOADGEN_ARGS is a list of words
            "$bin/loadgen" "${args[@]}" ${LOADGEN_ARGS:-} >/dev/null || echo "$c $n: loadgen failed" >&2
            kill -TERM "$pid"
            wait "$pid" || true
            python3 - "$TLS_DIR/run.json" "$c" "$n" "$round" >>"$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p99 = (r.get("latency_us") or {}).get("p99")
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{sys.argv[4]}\t{r['messages_per_sec']:.0f}\t{p99}\t{r['errors']['total']}")
PY
            tail -n 1 "$results"
            port=$((port + 2)) # fresh ports: no TIME_WAIT from the last run
        done
    done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines() if l]
by = {}
for c, n, _, rate, p99, _errors in rows:
    by.setdefault((int(n), c), []).append((float(rate), float(p99) if p99 != "None" else float("nan")))
print("\nconnections  contender          median msg/s   median p99 (us)   vs esockets-tls")
for n in sorted({k[0] for k in by}):
    base = by.get((n, "esockets-tls"))
    base_rate = statistics.median(r for r, _ in base) if base else None
    for (m, c), runs in sorted(by.items()):
        if m != n:
            continue
        rate = statistics.median(r for r, _ in runs)
        p99 = statistics.median(p for _, p in runs)
        ratio = f"{rate / base_rate:.2f}x" if base_rate else "-"
        print(f"{n:>11}  {c:<17} {rate:>13.0f}   {p99:>15.0f}   {ratio:>8}")
PY
echo "raw runs: $results"
