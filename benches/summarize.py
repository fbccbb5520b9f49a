#!/usr/bin/env python3
"""Collect the ratios printed by each side-by-side benchmark into one Markdown table.

    benches/summarize.py DIR     # DIR holds echo.txt, chat.txt, tftp.txt, files.txt, bulk.txt

Every benchmark prints its own detailed table (kept in BENCHMARKS.md below the
summary); this reads their ratio lines so that the summary has one row per comparison
with the goal the issues set, and whether this run met it. A ratio is always
ours / baseline as throughput (> 1 = we are faster).
"""
import re
import sys
from pathlib import Path

# (benchmark, case pattern) -> goal (minimum ratio) as the issues state it.
TFTP_GET_GOAL = 1.2


def rows(d: Path):
    text = lambda name: (d / f"{name}.txt").read_text() if (d / f"{name}.txt").exists() else ""

    m = re.search(r"ratio switchyard / tokio: ([0-9.]+)", text("echo"))
    if m:
        yield ("echo", "UDP echo round trips vs tokio", float(m.group(1)), None)

    # "boundary/plugin_echo_64B 20.1 ns": the FFI cost, reported as the share of an
    # event's time that is the host's own send (no goal: it is a cost, not a race).
    costs = {}
    for line in text("boundary").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("boundary/"):
            scale = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3}.get(parts[2], None)
            if scale is not None:
                costs[parts[0].split("/", 1)[1]] = float(parts[1]) * scale
    for size in ("64B", "1024B"):
        full, host = costs.get(f"plugin_echo_{size}"), costs.get(f"host_send_only_{size}")
        if full and host:
            yield ("boundary", f"echo event {size}: {full:.1f} ns through the plugin, "
                   f"{host:.1f} ns the host send alone (ratio = host / total)", host / full, None)

    for line in text("chat").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[1].startswith("switchyard"):
            yield ("chat", f"fan-out to {cells[0]} members vs tokio", float(cells[6]), 0.8)

    # name, ours, spin, hpa MB/s, ratio, spin ratio, hpa+sync MB/s, ratio, spin ratio
    num = r"([0-9.]+|n/a|-)"
    for line in text("tftp").splitlines():
        m = re.match(r"(.+?)" + (r"\s+" + num) * 8 + r"$", line)
        if not m:
            continue
        name = m.group(1).strip()
        if " put " in f" {name} ":
            pairs = [("", m.group(8)), (" (busy-poll)", m.group(9))]
            versus, goal = "tftpd-hpa + sync", None
        else:
            pairs = [("", m.group(5)), (" (busy-poll)", m.group(6))]
            versus, goal = "tftpd-hpa", TFTP_GET_GOAL
        for tag, value in pairs:
            if value not in ("-", "n/a"):
                yield ("tftp", f"{name}{tag} vs {versus}", float(value), goal)

    for line in text("files").splitlines():
        m = re.match(r"\s*ratio (.+?)\s+([0-9.]+)$", line)
        if m:
            yield ("files", m.group(1), float(m.group(2)), None)

    for line in text("bulk").splitlines():
        m = re.match(r"\s*ratio (\S+)\s+vs (\S+)\s+([0-9.]+)\s+\(goal (.+)\)$", line)
        if m:
            goal = re.search(r"([0-9.]+)", m.group(4))
            want = float(goal.group(1)) if goal and ">=" in m.group(4) else None
            yield ("bulk", f"{m.group(1)} vs {m.group(2)}", float(m.group(3)), want)


def main() -> int:
    d = Path(sys.argv[1])
    print("| benchmark | comparison | ratio | goal | met |")
    print("|---|---|---|---|---|")
    for bench, case, ratio, goal in rows(d):
        met = "-" if goal is None else ("yes" if ratio >= goal else "**no**")
        goal_text = "-" if goal is None else f">= {goal}"
        print(f"| {bench} | {case} | {ratio:.2f} | {goal_text} | {met} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
