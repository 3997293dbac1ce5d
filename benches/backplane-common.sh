# Shared by benches/backplane-link.sh and benches/backplane-fanout.sh
# (sourced, not run): start a backplane (one Redis, a 3-master Redis
# Cluster, one NATS server or a 3-server NATS cluster) on fresh loopback
# ports, 3 esockets processes on it, sample their CPU, run loadgen over
# the three, read each process's counters from /metrics, stop everything
# by PID.
#
# Expects: bin, out, port (the next free port to use), server_threads,
# loadgen settings in the caller's variables.

wait_listening() { # port
    for _ in $(seq 200); do # up to 20 s
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# Samples "epoch-seconds utime+stime(ticks)" of a PID every 100 ms until
# it exits or the sampler is killed.
sample_cpu() { # pid file
    while [[ -r /proc/$1/stat ]]; do
        local stat
        stat=$(cut -d' ' -f14,15 "/proc/$1/stat" 2>/dev/null) || break
        read -r user sys <<<"$stat"
        echo "$(date +%s.%N) $((user + sys))"
        sleep 0.1
    done >"$2"
}

# GET /metrics of the endpoint at 127.0.0.1:$1 into $2.
scrape() { # port file
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    cat <&3 >"$2"
    exec 3<&-
}

# Starts backplane $1; sets backplane_pids, backplane_ports and url
# (esockets' --backplane for process i is url_for[i]).
start_backplane() { # kind
    backplane_pids=()
    backplane_ports=()
    url_for=()
    local kind=$1 dir="$out/backplane-$port"
    mkdir -p "$dir"
    case $kind in
    redis | redis-topics)
        local p=$port
        port=$((port + 1))
        redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
            --maxclients 30000 >"$dir/redis.log" 2>&1 &
        backplane_pids+=($!)
        backplane_ports+=("$p")
        wait_listening "$p"
        url_for=("redis://127.0.0.1:$p" "redis://127.0.0.1:$p" "redis://127.0.0.1:$p")
        ;;
    cluster)
        local nodes=()
        for _ in 1 2 3; do
            local p=$port
            port=$((port + 1))
            (cd "$dir" && exec redis-server --port "$p" --bind 127.0.0.1 --save '' \
                --appendonly no --cluster-enabled yes --cluster-config-file "nodes-$p.conf" \
                --maxclients 30000 >"redis-$p.log" 2>&1) &
            backplane_pids+=($!)
            backplane_ports+=("$p")
            nodes+=("127.0.0.1:$p")
        done
        for p in "${backplane_ports[@]}"; do wait_listening "$p"; done
        redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
            >"$dir/create.log" 2>&1
        for p in "${backplane_ports[@]}"; do
            for _ in $(seq 200); do
                redis-cli -p "$p" cluster info 2>/dev/null | grep -q cluster_state:ok && break
                sleep 0.1
            done
        done
        local seeds
        seeds=$(
            IFS=,
            echo "${nodes[*]}"
        )
        url_for=("redis-cluster://$seeds" "redis-cluster://$seeds" "redis-cluster://$seeds")
        ;;
    nats)
        local p=$port
        port=$((port + 1))
        nats-server -a 127.0.0.1 -p "$p" >"$dir/nats.log" 2>&1 &
        backplane_pids+=($!)
        backplane_ports+=("$p")
        wait_listening "$p"
        url_for=("nats://127.0.0.1:$p" "nats://127.0.0.1:$p" "nats://127.0.0.1:$p")
        ;;
    nats3)
        local routes=() clients=()
        for _ in 1 2 3; do
            routes+=("$port")
            clients+=($((port + 1)))
            port=$((port + 2))
        done
        for i in 0 1 2; do
            local others=()
            for j in 0 1 2; do
                [[ $j == "$i" ]] || others+=("nats://127.0.0.1:${routes[$j]}")
            done
            local list
            list=$(
                IFS=,
                echo "${others[*]}"
            )
            nats-server -a 127.0.0.1 -p "${clients[$i]}" -n "n$i" --cluster_name bench \
                --cluster "nats://127.0.0.1:${routes[$i]}" --routes "$list" \
                >"$dir/nats-$i.log" 2>&1 &
            backplane_pids+=($!)
            backplane_ports+=("${clients[$i]}")
        done
        for p in "${clients[@]}"; do wait_listening "$p"; done
        sleep 1 # the routes: nats-server says nothing on its own
        url_for=("nats://127.0.0.1:${clients[0]}" "nats://127.0.0.1:${clients[1]}"
            "nats://127.0.0.1:${clients[2]}")
        ;;
    *)
        echo "unknown backplane $kind" >&2
        exit 1
        ;;
    esac
}

# Starts 3 esockets on the backplane; sets esockets_pids, esockets_addrs
# and metrics_ports. $1: the backplane kind (redis-topics subscribes per
# topic).
start_processes() { # kind
    esockets_pids=()
    esockets_addrs=()
    metrics_ports=()
    local extra=()
    [[ $1 == redis-topics ]] && extra=(--backplane-subscribe topics)
    [[ $1 == redis ]] && extra=(--backplane-subscribe pattern)
    for i in 0 1 2; do
        local p=$port m=$((port + 1))
        port=$((port + 2))
        "$bin/esockets" --protocol pubsub --threads "$server_threads" --bind "127.0.0.1:$p" \
            --metrics "127.0.0.1:$m" --backplane "${url_for[$i]}" "${extra[@]}" \
            >"$out/$name.esockets-$i.log" 2>&1 &
        esockets_pids+=($!)
        esockets_addrs+=("127.0.0.1:$p")
        metrics_ports+=("$m")
    done
    for p in "${metrics_ports[@]}"; do wait_listening "$p"; done
    for a in "${esockets_addrs[@]}"; do wait_listening "${a#*:}"; done
    # Each process's backplane connections are up (its start-up lines).
    for i in 0 1 2; do
        for _ in $(seq 200); do
            grep -q "backplane: listening to" "$out/$name.esockets-$i.log" && break
            sleep 0.1
        done
    done
}

# Runs loadgen with the scenario's arguments ($@) over the 3 processes,
# sampling CPU and scraping /metrics at the end; stops everything.
run_load() { # loadgen arguments...
    local samplers=() all=("${esockets_pids[@]}" "${backplane_pids[@]}") i=0
    for pid in "${all[@]}"; do
        sample_cpu "$pid" "$out/$name.cpu-$i" &
        samplers+=($!)
        i=$((i + 1))
    done
    [[ ${backplane_kind:-} == redis* ]] &&
        redis-cli -p "${backplane_ports[0]}" info stats >"$out/$name.redis-before" 2>/dev/null
    local addrs
    addrs=$(
        IFS=,
        echo "${esockets_addrs[*]}"
    )
    "$bin/loadgen" --mode pubsub --addr "$addrs" "$@" --size "$size" --duration "$duration" \
        --warmup "$warmup" --threads "$loadgen_threads" --quiet \
        --json "$out/$name.json" >"$out/$name.txt" 2>&1 || true
    [[ ${backplane_kind:-} == redis* ]] &&
        redis-cli -p "${backplane_ports[0]}" info stats >"$out/$name.redis-after" 2>/dev/null
    for i in 0 1 2; do scrape "${metrics_ports[$i]}" "$out/$name.metrics-$i" || true; done
    for s in "${samplers[@]}"; do kill "$s" 2>/dev/null || true; done
    for s in "${samplers[@]}"; do wait "$s" 2>/dev/null || true; done
    for pid in "${esockets_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${esockets_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for pid in "${backplane_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${backplane_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    grep -E '^(deliveries|result|FAILED)' "$out/$name.txt" | sed "s/^/  $name: /" || true
}
