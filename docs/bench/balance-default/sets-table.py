"""The per-set table of docs/benchmarks.md (2026-12-07) from setN-runs.csv:
medians of the runs, throughput ratios as medians of per-round ratios, p99
ratio of the medians. Usage: python3 sets-table.py (in this directory)."""
import csv, statistics as st

CONTENDERS = ['esockets', 'esockets-reuseport', 'tokio', 'epoll']
for workload in ['pingpong64-1000', 'pingpong64-10000']:
    print(f'\n{workload}')
    for n in (1, 2, 3, 4, 5):
        rows = [r for r in csv.DictReader(open(f'set{n}-runs.csv')) if r['workload'] == workload]
        by = {c: sorted([r for r in rows if r['contender'] == c], key=lambda r: int(r['run'])) for c in CONTENDERS}
        med = lambda c, k: st.median(float(r[k]) for r in by[c])
        cells = [f"{med(c, 'msgs_per_sec') / 1000:.1f}k, p99 {med(c, 'p99_us') / 1000:.0f} ms" for c in CONTENDERS]
        def ratio(c):
            rs = [float(a['msgs_per_sec']) / float(b['msgs_per_sec']) for a, b in zip(by['esockets'], by[c])]
            return f"{st.median(rs):.2f}x ({', '.join(f'{x:.2f}' for x in rs)})"
        p99 = med('esockets', 'p99_us') / med('tokio', 'p99_us')
        print(f"| {n} | " + ' | '.join(cells) + f" | {ratio('tokio')} | {ratio('epoll')} | {p99:.2f}x |")
