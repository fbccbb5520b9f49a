#!/usr/bin/env python3
"""Print a benchmark's table of timed transfers and its ratios.

    benches/times.py RESULTS SIZE_MIB [OURS:BASE:GOAL ...]

RESULTS has one line per verified transfer, "KEY SECONDS CLIENT_CPU SERVER_CPU" (CPU in
seconds; "-" when a side is not a separate process). For every KEY it prints the median
time, the throughput, and the median CPU seconds per GiB moved for the client and the
server side, with the spread of the rounds' times. Then one line per OURS:BASE:GOAL,
"ratio OURS vs BASE R (goal GOAL)", R = median time of BASE / median time of OURS (so
> 1 means ours is faster); GOAL is the issue's acceptance figure as text (">= 0.9",
"~ 1.0") or "-". benches/summarize.py reads these lines.

With ROUNDS_TSV set in the environment, it also appends every round's throughput (MiB/s)
of the keys the ratios name to that file, the input of benches/plot.py: one panel per
group of keys that the ratios connect (e.g. get-ours, get-nc and get-socat), the keys on
the left of a ratio as "ours", the others as "baseline". Round n of a key is its n-th
line in RESULTS (the scripts run every step once per round, in order).
"""
import os
import statistics
import sys


def write_rounds(path, times, mib, specs):
    """Append the per-round throughput of every key in `specs` to `path` (plot.py's TSV)."""
    ours = {s.split(":")[0] for s in specs}
    groups = []  # lists of keys, in the order the specs name them; joined by any ratio
    for spec in specs:
        a, b, _ = spec.split(":")
        hit = [g for g in groups if a in g or b in g]
        merged = [k for g in hit for k in g]
        for k in (a, b):
            if k not in merged:
                merged.append(k)
        at = groups.index(hit[0]) if hit else len(groups)
        groups = [g for g in groups[:at] if g not in hit] + [merged] + [g for g in groups[at:] if g not in hit]
    with open(path, "a", encoding="utf-8") as f:
        for g in groups:
            mine = [k for k in g if k in ours]
            case = f"{', '.join(mine)} vs {', '.join(k for k in g if k not in ours)}"
            for k in g:
                for n, secs in enumerate(times[k], 1):
                    role = "ours" if k in ours else "baseline"
                    f.write(f"{case}\t{k}\t{role}\t{n}\t{mib / secs:.2f}\tMiB/s\n")


def main() -> int:
    results, mib = sys.argv[1], float(sys.argv[2])
    times, cpu = {}, {}
    for line in open(results):
        key, secs, client, server = line.split()
        times.setdefault(key, []).append(float(secs))
        for side, value in (("client", client), ("server", server)):
            if value != "-":
                cpu.setdefault((key, side), []).append(float(value))
    med = {k: statistics.median(v) for k, v in times.items()}
    gib = mib / 1024

    def per_gib(key, side):
        v = cpu.get((key, side))
        return f"{statistics.median(v) / gib:8.2f}" if v else f"{'-':>8}"

    print(f"   {'':<14} {'median':>8}   {'MiB/s':>8}   CPU s/GiB: {'client':>8} {'server':>8}   rounds")
    for k in sorted(med):
        lo, hi = min(times[k]), max(times[k])
        print(f"   {k:<14} {med[k]:8.3f} s {mib / med[k]:8.1f}              "
              f"{per_gib(k, 'client')} {per_gib(k, 'server')}   {lo:.3f}-{hi:.3f} s")
    for spec in sys.argv[3:]:
        ours, base, goal = spec.split(":")
        print(f"   ratio {ours:<12} vs {base:<8} {med[base] / med[ours]:5.2f}  (goal {goal})")
    if os.environ.get("ROUNDS_TSV"):
        write_rounds(os.environ["ROUNDS_TSV"], times, mib, sys.argv[3:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
