"""Medians per contender of benches/pingpong-profile.sh output files.

Usage: python3 medians.py FILE...   (prints one markdown table row per contender)
"""
import re
import statistics as st
import sys

LINE = re.compile(
    r"(\S+)\s+msgs/s=\s*(\d+) p99_ms=\s*([\d.]+) server_cpu_us_per_msg=\s*([\d.]+) "
    r"\(sys (\d+)%\) on_core=([\d.]+) waiting_for_core=([\d.]+) loadgen_cpu_us_per_msg=\s*([\d.]+)"
)

rows = {}
for path in sys.argv[1:]:
    for line in open(path):
        m = LINE.match(line)
        if m:
            rows.setdefault(m[1], []).append([float(x) for x in m.groups()[1:]])
print("| contender | runs | msgs/s (range) | p99 | server CPU/msg (sys) | loadgen CPU/msg | on core / waiting |")
print("|---|---|---|---|---|---|---|")
for name, runs in rows.items():
    rate, p99, srv, sys_share, on, wait, lg = zip(*runs)
    print(
        f"| {name} | {len(runs)} | {st.median(rate) / 1000:.1f}k ({min(rate) / 1000:.1f}–{max(rate) / 1000:.1f}k) "
        f"| {st.median(p99):.1f} ms | {st.median(srv):.1f} µs ({st.median(sys_share):.0f} %) "
        f"| {st.median(lg):.1f} µs | {st.median(on):.2f} / {st.median(wait):.2f} |"
    )
