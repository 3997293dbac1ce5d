#!/usr/bin/env bash
# The traffic on each process's backplane link with one Redis (issue 23,
# item 2): PSUBSCRIBE esockets:* (redis, every process receives every
# publish) against SUBSCRIBE per topic held (redis-topics), for 1,000
# topics over 3 esockets processes: spread (each topic on one process)
# and everywhere (each topic on all three, the cost of many channels).
# benches/backplane-fanout.sh with these defaults; its settings apply.
#
# Usage:
#   cargo build --profile dist --workspace && benches/backplane-link.sh
set -euo pipefail
BACKPLANES=${BACKPLANES:-redis redis-topics} SCENARIOS=${SCENARIOS:-spread everywhere} \
    PORT=${PORT:-3400} exec "$(dirname "$0")/backplane-fanout.sh"
