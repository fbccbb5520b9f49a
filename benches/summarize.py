#!/usr/bin/env python3
"""Collect the ratios printed by each side-by-side benchmark into one Markdown table.

    benches/summarize.py DIR     # DIR holds echo.txt, chat.txt, chat-cluster.txt, tftp.txt, files.txt, bulk.txt,
                                 # files-gets.txt, tftp-storm.txt

Every benchmark prints its own detailed table (kept in BENCHMARKS.md below the
summary); this reads their ratio lines so that the summary has one row per comparison
with the goal the issues set, and whether this run met it. A ratio is always
ours / baseline as throughput (> 1 = we are faster), except the rows marked as a cost
(CPU or system calls, ours / the baseline's or N workers / 1: < 1 = we spend less).
Every goal a benchmark prints is kept, met or not: ">= X" is met at X or more, "<= X"
at X or less, "~ X" within 10% of X either way, each judged on the ratio as shown (two
decimals); a row without a goal says "-".
"""
import re
import sys
from pathlib import Path

# The TFTP download goal (issue 3): tftp.sh prints ratios, not goals.
TFTP_GET_GOAL = ">= 1.2"
# Issue 19: that speed at a server CPU per GiB no more than tftpd-hpa's, and >= 1.2x
# atftpd's (the one anchor with windowsize) where windowsize is asked.
TFTP_CPU_GOAL = "<= 1.0"
TFTP_WINDOW_GOAL = ">= 1.2"
# Issue 19: a window of 64 KiB blocks, more than the client's socket buffer holds, at
# no less than the same client's lock-step speed.
TFTP_BIG_WINDOW_GOAL = ">= 1.0"
# How close "~ X" must be.
NEAR = 0.10
# Issue 17's goals: small GETs against nginx at equal worker counts, the boot storm
# against tftpd-hpa, and what a second worker may cost and must bring.
GETS_RATE_GOAL = ">= 1.0"
GETS_CPU_GOAL = "<= 1.2"
STORM_RATE_GOAL = ">= 1.5"
MORE_WORKERS_CPU_GOAL = "<= 1.0"
# Only where the load generator had a core of its own (otherwise it takes the second
# worker's CPU, and the row has no goal).
MORE_WORKERS_RATE_GOAL = ">= 1.6"


def met(ratio, goal):
    """Whether `ratio` meets the goal text (">= X", "~ X"); None when there is no goal."""
    if ratio is None:
        return False if goal != "-" else None
    m = re.fullmatch(r"(>=|<=|~)\s*([0-9.]+)", goal.strip())
    if not m:
        return None
    want, ratio = float(m.group(2)), round(ratio, 2)
    if m.group(1) == ">=":
        return ratio >= want
    if m.group(1) == "<=":
        return ratio <= want
    return abs(ratio - want) <= NEAR * want


def rows(d: Path):
    text = lambda name: (d / f"{name}.txt").read_text() if (d / f"{name}.txt").exists() else ""

    m = re.search(r"ratio switchyard / tokio: ([0-9.]+)", text("echo"))
    if m:
        yield ("echo", "UDP echo round trips vs tokio", float(m.group(1)), "-")

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
                   f"{host:.1f} ns the host send alone (ratio = host / total)", host / full, "-")

    for line in text("chat").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[1].startswith("switchyard"):
            yield ("chat", f"fan-out to {cells[0]} members vs tokio", float(cells[6]), ">= 0.8")
    # Issue 22: the room split over two hosts >= 0.7x the same members on one host.
    for line in text("chat-cluster").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[1] == "two hosts on NATS":
            yield ("chat-cluster", f"fan-out to {cells[0]} members on two hosts vs one host "
                   f"(loss {cells[5]})", float(cells[6]), ">= 0.7")

    # name, ours, spin, hpa MB/s, ratio, spin ratio, hpa+sync MB/s, ratio, spin ratio.
    # Every ratio is kept: plain (no busy poll) and busy-poll, against tftpd-hpa and,
    # for uploads, against tftpd-hpa + sync.
    num = r"([0-9.]+|n/a|-)"
    for line in text("tftp").splitlines():
        m = re.match(r"(.+?)" + (r"\s+" + num) * 8 + r"$", line)
        if not m or line.startswith("cpu "):
            continue
        name = m.group(1).strip()
        put = " put " in f" {name} "
        pairs = [("", "tftpd-hpa", m.group(5)), (" (busy-poll)", "tftpd-hpa", m.group(6))]
        if put:
            pairs += [("", "tftpd-hpa + sync", m.group(8)), (" (busy-poll)", "tftpd-hpa + sync", m.group(9))]
        for tag, versus, value in pairs:
            if value == "-":
                continue
            ratio = None if value == "n/a" else float(value)
            yield ("tftp", f"{name}{tag} vs {versus}", ratio, "-" if put else TFTP_GET_GOAL)
    # "NAME window N" rows against the same client's lock-step row ("NAME"), ours and
    # busy-poll each against its own.
    speeds = {}
    for line in text("tftp").splitlines():
        m = re.match(r"(.+?)" + (r"\s+" + num) * 8 + r"$", line)
        if m and not line.startswith("cpu "):
            speeds[m.group(1).strip()] = (m.group(2), m.group(3))
    for name, (ours, spin) in speeds.items():
        w = re.match(r"(.+) window \d+$", name)
        if not w or w.group(1) not in speeds:
            continue
        base = speeds[w.group(1)]
        for tag, mine, lock in (("", ours, base[0]), (" (busy-poll)", spin, base[1])):
            try:
                ratio = float(mine) / float(lock)
            except (ValueError, ZeroDivisionError):
                ratio = None
            yield ("tftp", f"{name}{tag} vs lock-step ({w.group(1)})", ratio, TFTP_BIG_WINDOW_GOAL)
    # "ws NAME ours spin atftpd ratio spin-ratio": where windowsize is asked, against
    # atftpd ("-" when it was not measured).
    for line in text("tftp").splitlines():
        m = re.match(r"ws (.+?)" + (r"\s+" + num) * 5 + r"$", line)
        if not m:
            continue
        name = m.group(1).strip()
        put = " put " in f" {name} "
        for tag, value in (("", m.group(5)), (" (busy-poll)", m.group(6))):
            if value == "-":
                yield ("tftp", f"{name}{tag} vs atftpd (NOT MEASURED)", None, "-" if put else TFTP_WINDOW_GOAL)
                continue
            ratio = None if value == "n/a" else float(value)
            yield ("tftp", f"{name}{tag} vs atftpd", ratio, "-" if put else TFTP_WINDOW_GOAL)
    # What each server spends: "cpu NAME ours spin hpa atftpd (server) ours spin hpa
    # atftpd (client)", CPU seconds per GiB. Ratio = ours / tftpd-hpa's, plain and
    # busy-poll (a cost; the goal applies to downloads), and busy-poll / plain.
    cpu = r"\s+([0-9.]+|n/a|-)"
    for line in text("tftp").splitlines():
        m = re.match(r"cpu (.+?)" + cpu * 8 + r"$", line)
        if not m:
            continue
        name, ours, spin, hpa, atftpd = (m.group(k).strip() for k in range(1, 6))
        put = " put " in f" {name} "

        def per(a, b):
            return float(a) / float(b) if "n/a" not in (a, b) and "-" not in (a, b) and float(b) > 0 else None
        for tag, mine in (("", ours), (" (busy-poll)", spin)):
            yield ("tftp", f"{name}{tag}: server CPU s/GiB {mine} vs tftpd-hpa {hpa} (cost)",
                   per(mine, hpa), "-" if put else TFTP_CPU_GOAL)
        if atftpd != "-":
            yield ("tftp", f"{name}: server CPU s/GiB plain {ours}, busy-poll {spin} vs atftpd {atftpd} "
                   "(cost: ratio = busy-poll / atftpd)", per(spin, atftpd), "-")
        yield ("tftp", f"{name}: server CPU s/GiB busy-poll {spin}, plain {ours} "
               "(cost: ratio = busy-poll / plain)", per(spin, ours), "-")

    # "ratio OURS vs BASE R (goal G)" lines (benches/times.py), files and bulk alike.
    for bench in ("files", "bulk"):
        for line in text(bench).splitlines():
            m = re.match(r"\s*ratio (\S+)\s+vs (\S+)\s+([0-9.]+)\s+\(goal (.+)\)$", line)
            if m:
                yield (bench, f"{m.group(1)} vs {m.group(2)}", float(m.group(3)), m.group(4).strip())

    yield from gets_rows(text("files-gets"))
    yield from storm_rows(text("tftp-storm"))


def gets_rows(text):
    """files-gets.sh: its table (workers, conns, req/s ours nginx ratio, µs/req ours
    nginx ratio, syscalls/req ours nginx, load ours nginx) and its scale lines."""
    n = r"\s+([0-9.]+|n/a)"
    for line in text.splitlines():
        m = re.match(r"\s*(\d+)\s+(\d+)" + n * 10 + r"$", line)
        if m:
            w, c, o, g, ratio, ou, gu, cratio, os_, gs = m.groups()[:10]
            at = f"workers {w}, {c} conn{'s' if c != '1' else ''}"
            yield ("files-gets", f"{at}: requests/s vs nginx ({o} vs {g})", float(ratio), GETS_RATE_GOAL)
            yield ("files-gets", f"{at}: server CPU per request {ou} µs vs nginx {gu} µs (cost)",
                   float(cratio), GETS_CPU_GOAL)
            sys_ratio = float(os_) / float(gs) if "n/a" not in (os_, gs) and float(gs) > 0 else None
            yield ("files-gets", f"{at}: system calls per request {os_} vs nginx {gs} (cost)", sys_ratio, "-")
            continue
        m = re.match(r"scale\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)\s+(yes|no)$", line)
        if m:
            w, c, rate, cpu, pinned = m.groups()
            rate_goal = MORE_WORKERS_RATE_GOAL if pinned == "yes" else "-"
            note = "" if pinned == "yes" else " (load generator not pinned: no goal)"
            yield ("files-gets", f"{c} conns: requests/s, {w} workers / 1{note}", float(rate), rate_goal)
            yield ("files-gets", f"{c} conns: server CPU per request, {w} workers / 1 (cost)",
                   float(cpu), MORE_WORKERS_CPU_GOAL)


def storm_rows(text):
    """tftp-storm.sh: "storm CLIENTS workers-N MiB/s last first cpu/GiB retrans ratio
    cpu-ratio client-cpu/GiB client-%" and "scale CLIENTS N MiB/s-ratio cpu-ratio" lines."""
    for line in text.splitlines():
        m = re.match(r"storm\s+(\d+)\s+workers-(\d+)\s+([0-9.]+)(?:\s+\S+){4}\s+([0-9.]+)\s+(\S+)(?:\s+\S+){2}$",
                     line)
        if m:
            c, w, rate, ratio, cpu = m.groups()
            at = f"{c} downloads, {w} worker{'s' if w != '1' else ''}"
            yield ("tftp-storm", f"{at}: aggregate MiB/s vs tftpd-hpa", float(ratio), STORM_RATE_GOAL)
            yield ("tftp-storm", f"{at}: server CPU per GiB vs tftpd-hpa (cost)",
                   None if cpu == "n/a" else float(cpu), "-")
            continue
        m = re.match(r"scale\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+(\S+)$", line)
        if m:
            c, w, rate, cpu = m.groups()
            yield ("tftp-storm", f"{c} downloads: aggregate MiB/s, {w} workers / 1 (nothing pinned: no goal)",
                   float(rate), "-")
            yield ("tftp-storm", f"{c} downloads: server CPU per GiB, {w} workers / 1 (cost)",
                   None if cpu == "n/a" else float(cpu), MORE_WORKERS_CPU_GOAL)


def main() -> int:
    d = Path(sys.argv[1])
    print("| benchmark | comparison | ratio | goal | met |")
    print("|---|---|---|---|---|")
    for bench, case, ratio, goal in rows(d):
        ok = met(ratio, goal)
        met_text = "-" if ok is None else ("yes" if ok else "**no**")
        ratio_text = "n/a" if ratio is None else f"{ratio:.2f}"
        print(f"| {bench} | {case} | {ratio_text} | {goal} | {met_text} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
