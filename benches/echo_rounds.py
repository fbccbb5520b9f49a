#!/usr/bin/env python3
"""Turn echo-bench's table into benches/plot.py's per-round TSV.

    benches/echo_rounds.py ECHO_OUTPUT > echo.tsv

echo-bench (src/bin/echo-bench.rs) prints every round's round trips/s of both servers
in the "runs" column of its table; this writes them as plot.py's lines (case, series,
role, round, value, unit). Exit 1 when either server's rounds are missing.
"""
import re
import sys


def main() -> int:
    text = open(sys.argv[1], encoding="utf-8").read()
    m = re.search(r"\((\d+) clients, (\d+) B payload", text)
    case = f"UDP echo, {m.group(1)} clients, {m.group(2)} B" if m else "UDP echo"
    found = set()
    for series, role in (("switchyard + echo plugin", "ours"), ("tokio UDP echo", "baseline")):
        for line in text.splitlines():
            runs = re.search(r"\[([0-9, ]+)\]", line) if line.startswith(f"| {series}") else None
            for n, v in enumerate(runs.group(1).split(",") if runs else [], 1):
                print(f"{case}\t{series}\t{role}\t{n}\t{v.strip()}\tround trips/s")
                found.add(role)
    missing = {"ours", "baseline"} - found
    if missing:
        print(f"echo_rounds.py: no per-round rates of {' and '.join(sorted(missing))} in {sys.argv[1]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
