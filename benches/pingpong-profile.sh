#!/usr/bin/env bash
# Where a ping-pong server spends and waits its time, contender by contender:
# the 10,000-connection investigation of docs/benchmarks.md.
#
# Each run starts one server fresh, drives it with loadgen (64 B ping-pong,
# CONNECTIONS clients, 2 loadgen threads), and once every client is connected
# and warmed up, samples for WINDOW seconds:
#   - the server's CPU time (user, system) and each of its threads' time on
#     a core and time runnable but waiting for one (/proc/PID/task/*/schedstat);
#   - wake-ups: the server threads' voluntary context switches (each one a
#     sleep in epoll_wait and a wake-up after it) and involuntary ones (the
#     scheduler took the core) per message, and the machine's rescheduling
#     IPIs (RES in /proc/interrupts: a wake-up sent to another core) per
#     message;
#   - with TRACE=1 (perf tracepoints; they slow the run, so throughput is then
#     not comparable), the server's system calls per message: reads, writes,
#     epoll_wait calls (so events served per wait) and reads that found nothing
#     (EAGAIN); and of the wake-ups of server threads (sched_wakeup), the
#     share raised on another CPU than the one the thread runs on (on
#     loopback the waker is the softirq of the client's write: a cross-core
#     wake-up is a ping-pong whose two ends run on different cores).
# Contenders alternate run by run. One line per run; quote medians.
# Placement: SERVER_CPUS and CLIENT_CPUS (taskset -c lists; default: all
# CPUs for both), SERVER_THREADS (default 2). HLOG_DIR: keep each run's
# HdrHistogram interval log there (NAME-RUN.hlog) for `loadgen plot`.
# LOADGEN_PIN=1: loadgen's worker i runs pinned to core i (`--pin`).
# Usage: cargo build --profile dist --workspace && benches/pingpong-profile.sh
#        RUNS=5 CONTENDERS="esockets esockets-unpinned tokio epoll" benches/pingpong-profile.sh
#        SERVER_CPUS=0 CLIENT_CPUS=1 benches/pingpong-profile.sh
set -euo pipefail
bin=${BIN:-target/dist}
runs=${RUNS:-3}
connections=${CONNECTIONS:-10000}
window=${WINDOW:-3}
trace=${TRACE:-0}
contenders=${CONTENDERS:-esockets esockets-unpinned esockets-least-loaded tokio epoll}
port=${PORT:-1270}
all_cpus=0-$(($(nproc --all) - 1))
server_cpus=${SERVER_CPUS:-$all_cpus}
client_cpus=${CLIENT_CPUS:-$all_cpus}
threads=${SERVER_THREADS:-2}
hlog_dir=${HLOG_DIR:-}
pin=()
[ "${LOADGEN_PIN:-0}" = 1 ] && pin=(--pin)

server_command() { # name -> the command line
    case $1 in
    esockets) echo "$bin/esockets --threads $threads --stall-threshold off" ;;
    esockets-unpinned) echo "$bin/esockets --threads $threads --stall-threshold off --no-pin" ;;
    esockets-least-loaded) echo "$bin/esockets --threads $threads --stall-threshold off --balance least-loaded" ;;
    esockets-cpu) echo "$bin/esockets --threads $threads --stall-threshold off --balance cpu" ;;
    esockets-reuseport) echo "$bin/esockets --threads $threads --stall-threshold off --balance reuseport" ;;
    tokio) echo "$bin/tokio-echo --threads $threads" ;;
    epoll) echo "$bin/epoll-echo --threads $threads" ;;
    *) echo "unknown contender $1" >&2 && exit 2 ;;
    esac
}

wait_until() { # tenths of a second, condition...
    local tenths=$1
    shift
    for _ in $(seq "$tenths"); do
        "$@" && return 0
        sleep 0.1
    done
    echo "gave up waiting for: $*" >&2
    return 1
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
holds_clients() { [ "$(ls "/proc/$1/fd" | wc -l)" -ge "$connections" ]; }
cpu_ticks() { awk '{print $14 + $15, $14, $15}' "/proc/$1/stat"; }
# Sum over the server's threads: nanoseconds on a core, nanoseconds runnable
# but waiting for a core.
sched() { cat /proc/"$1"/task/*/schedstat | awk '{run += $1; wait += $2} END {printf "%.0f %.0f\n", run, wait}'; }
# Sum over the server's threads: voluntary and involuntary context switches;
# then the machine's rescheduling IPIs, all CPUs.
switches() {
    cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {printf "%d %d ", v, n}'
    awk '$1 == "RES:" {s = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; print s}' /proc/interrupts
}
# Of sched_wakeup events recorded in perf data $1, those of the threads of
# process $2: "total cross-cpu".
cross_wakeups() {
    local tids
    tids=$(ls /proc/"$2"/task | tr '\n' ' ')
    perf script -i "$1" -F cpu,trace 2>/dev/null | awk -v tids="$tids" '
        BEGIN { n = split(tids, t, " "); for (i = 1; i <= n; i++) ours[t[i]] = 1 }
        { cpu = $1; gsub(/[^0-9]/, "", cpu); pid = ""; target = ""
          for (i = 2; i <= NF; i++) { if ($i ~ /^pid=/) pid = substr($i, 5); if ($i ~ /^target_cpu=/) target = substr($i, 12) }
          if (pid in ours) { total++; if (cpu + 0 != target + 0) cross++ } }
        END { printf "%d %d\n", total, cross }'
}

run() { # name, run number
    local name=$1 json hlog=()
    json=$(mktemp)
    [ -n "$hlog_dir" ] && hlog=(--hdr-log "$hlog_dir/$name-$2.hlog")
    # shellcheck disable=SC2046 # the command line is split on purpose
    taskset -c "$server_cpus" $(server_command "$name") --bind "127.0.0.1:$port" >/dev/null 2>&1 &
    local server=$!
    wait_until 100 listening "$port"
    taskset -c "$client_cpus" "$bin/loadgen" --addr "127.0.0.1:$port" -c "$connections" --threads 2 \
        --size 64 --warmup 1s --duration $((window + 4))s --json "$json" "${hlog[@]}" "${pin[@]}" >/dev/null 2>&1 &
    local loadgen=$!
    wait_until 300 holds_clients "$server"
    sleep 2 # loadgen's warm-up, plus a margin: a fixed offset into its run, not a synchronisation
    local cpu0 sched0 cpu1 sched1 sw0 sw1 traced="" wakeups="" perf_data=""
    read -r -a cpu0 < <(cpu_ticks "$server")
    read -r -a sched0 < <(sched "$server")
    read -r -a sw0 < <(switches "$server")
    if [ "$trace" = 1 ]; then
        perf_data=$(mktemp)
        perf record -q -a -e sched:sched_wakeup -o "$perf_data" -- sleep "$window" >/dev/null 2>&1 &
        local recorder=$!
        traced=$(perf stat -x, -p "$server" -e 'syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_writev' \
            -e 'syscalls:sys_exit_read,syscalls:sys_exit_recvfrom' --filter 'ret < 0' \
            -- sleep "$window" 2>&1 >/dev/null | awk -F, 'NF > 2 {split($3, e, ":"); printf "%s=%s ", e[2], $1}')
        wait "$recorder" || true
    else
        sleep "$window"
    fi
    read -r -a cpu1 < <(cpu_ticks "$server")
    read -r -a sched1 < <(sched "$server")
    read -r -a sw1 < <(switches "$server")
    if [ -n "$perf_data" ]; then
        wakeups=$(cross_wakeups "$perf_data" "$server")
        rm -f "$perf_data"
    fi
    wait "$loadgen" || true
    kill -TERM "$server"
    wait "$server" || true
    python3 - "$name" "$json" "$window" "${cpu0[*]}" "${cpu1[*]}" "${sched0[*]}" "${sched1[*]}" "$traced" "${sw0[*]}" "${sw1[*]}" "$wakeups" <<'PY'
import json, sys
name, path, window = sys.argv[1], sys.argv[2], float(sys.argv[3])
c0, c1 = [list(map(int, a.split())) for a in sys.argv[4:6]]
s0, s1 = [list(map(int, a.split())) for a in sys.argv[6:8]]
w0, w1 = [list(map(int, a.split())) for a in sys.argv[9:11]]
report = json.load(open(path))
rate = report["messages_per_sec"]
line = (f"{name:22s} msgs/s={rate:7.0f} p99_ms={report['latency_us']['p99'] / 1000:6.1f} "
        f"server_cpu_us_per_msg={(c1[0] - c0[0]) / 100 / window / rate * 1e6 if rate else float('nan'):5.2f} "
        f"(sys {(c1[2] - c0[2]) / (c1[0] - c0[0] or 1):.0%}) "
        f"on_core={(s1[0] - s0[0]) / 1e9 / window:.2f} waiting_for_core={(s1[1] - s0[1]) / 1e9 / window:.2f} "
        f"loadgen_cpu_us_per_msg={(report['cpu'] or {}).get('us_per_message') or float('nan'):5.2f} errors={report['errors']['total']}")
messages = rate * window or 1
line += (f" sleeps_per_msg={(w1[0] - w0[0]) / messages:.4f} preempted_per_msg={(w1[1] - w0[1]) / messages:.4f}"
         f" res_ipis_per_msg={(w1[2] - w0[2]) / messages:.4f}")
if sys.argv[11]:
    total, cross = map(int, sys.argv[11].split())
    line += f" | wakeups_of_server_threads={total} cross_cpu={cross / (total or 1):.2f}"
counts = dict(kv.split("=") for kv in sys.argv[8].split())
if counts:
    counts = {k: int(v) for k, v in counts.items() if v.isdigit()}
    reads = counts.get("sys_enter_read", 0) + counts.get("sys_enter_recvfrom", 0)
    waits = counts.get("sys_enter_epoll_wait", 0) + counts.get("sys_enter_epoll_pwait", 0)
    writes = sum(counts.get(k, 0) for k in ("sys_enter_write", "sys_enter_sendto", "sys_enter_writev"))
    empty = counts.get("sys_exit_read", 0) + counts.get("sys_exit_recvfrom", 0)
    line += (f" | traced: reads={reads} writes={writes} epoll_waits={waits} "
             f"reads_per_wait={reads / (waits or 1):.0f} empty_reads_per_read={empty / (reads or 1):.3f}")
print(line, flush=True)
PY
    rm -f "$json"
    port=$((port + 1)) # a fresh port: no TIME_WAIT from the last run
}

[ -n "$hlog_dir" ] && mkdir -p "$hlog_dir"
for i in $(seq "$runs"); do
    for name in $contenders; do
        run "$name" "$i"
    done
done
