"""The per-set tables of docs/benchmarks.md (2026-12-08, issue 26, quiet
machine) from setN.json (bench-e2e --out): medians of the runs,
throughput ratios as medians of the per-round ratios, p99 ratio of the
medians. Usage: python3 sets-table.py (in this directory)."""
import json, statistics as st

CONTENDERS = ['esockets', 'esockets-reuseport', 'tokio', 'epoll']
SETS = (1, 2, 3)
for workload in ['pingpong64-1000', 'pingpong64-10000']:
    print(f'\n{workload}')
    for n in SETS:
        rows = [r for r in json.load(open(f'set{n}.json'))['results'] if r['workload'] == workload]
        by = {c: [r['metrics'] for r in rows if r['contender'] == c] for c in CONTENDERS}
        med = lambda c, k: st.median(m[k] for m in by[c])
        cells = [f"{med(c, 'msgs_per_sec') / 1000:.1f}k, p99 {med(c, 'p99_us') / 1000:.1f} ms" for c in CONTENDERS]
        def ratio(c):
            rs = [a['msgs_per_sec'] / b['msgs_per_sec'] for a, b in zip(by['esockets'], by[c])]
            return f"{st.median(rs):.2f}x ({', '.join(f'{x:.2f}' for x in rs)})"
        p99 = med('esockets', 'p99_us') / med('tokio', 'p99_us')
        print(f"| {n} | " + ' | '.join(cells) + f" | {ratio('tokio')} | {ratio('epoll')} | {ratio('esockets-reuseport')} | {p99:.2f}x |")
