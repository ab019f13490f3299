#!/usr/bin/env python3
"""Latency against arrival rate, as an SVG line chart (standard library only).

    bench/plot_latency.py RESULTS.json OUT.svg

RESULTS.json: {"title": "...", "rows": [{"rate": 100, "confirmed": {"p50": ..,
"p99": .., "p999": ..}, "terminal": {...}}, ...]}. The y axis is logarithmic
(milliseconds), so that a 20 ms goal and a backlog of seconds fit one chart.
"""
import json
import math
import sys
from xml.sax.saxutils import escape

W, H = 760, 440
L, R, T, B = 70, 190, 40, 60  # margins


def main():
    data = json.load(open(sys.argv[1]))
    rows = sorted(data["rows"], key=lambda r: r["rate"])
    series = []
    colours = {"p50": "#1b9e77", "p99": "#d95f02", "p999": "#7570b3"}
    labels = {"p50": "p50", "p99": "p99", "p999": "p99.9"}
    for kind, dash in (("confirmed", ""), ("terminal", "6,4")):
        for p in ("p50", "p99", "p999"):
            pts = [(r["rate"], r[kind][p]) for r in rows if r[kind].get(p, 0) > 0]
            if pts:
                series.append((f"place\u2192{kind} {labels[p]}", colours[p], dash, pts))
    xs = [r["rate"] for r in rows]
    ys = [y for s in series for _, y in s[3]] + [data.get("goal_ms", 20)]
    xmin, xmax = 0, max(xs) * 1.05
    ymin = 10 ** math.floor(math.log10(max(min(ys), 0.1)))
    ymax = 10 ** math.ceil(math.log10(max(ys)))

    def x(v):
        return L + (v - xmin) / (xmax - xmin) * (W - L - R)

    def y(v):
        return H - B - (math.log10(v) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin)) * (H - T - B)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{escape(data["title"])}</text>']
    # grid and axes
    d = ymin
    while d <= ymax * 1.0001:
        out.append(f'<line x1="{L}" y1="{y(d):.1f}" x2="{W - R}" y2="{y(d):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{y(d) + 4:.1f}" text-anchor="end">{d:g}</text>')
        d *= 10
    for v in xs:
        out.append(f'<line x1="{x(v):.1f}" y1="{T}" x2="{x(v):.1f}" y2="{H - B}" stroke="#eee"/>')
        out.append(f'<text x="{x(v):.1f}" y="{H - B + 16}" text-anchor="middle">{v:g}</text>')
    out.append(f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>')
    out.append(f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 18}" text-anchor="middle">intended arrival rate (orders/s), open loop</text>')
    out.append(f'<text transform="translate(18,{(T + H - B) / 2}) rotate(-90)" text-anchor="middle">latency from the intended send time (ms, log)</text>')
    goal = data.get("goal_ms")
    if goal:
        out.append(f'<line x1="{L}" y1="{y(goal):.1f}" x2="{W - R}" y2="{y(goal):.1f}" stroke="red" stroke-dasharray="2,3"/>')
        out.append(f'<text x="{W - R - 4}" y="{y(goal) - 4:.1f}" text-anchor="end" fill="red">goal: p99 confirmed {goal:g} ms</text>')
    for i, (name, colour, dash, pts) in enumerate(series):
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in pts)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}" points="{path}"/>')
        for a, b in pts:
            out.append(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="3" fill="{colour}"/>')
        ly = T + 14 + i * 18
        out.append(f'<line x1="{W - R + 12}" y1="{ly - 4}" x2="{W - R + 36}" y2="{ly - 4}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{W - R + 40}" y="{ly}">{escape(name)}</text>')
    out.append("</svg>")
    open(sys.argv[2], "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
