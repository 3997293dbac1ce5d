"""The table of benches/backplane-fanout.sh (and backplane-link.sh) from
its runs file: medians per scenario and backplane. Run again on a
finished run's directory: python3 benches/backplane-report.py OUT/runs.txt
"""
import json, os, statistics, sys

runs_file, ticks = sys.argv[1], float(os.sysconf("SC_CLK_TCK"))

def cpu(path):
    lines = [l.split() for l in open(path) if l.strip()]
    return (float(lines[-1][1]) - float(lines[0][1])) / ticks if len(lines) >= 2 else None

def series(path, name):
    for line in open(path):
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None

def info(path, key):
    for line in open(path):
        if line.startswith(key + ":"):
            return int(line.split(":")[1])
    return None

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def fmt(v):
    if v is None:
        return "n/a"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"

def num(v):
    return "n/a" if v is None else f"{v:.2f}"

rows = {}
for line in open(runs_file):
    scenario, kind, n, prefix, procs, servers = line.split()
    try:
        report = json.load(open(prefix + ".json"))
    except (OSError, ValueError):
        print(f"{scenario} {kind} run {n}: no report (see {prefix}.txt)")
        continue
    p = report["pubsub"]
    received = [series(f"{prefix}.metrics-{i}", "esockets_backplane_received_total") for i in range(3)]
    bytes_out = None
    try:
        bytes_out = (info(prefix + ".redis-after", "total_net_output_bytes")
                     - info(prefix + ".redis-before", "total_net_output_bytes")) / 3
    except (OSError, TypeError):
        pass
    esockets_cpu = sum(cpu(f"{prefix}.cpu-{i}") or 0 for i in range(int(procs)))
    backplane_cpu = sum(cpu(f"{prefix}.cpu-{i}") or 0
                        for i in range(int(procs), int(procs) + int(servers)))
    clean = not report["problems"] and p["lost"] == p["duplicated"] == p["out_of_order"] == 0
    rows.setdefault((scenario, kind), []).append(dict(
        dps=p["deliveries_per_sec"], pps=p["publishes_per_sec"],
        p99=(report["latency_us"] or {}).get("p99"),
        received=(sum(received) / len(received) / p["published"]
                  if None not in received and p["published"] else None),
        bytes=bytes_out / p["published"] if bytes_out else None,
        ecpu=esockets_cpu / p["delivered"] * 1e6 if p["delivered"] else None,
        bcpu=backplane_cpu / p["published"] * 1e6 if p["published"] else None, clean=clean,
        problems=report["problems"] + [f"lost {p['lost']}", f"dup {p['duplicated']}",
                                       f"ooo {p['out_of_order']}"]))

print()
print(f"{'scenario':<10} {'backplane':<13} {'runs':>4} {'deliveries/s':>12} {'publishes/s':>11} "
      f"{'p99':>10} {'recv/pub/proc':>13} {'link B/pub/proc':>15} {'esockets us/deliv':>17} "
      f"{'backplane us/pub':>16}  checks")
for (scenario, kind), rs in rows.items():
    p99 = med([r["p99"] for r in rs])
    checks = "all clean" if all(r["clean"] for r in rs) else "; ".join(
        f"run {i + 1}: " + ", ".join(r["problems"]) for i, r in enumerate(rs) if not r["clean"])
    print(f"{scenario:<10} {kind:<13} {len(rs):>4} {fmt(med([r['dps'] for r in rs])):>12} "
          f"{fmt(med([r['pps'] for r in rs])):>11} "
          f"{'n/a' if p99 is None else f'{p99 / 1000:.1f} ms':>10} "
          f"{num(med([r['received'] for r in rs])):>13} {num(med([r['bytes'] for r in rs])):>15} "
          f"{num(med([r['ecpu'] for r in rs])):>17} {num(med([r['bcpu'] for r in rs])):>16}  {checks}")
print(f"(medians of interleaved runs; every run's files in {runs_file.rsplit('/', 1)[0]})")
