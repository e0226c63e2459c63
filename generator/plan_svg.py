"""`plan --output svg`: each canary's weight staircase over time, with its measurements, the analysis'
start, the earliest rollback and full promotion marked. Hand-written SVG 1.1, no dependency; the same
timelines give the same bytes (coordinates rounded to 0.1, elements in a fixed order).

Every marker carries `class` (`traffic`, `measurement`, `analysis-start`, `rollback`, `promotion`,
`stop`) and `data-seconds`, so tools and tests can read it back; `<title>` gives a browser's tooltip.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from .plan import Timeline, promotion_text, rollback_text
from .rules.durations import show_seconds

WIDTH = 760
PANEL = 330
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 88, 72  # the markers' labels sit in TOP, above the plot
_TICKS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
_COLOURS = {
    "traffic": "#1f6feb",
    "measurement": "#6e40c9",
    "analysis-start": "#6e40c9",
    "rollback": "#cf222e",
    "promotion": "#1a7f37",
    "stop": "#bc4c00",
}


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _tick(span: float) -> float:
    for tick in _TICKS:
        if span / tick <= 10:
            return float(tick)
    return float(_TICKS[-1] * (int(span / _TICKS[-1] / 10) + 1))


def _horizon(timeline: Timeline) -> float:
    times = [timeline.end]
    analysis = timeline.analysis
    if analysis is not None:
        if analysis.earliest_rollback is not None:
            times.append(analysis.earliest_rollback)
        times.extend(t for m in analysis.metrics for t in m.measurements)
    end = max(times)
    # room after the end: the 100% that follows full promotion, or the wait that follows a stop
    return end * (1.1 if timeline.promotion is not None else 1.15) if end > 0 else 60.0


def _panel(env: str, timeline: Timeline, top: float) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, PANEL - TOP - BOTTOM
    x0, y0 = LEFT, top + TOP + plot_h  # the origin: time 0, weight 0
    horizon = _horizon(timeline)

    def x(seconds: float) -> str:
        return _n(x0 + seconds / horizon * plot_w)

    def y(weight: float) -> str:
        return _n(y0 - weight / 100 * plot_h)

    title = (
        f"{env}/{timeline.service}: full promotion {promotion_text(timeline)}, "
        f"earliest rollback {rollback_text(timeline)}"
    )
    out = [
        f'<g class="canary" data-environment={quoteattr(env)} data-service={quoteattr(timeline.service)}>',
        f'<text x="{LEFT}" y="{_n(top + 24)}" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for weight in range(0, 101, 20):  # the weight axis
        out.append(
            f'<line x1="{x0}" y1="{y(weight)}" x2="{_n(x0 + plot_w)}" y2="{y(weight)}" stroke="#d0d7de" '
            'stroke-width="1"/>'
        )
        out.append(
            f'<text x="{x0 - 6}" y="{_n(float(y(weight)) + 4)}" font-size="11" text-anchor="end">'
            f"{weight}%</text>"
        )
    tick = _tick(horizon)
    k = 0
    while k * tick <= horizon + 1e-9:  # the time axis
        at = k * tick
        out.append(f'<line x1="{x(at)}" y1="{_n(y0)}" x2="{x(at)}" y2="{_n(y0 + 4)}" stroke="#57606a"/>')
        out.append(
            f'<text x="{x(at)}" y="{_n(y0 + 16)}" font-size="11" text-anchor="middle">'
            f"{show_seconds(at)}</text>"
        )
        k += 1
    out.append(f'<line x1="{x0}" y1="{_n(y0)}" x2="{_n(x0 + plot_w)}" y2="{_n(y0)}" stroke="#57606a"/>')

    points: list[str] = []
    for index, (at, weight) in enumerate(timeline.traffic):
        if index:
            points.append(f"{x(at)},{y(timeline.traffic[index - 1][1])}")
        points.append(f"{x(at)},{y(weight)}")
    last = timeline.traffic[-1][1]
    points.append(f"{x(timeline.end if timeline.promotion is None else horizon)},{y(last)}")
    out.append(
        f'<polyline class="traffic" points="{" ".join(points)}" fill="none" stroke="{_COLOURS["traffic"]}" '
        'stroke-width="2.5"/>'
    )
    if timeline.promotion is None:  # the wait after the stop: as long as it takes
        out.append(
            f'<line x1="{x(timeline.end)}" y1="{y(last)}" x2="{x(horizon)}" y2="{y(last)}" '
            f'stroke="{_COLOURS["traffic"]}" stroke-width="2.5" stroke-dasharray="4 4"/>'
        )

    def marker(kind: str, at: float, label: str, row: int) -> None:
        colour = _COLOURS[kind]
        label_y = top + TOP - 40 + 13 * row
        out.append(
            f'<line class="{kind}" data-seconds="{_n(at)}" '
            f'x1="{x(at)}" y1="{_n(label_y + 4)}" x2="{x(at)}" '
            f'y2="{_n(y0)}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 3">'
            f"<title>{escape(label)}</title></line>"
        )
        # Left of its line where it fits (6.2px a character is about what sans-serif 11 takes)
        anchor = "end" if float(x(at)) - 4 - 6.2 * len(label) >= 0 else "start"
        shift = -4 if anchor == "end" else 4
        out.append(
            f'<text x="{_n(float(x(at)) + shift)}" y="{_n(label_y)}" font-size="11" '
            f'fill="{colour}" text-anchor="{anchor}">{escape(label)}</text>'
        )

    analysis = timeline.analysis
    marks: list[tuple[float, int, str, str]] = []  # (time, order, kind, label)
    if analysis is not None and analysis.start is not None:
        marks.append((analysis.start, 2, "analysis-start", f"analysis starts {show_seconds(analysis.start)}"))
    if analysis is not None and analysis.earliest_rollback is not None:
        label = f"earliest rollback {rollback_text(timeline)}"
        marks.append((analysis.earliest_rollback, 1, "rollback", label))
    if timeline.promotion is not None:
        marks.append(
            (timeline.promotion, 0, "promotion", f"full promotion {show_seconds(timeline.promotion)}")
        )
    elif timeline.stop is not None and timeline.stop.start is not None:
        what = "manual pause: waits for a promotion" if timeline.stop.kind == "manual" else timeline.stop.kind
        marks.append((timeline.stop.start, 0, "stop", f"{what} ({show_seconds(timeline.stop.start)})"))
    # Rows from the top, the latest marker first: a label running left from its line crosses only the
    # lines of earlier markers, which start below it.
    for row, (at, _, kind, label) in enumerate(sorted(marks, key=lambda m: (-m[0], m[1]))):
        marker(kind, at, label, row)

    if analysis is not None:
        for row, metric in enumerate(analysis.metrics):
            cy = _n(y0 + 32 + 12 * row)
            out.append(
                f'<text x="{x0 - 6}" y="{_n(float(cy) + 4)}" font-size="11" text-anchor="end">'
                f"{escape(metric.name)}</text>"
            )
            for at in metric.measurements:
                label = f"{metric.name}: measurement at {show_seconds(at)}"
                out.append(
                    f'<circle class="measurement" data-metric={quoteattr(metric.name)} '
                    f'data-seconds="{_n(at)}" '
                    f'cx="{x(at)}" cy="{cy}" r="4" fill="{_COLOURS["measurement"]}">'
                    f"<title>{escape(label)}</title></circle>"
                )
    out.append("</g>")
    return out


def to_svg(found: Sequence[tuple[str, Timeline]]) -> str:
    """One panel per canary, stacked; a short note when there is none."""
    panels = max(1, len(found))
    height = PANEL * panels
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    if not found:
        lines.append(f'<text x="{LEFT}" y="40" font-size="14">no canary Rollout in the selection</text>')
    for index, (env, timeline) in enumerate(found):
        lines.extend(_panel(env, timeline, index * PANEL))
    lines.append("</svg>")
    return "\n".join(lines) + "\n"
