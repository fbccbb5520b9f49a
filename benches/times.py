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
"""
import statistics
import sys


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
