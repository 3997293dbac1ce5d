"""Per-round throughput ratios of contender A over contender B in one
benches/pingpong-profile.sh output file (a round: one run of each
contender, back to back), and their median.

Usage: python3 per_round.py FILE A B
"""
import re
import statistics as st
import sys

path, a, b = sys.argv[1:4]
runs = []
for line in open(path):
    m = re.match(r"(\S+)\s+msgs/s=\s*(\d+)", line)
    if m:
        runs.append((m[1], int(m[2])))
names = []
for name, _ in runs:
    if name in names:
        break
    names.append(name)
k = len(names)
rounds = [dict(runs[i:i + k]) for i in range(0, len(runs), k) if len(runs[i:i + k]) == k]
ratios = [r[a] / r[b] for r in rounds]
print(f"{a} / {b}: median {st.median(ratios):.2f}; per round {', '.join(f'{x:.2f}' for x in ratios)}")
