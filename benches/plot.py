#!/usr/bin/env python3
"""Draw one benchmark's per-round figures as an SVG plot (Python standard library only).

    benches/plot.py ROUNDS_TSV OUT_SVG TITLE

ROUNDS_TSV has one line per measured round of one server, tab-separated:

    CASE  SERIES  ROLE  ROUND  VALUE  UNIT

CASE is the comparison the line belongs to (one panel of the plot, e.g. "curl get
blksize 1468"), SERIES the server or pipeline ("ours", "tftpd-hpa", "put-nc"), ROLE
"ours" or "baseline", ROUND the round number (1, 2, ...), VALUE the throughput in that
round (higher is better) and UNIT its unit ("MB/s", "round trips/s"). Lines that start
with "#" are skipped. The bench scripts write these files when ROUNDS_TSV is set in
their environment (benches/run sets it; benches/README.md, "Plots").

The plot has one panel per CASE, in the order the cases first appear: x = round, y =
throughput from 0 (so the gap between two lines reads as their ratio), one line per
series: ours solid, baselines dashed. A file that is missing, empty or malformed, a
value that is not a positive number, or a case without both an "ours" and a
"baseline" series is an error: exit 1 with the reason on stderr and no SVG written,
never a plot that silently lacks a side.
"""
import math
import os
import sys
from xml.sax.saxutils import escape

# Ours in blues and greens, baselines in warm colours and grey: the roles stay apart
# even without the dash pattern.
OURS_COLOURS = ["#1f5fbf", "#2a9d4b", "#6a3fb5", "#0b8a8a"]
BASE_COLOURS = ["#d9541e", "#b8860b", "#7a7a7a", "#c2185b"]
MARKERS = ["circle", "square", "diamond", "triangle"]

PANEL_W, PLOT_H = 340, 180          # one panel's plot area
LEFT, RIGHT, TOP = 62, 16, 34       # margins of the plot area inside a panel
LEGEND_ROW = 16
GAP = 14


def fail(msg: str) -> None:
    print(f"plot.py: {msg}", file=sys.stderr)
    sys.exit(1)


def read(path: str):
    """{case: {"unit": u, "series": {name: (role, {round: value})}}}, cases in file order."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    cases = {}
    for no, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 6:
            fail(f"{path}:{no}: want 6 tab-separated fields (case series role round value unit), got {len(cells)}: {line!r}")
        case, series, role, rnd, value, unit = (c.strip() for c in cells)
        if role not in ("ours", "baseline"):
            fail(f"{path}:{no}: role must be ours or baseline, not {role!r}")
        try:
            rnd_n, v = int(rnd), float(value)
        except ValueError:
            fail(f"{path}:{no}: round {rnd!r} or value {value!r} is not a number")
        if not (math.isfinite(v) and v > 0) or rnd_n < 1:
            fail(f"{path}:{no}: {series} round {rnd}: value {value} (a throughput must be a positive number, rounds count from 1)")
        c = cases.setdefault(case, {"unit": unit, "series": {}})
        if c["unit"] != unit:
            fail(f"{path}:{no}: case {case!r} mixes units {c['unit']!r} and {unit!r}")
        r, pts = c["series"].setdefault(series, (role, {}))
        if r != role:
            fail(f"{path}:{no}: series {series!r} is both {r} and {role}")
        if rnd_n in pts:
            fail(f"{path}:{no}: {case} / {series}: round {rnd_n} twice")
        pts[rnd_n] = v
    if not cases:
        fail(f"{path}: no rounds recorded")
    for case, c in cases.items():
        roles = {role for role, _ in c["series"].values()}
        if roles != {"ours", "baseline"}:
            fail(f"{path}: case {case!r} has no {'baseline' if 'ours' in roles else 'ours'} series")
    return cases


def nice_step(top: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about 4-6 ticks up to top."""
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
    if kind == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    if kind == "diamond":
        return f'<path d="M{x:.1f},{y - 4.5:.1f} L{x + 4.5:.1f},{y:.1f} L{x:.1f},{y + 4.5:.1f} L{x - 4.5:.1f},{y:.1f} Z" fill="{colour}"/>'
    return f'<path d="M{x:.1f},{y - 4.5:.1f} L{x + 4.5:.1f},{y + 3.5:.1f} L{x - 4.5:.1f},{y + 3.5:.1f} Z" fill="{colour}"/>'


def panel(case: str, c: dict, x0: float, y0: float) -> list:
    """SVG elements of one panel whose top-left corner is (x0, y0)."""
    out = []
    # Ours first, then the baselines, each in the order they came.
    series = dict(sorted(c["series"].items(), key=lambda kv: kv[1][0] != "ours"))
    rounds = sorted({r for _, pts in series.values() for r in pts})
    top = max(v for _, pts in series.values() for v in pts.values())
    step = nice_step(top * 1.08)
    ymax = step * math.ceil(top * 1.08 / step)
    px, py = x0 + LEFT, y0 + TOP
    lo, hi = rounds[0], rounds[-1]
    # One round sits in the middle; more spread over the width with half a slot of margin.
    span = max(hi - lo, 1)
    pad = 0.5 if hi > lo else 1.0
    sx = lambda r: px + (r - lo + pad) / (span + 2 * pad) * PANEL_W
    sy = lambda v: py + PLOT_H - v / ymax * PLOT_H

    out.append(f'<text x="{x0 + LEFT + PANEL_W / 2:.1f}" y="{y0 + 20:.1f}" text-anchor="middle" '
               f'font-size="13" font-weight="bold">{escape(case)}</text>')
    out.append(f'<rect x="{px}" y="{py}" width="{PANEL_W}" height="{PLOT_H}" fill="none" stroke="#999"/>')
    v = 0.0
    while v <= ymax + step / 2:
        y = sy(v)
        out.append(f'<line x1="{px}" y1="{y:.1f}" x2="{px + PANEL_W}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{px - 5}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{fmt(v)}</text>')
        v += step
    for r in rounds:
        out.append(f'<text x="{sx(r):.1f}" y="{py + PLOT_H + 15}" text-anchor="middle" font-size="11">{r}</text>')
    out.append(f'<text x="{px + PANEL_W / 2:.1f}" y="{py + PLOT_H + 30}" text-anchor="middle" font-size="11">round</text>')
    out.append(f'<text transform="translate({x0 + 14},{py + PLOT_H / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle" font-size="11">{escape(c["unit"])}</text>')

    ours_i = base_i = 0
    legend = []
    for i, (name, (role, pts)) in enumerate(series.items()):
        if role == "ours":
            colour, dash = OURS_COLOURS[ours_i % len(OURS_COLOURS)], ""
            ours_i += 1
        else:
            colour, dash = BASE_COLOURS[base_i % len(BASE_COLOURS)], ' stroke-dasharray="6,4"'
            base_i += 1
        kind = MARKERS[i % len(MARKERS)]
        # Each series a few pixels to the side of the round, so that equal values
        # (one round, or a tie) still show every marker.
        dodge = (i - (len(series) - 1) / 2) * 7
        xy = [(sx(r) + dodge, sy(pts[r])) for r in sorted(pts)]
        if len(xy) > 1:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            out.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for (x, y), r in zip(xy, sorted(pts)):
            out.append(f'<g>{marker(kind, x, y, colour)}<title>{escape(name)}, round {r}: '
                       f'{pts[r]:.6g} {escape(c["unit"])}</title></g>')
        legend.append((name, role, colour, dash, kind))
    ly = py + PLOT_H + 48
    for name, role, colour, dash, kind in legend:
        out.append(f'<line x1="{px}" y1="{ly - 4}" x2="{px + 26}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(marker(kind, px + 13, ly - 4, colour))
        out.append(f'<text x="{px + 34}" y="{ly}" font-size="11">{escape(name)} ({role})</text>')
        ly += LEGEND_ROW
    return out


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    tsv, svg, title = sys.argv[1:]
    cases = read(tsv)
    cols = 1 if len(cases) == 1 else 2 if len(cases) in (2, 4) else 3
    rows = math.ceil(len(cases) / cols)
    legend_rows = max(len(c["series"]) for c in cases.values())
    pw = LEFT + PANEL_W + RIGHT
    ph = TOP + PLOT_H + 40 + legend_rows * LEGEND_ROW + GAP
    # Wide enough for the title too (about 10 px a character at 16 px bold).
    width, height = max(cols * pw + 2 * GAP, 10 * len(title) + 40), 56 + rows * ph
    body = []
    for i, (case, c) in enumerate(cases.items()):
        body += panel(case, c, (width - cols * pw) / 2 + (i % cols) * pw, 44 + (i // cols) * ph)
    rounds = max(len(pts) for c in cases.values() for _, pts in c["series"].values())
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:.1f}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{escape(title)}</text>',
        f'<text x="{width / 2:.1f}" y="40" text-anchor="middle" font-size="11" fill="#555">'
        f'throughput per round ({rounds} round{"s" if rounds != 1 else ""}; higher is better); '
        f'ours solid, baselines dashed</text>',
    ]
    # Written whole and then renamed: a failure leaves no half-written plot behind.
    tmp = svg + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(head + body + ["</svg>"]) + "\n")
    os.replace(tmp, svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
