"""Medians of pingpong-profile.sh lines (docs/benchmarks.md, 2026-12-07). Usage: python3 profile-medians.py profile-10k.txt"""
import re, sys, statistics as st
rows = {}
for line in open(sys.argv[1] if len(sys.argv) > 1 else "profile-10k.txt"):
    name = line.split()[0]
    kv = dict(re.findall(r'([\w/]+)=\s*([0-9.]+)', line))
    sys_share = re.search(r'\(sys (\d+)%\)', line).group(1)
    kv['sys'] = sys_share
    rows.setdefault(name, []).append({k: float(v) for k, v in kv.items()})
keys = ['msgs/s', 'p99_ms', 'server_cpu_us_per_msg', 'sys', 'loadgen_cpu_us_per_msg', 'on_core', 'waiting_for_core', 'sleeps_per_msg', 'preempted_per_msg', 'res_ipis_per_msg']
print('| server | ' + ' | '.join(keys) + ' |')
for name, rs in rows.items():
    print(f'| {name} | ' + ' | '.join(f"{st.median([r[k] for r in rs]):.4g}" for k in keys) + ' |')
names = list(rows)
base = rows['esockets']
for other in names[1:]:
    rat = [a['msgs/s']/b['msgs/s'] for a, b in zip(base, rows[other])]
    print(other, [round(x,2) for x in rat], round(st.median(rat),2), 'p99 ratio of medians', round(st.median([r['p99_ms'] for r in base])/st.median([r['p99_ms'] for r in rows[other]]),2))
