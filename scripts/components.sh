#!/usr/bin/env bash
# Installs the real components some tests start (each on its own free
# loopback port): redis-server and redis-cli (Debian's redis-tools, whose
# `redis-cli --cluster create` makes the Redis Cluster of
# tests/backplane_cluster.rs), nats-server (Debian's nats-server, in
# /usr/sbin, for tests/backplane_nats.rs), haproxy, promtool (Debian's prometheus),
# chromium, openssl (whose s_client the TLS tests drive and whose CLI
# makes their certificates), Python's websockets package, and kosoku
# (PyPI: a runner of the Autobahn WebSocket test cases for Python 3,
# tests/autobahn.rs); iproute2's `ip` and procps's `sysctl`, with which the restart tests make a network namespace; and
# `nc` (Debian's netcat-openbsd), which the README and docs use to talk to
# the server; and g++, with which libfuzzer-sys builds libFuzzer for
# scripts/fuzz; and openssl, with which the TLS benchmark scripts make
# their certificates. Only what is missing is installed; on a machine that has
# them all this does nothing. Installing needs root (apt-get, pip).
# Used by scripts/test (the README's test command) and so by .ci/run.
set -euo pipefail

missing_packages=()
need() { # need COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null 2>&1 || missing_packages+=("$2")
}
need redis-server redis-server
need redis-cli redis-tools
need nats-server nats-server
need haproxy haproxy
need promtool prometheus
need chromium chromium
need openssl openssl
need ip iproute2
need sysctl procps
need nc netcat-openbsd
need c++ g++
need openssl openssl

if ((${#missing_packages[@]})); then
    echo "components: installing ${missing_packages[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "components: need root to install ${missing_packages[*]} (apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null
    # The prometheus package starts its server as a service where it can;
    # the tests only need promtool.
    if command -v systemctl >/dev/null 2>&1; then
        systemctl stop prometheus prometheus-node-exporter redis-server haproxy >/dev/null 2>&1 || true
    fi
fi

if ! python3 -c 'import websockets' >/dev/null 2>&1; then
    echo "components: installing Python websockets" >&2
    python3 -m pip install -q websockets
fi

# The Python package's tests (tests/python.rs): pytest; maturin builds
# the package for `pip install ./python`.
if ! python3 -c 'import pytest' >/dev/null 2>&1; then
    echo "components: installing pytest" >&2
    python3 -m pip install -q pytest
fi
if ! python3 -m maturin --version >/dev/null 2>&1; then
    echo "components: installing maturin" >&2
    python3 -m pip install -q maturin
fi

if ! command -v kosoku >/dev/null 2>&1; then
    echo "components: installing kosoku (the Autobahn cases)" >&2
    python3 -m pip install -q kosoku
fi

for command in kosoku redis-server redis-cli nats-server haproxy promtool chromium ip sysctl nc c++ openssl; do
    command -v "$command" >/dev/null || { echo "components: $command still missing" >&2; exit 1; }
done
python3 -c 'import websockets' || { echo "components: Python websockets still missing" >&2; exit 1; }
python3 -c 'import pytest' || { echo "components: pytest still missing" >&2; exit 1; }
python3 -m maturin --version >/dev/null || { echo "components: maturin still missing" >&2; exit 1; }
