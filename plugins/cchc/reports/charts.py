"""Charts as inline SVG, drawn in Python (no JavaScript, no fonts or styles from elsewhere).

Every chart is an ``<svg>`` with ``role="img"``, a ``<title>`` and ``data-chart="<id>"``; its
reference lines carry ``class="ref-line"`` and ``data-value``; bars ``class="bar"`` and points
``class="point"``, so a test (or a reader of the DOM) can find what is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

FONT = "font-family=\"'DejaVu Sans', 'Liberation Sans', Arial, sans-serif\""
GREEN, AMBER, RED, GREY, BLUE, TEAL, LIGHT = "#2e7d32", "#f9a825", "#c62828", "#9e9e9e", "#1565c0", "#00897b", "#cfd8dc"


@dataclass(frozen=True)
class RefLine:
    value: float
    label: str
    color: str


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None           # None: nothing to draw (the note says why)
    color: str = BLUE
    note: str = ""                # text after the bar (e.g. the value, or "không có hồ sơ")


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}\u00a0%".replace(".", ",")


def _svg(chart_id: str, title: str, width: int, height: int, body: list[str]) -> str:
    return (f'<svg role="img" data-chart="{escape(chart_id)}" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" {FONT} font-size="12">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def hbar_chart(chart_id: str, title: str, bars: list[Bar], *, lo: float = 0.0, hi: float = 1.0,
               ref_lines: tuple[RefLine, ...] = (), ticks: tuple[float, ...] = (), width: int = 860,
               label_width: int = 300, bar_height: int = 18, gap: int = 6) -> str:
    """Horizontal bars (one per item) on a scale lo..hi, with vertical reference lines."""
    top, bottom, right = 34, 28, 130
    plot_w = width - label_width - right
    height = top + bottom + len(bars) * (bar_height + gap)

    def x(v: float) -> float:
        v = min(max(v, lo), hi)
        return label_width + (v - lo) / (hi - lo) * plot_w

    body = []
    for t in ticks:
        body.append(f'<line x1="{x(t):.1f}" y1="{top - 4}" x2="{x(t):.1f}" y2="{height - bottom}" '
                    f'stroke="#e0e0e0"/><text x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                    f'fill="#555">{escape(pct(t, 0))}</text>')
    for i, bar in enumerate(bars):
        y = top + i * (bar_height + gap)
        body.append(f'<text x="{label_width - 8}" y="{y + bar_height * 0.72:.1f}" text-anchor="end">'
                    f"{escape(bar.label)}</text>")
        if bar.value is not None:
            w = max(x(bar.value) - x(lo), 1.0)
            body.append(f'<rect class="bar" data-label="{escape(bar.label)}" data-value="{bar.value:.6f}" '
                        f'x="{x(lo):.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{bar.color}"/>')
        note_x = (x(bar.value) if bar.value is not None else x(lo)) + 6
        body.append(f'<text x="{note_x:.1f}" y="{y + bar_height * 0.72:.1f}" fill="#333">{escape(bar.note)}</text>')
    for k, line in enumerate(ref_lines):
        body.append(f'<line class="ref-line" data-value="{line.value:.6f}" x1="{x(line.value):.1f}" y1="{top - 6}" '
                    f'x2="{x(line.value):.1f}" y2="{height - bottom}" stroke="{line.color}" stroke-width="2" '
                    f'stroke-dasharray="6 3"/>'
                    f'<text x="{x(line.value):.1f}" y="{top - 10 - (k % 2) * 12}" text-anchor="middle" '
                    f'fill="{line.color}" font-weight="bold">{escape(line.label)}</text>')
    body.append(f'<line x1="{x(lo):.1f}" y1="{top - 4}" x2="{x(lo):.1f}" y2="{height - bottom}" stroke="#333"/>')
    return _svg(chart_id, title, width, height, body)


def line_chart(chart_id: str, title: str, x_labels: list[str], series: list[tuple[str, str, list[float | None]]],
               *, lo: float = 0.0, hi: float = 1.0, ticks: tuple[float, ...] = (0, .25, .5, .75, 1),
               width: int = 860, height: int = 300) -> str:
    """Lines over the x labels (months), one per (name, color, values); a legend on top."""
    left, right, top, bottom = 60, 30, 44, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(x_labels)

    def x(i: int) -> float:
        pad = 40  # the first and last points' labels clear of the axis
        return left + (plot_w / 2 if n == 1 else pad + i * (plot_w - 2 * pad) / (n - 1))

    def y(v: float) -> float:
        return top + plot_h - (min(max(v, lo), hi) - lo) / (hi - lo) * plot_h

    # at each x, the highest value's label goes above its point, the others' below
    tops = [max((v for _, _, vs in series if i < len(vs) and (v := vs[i]) is not None), default=None)
            for i in range(n)]
    body = []
    for t in ticks:
        body.append(f'<line x1="{left}" y1="{y(t):.1f}" x2="{width - right}" y2="{y(t):.1f}" stroke="#e0e0e0"/>'
                    f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="#555">{escape(pct(t, 0))}</text>')
    for i, label in enumerate(x_labels):
        body.append(f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle">{escape(label)}</text>')
    for k, (name, color, values) in enumerate(series):
        lx = left + k * 300
        body.append(f'<rect x="{lx}" y="10" width="14" height="14" fill="{color}"/>'
                    f'<text x="{lx + 20}" y="22">{escape(name)}</text>')
        points = [(x(i), y(v), v, v == tops[i]) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
            body.append(f'<polyline class="series" data-series="{escape(name)}" points="{path}" fill="none" '
                        f'stroke="{color}" stroke-width="3"/>')
        for px, py, v, above in points:
            body.append(f'<circle class="point" data-series="{escape(name)}" data-value="{v:.6f}" cx="{px:.1f}" '
                        f'cy="{py:.1f}" r="5" fill="{color}"/>'
                        f'<text x="{px:.1f}" y="{py - 10 if above else py + 20:.1f}" '
                        f'text-anchor="middle" fill="{color}" font-weight="bold">{escape(pct(v))}</text>')
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#333"/>')
    return _svg(chart_id, title, width, height, body)


def stacked_hbar_chart(chart_id: str, title: str, legend: list[tuple[str, str]],
                       rows: list[tuple[str, list[float], str]], *, width: int = 860, label_width: int = 300,
                       bar_height: int = 18, gap: int = 6) -> str:
    """One 100 % bar per row: (label, shares in the legend's order, note); the rest stays empty."""
    top, bottom, right = 40, 24, 170
    plot_w = width - label_width - right
    height = top + bottom + len(rows) * (bar_height + gap)
    body = []
    lx = label_width
    for name, color in legend:
        body.append(f'<rect x="{lx}" y="8" width="14" height="14" fill="{color}"/>'
                    f'<text x="{lx + 20}" y="20">{escape(name)}</text>')
        lx += 30 + 7 * len(name)
    for i, (label, shares, note) in enumerate(rows):
        y = top + i * (bar_height + gap)
        body.append(f'<text x="{label_width - 8}" y="{y + bar_height * 0.72:.1f}" text-anchor="end">'
                    f"{escape(label)}</text>")
        body.append(f'<rect x="{label_width}" y="{y}" width="{plot_w}" height="{bar_height}" fill="none" '
                    f'stroke="#bdbdbd"/>')
        x0 = float(label_width)
        for share, (name, color) in zip(shares, legend, strict=False):
            w = max(min(share, 1.0), 0.0) * plot_w
            if w > 0:
                body.append(f'<rect class="bar" data-label="{escape(label)}" data-series="{escape(name)}" '
                            f'data-value="{share:.6f}" x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" '
                            f'fill="{color}"/>')
            x0 += w
        body.append(f'<text x="{label_width + plot_w + 6}" y="{y + bar_height * 0.72:.1f}" fill="#333">'
                    f"{escape(note)}</text>")
    return _svg(chart_id, title, width, height, body)
