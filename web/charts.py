"""Charts drawn on the server as SVG: no chart library, no script, readable by a screen reader.

Each chart is an `<svg role="img">` whose title and description say what it shows, with every
mark carrying its data (`data-label`, `data-value`) so a page test can compare it with the API's
numbers; the page puts the same numbers in a table beside it for those who cannot see it.
Colours keep 3:1 contrast with the white ground (WCAG 2.1 non-text contrast).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP, MARGIN_RIGHT = 48, 28, 12, 8
INK = "#1f2933"  # text and axes
SERIES = ("#1d4ed8", "#b45309", "#047857")  # blue, amber, green: ≥ 3:1 on white


@dataclass(frozen=True)
class Point:
    label: str  # the x axis' value: a day
    value: float | None  # None: nothing to show that day (a line skips it)


def bar_chart(chart_id: str, title: str, description: str, points: Sequence[Point], *,
              unit: str = "") -> Markup:
    """Vertical bars, one per point, on a scale from zero to the largest value."""
    top = _top(points)
    _, plot_h, step = _plot(points)
    marks = []
    for i, point in enumerate(points):
        value = point.value or 0
        h = plot_h * value / top
        x = MARGIN_LEFT + i * step + step * 0.15
        marks.append(
            f'<rect class="mark" x="{x:.1f}" y="{MARGIN_TOP + plot_h - h:.1f}" '
            f'width="{step * 0.7:.1f}" height="{h:.1f}" fill="{SERIES[0]}" '
            f'data-label="{escape(point.label)}" data-value="{_number(point.value)}">'
            f"<title>{escape(point.label)}: {_number(point.value)}{escape(unit)}</title></rect>")
    return _svg(chart_id, title, description, points, top, unit, marks)


def line_chart(chart_id: str, title: str, description: str,
               series: Sequence[tuple[str, Sequence[Point]]], *, unit: str = "",
               top: float | None = None) -> Markup:
    """One line per named series over the same points; a point without a value breaks the
    line. `top` fixes the scale (1 for rates)."""
    points = series[0][1] if series else []
    top = top or _top([p for _, line in series for p in line])
    _, plot_h, step = _plot(points)
    marks = []
    for colour, (name, line) in zip(SERIES, series, strict=False):
        path, pen_down = [], False
        for i, point in enumerate(line):
            if point.value is None:
                pen_down = False
                continue
            x = MARGIN_LEFT + i * step + step / 2
            y = MARGIN_TOP + plot_h - plot_h * point.value / top
            path.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
            pen_down = True
            marks.append(
                f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}" '
                f'data-series="{escape(name)}" data-label="{escape(point.label)}" '
                f'data-value="{_number(point.value)}"><title>{escape(name)}, '
                f"{escape(point.label)}: {_number(point.value)}{escape(unit)}</title></circle>")
        if path:
            marks.insert(0, f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" '
                            f'stroke-width="2" aria-hidden="true"/>')
    return _svg(chart_id, title, description, points, top, unit, marks)


def _svg(chart_id: str, title: str, description: str, points: Sequence[Point], top: float,
         unit: str, marks: list[str]) -> Markup:
    plot_w, plot_h, step = _plot(points)
    axis_y = MARGIN_TOP + plot_h
    ticks = [f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 4}" text-anchor="end">'
             f"{_number(top)}{escape(unit)}</text>",
             f'<text x="{MARGIN_LEFT - 6}" y="{axis_y}" text-anchor="end">0</text>']
    # The first, middle and last days: enough to read the axis at a phone's width.
    for i in sorted({0, len(points) // 2, len(points) - 1}) if points else ():
        x = MARGIN_LEFT + i * step + step / 2
        ticks.append(f'<text x="{x:.1f}" y="{axis_y + 18}" text-anchor="middle">'
                     f"{escape(points[i].label[5:])}</text>")  # MM-DD of a YYYY-MM-DD day
    body = "".join(marks) if points else (
        f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">No orders in this '
        "period</text>")
    return Markup(
        f'<svg id="{escape(chart_id)}" class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'font-size="12" fill="{INK}" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
        f'<line x1="{MARGIN_LEFT}" y1="{axis_y}" x2="{MARGIN_LEFT + plot_w}" y2="{axis_y}" '
        f'stroke="{INK}" aria-hidden="true"/>'
        f'<g aria-hidden="true">{"".join(ticks)}</g><g>{body}</g></svg>')


def _plot(points: Sequence[Point]) -> tuple[float, float, float]:
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    return plot_w, plot_h, plot_w / max(len(points), 1)


def _top(points: Sequence[Point]) -> float:
    """The scale's top: the largest value, or 1 when there is nothing above zero."""
    return max((p.value for p in points if p.value), default=0) or 1


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if value != int(value) else str(int(value))


def seller_charts(stats: dict) -> list[Markup]:
    """The statistics page's charts, from `GET /api/orders/stats`'s `stats`: orders per day,
    the completion and cancellation rates of each day's orders, and their time to ship."""
    days = stats["ordersPerDay"]

    def rate(part: int, whole: int) -> float | None:
        return None if whole == 0 else round(part / whole, 4)

    first, last = (days[0]["day"], days[-1]["day"]) if days else ("", "")
    period = f"from {first} to {last}"
    return [
        bar_chart("orders-per-day", "Orders per day",
                  f"Orders created each day {period}; {stats['ordersCreated']} in all.",
                  [Point(d["day"], d["created"]) for d in days]),
        line_chart("rates-per-day", "Completion and cancellation rates",
                   f"Of each day's orders {period}, the share completed and the share "
                   "cancelled so far.",
                   [("completed", [Point(d["day"], rate(d["completed"], d["created"]))
                                   for d in days]),
                    ("cancelled", [Point(d["day"], rate(d["cancelled"], d["created"]))
                                   for d in days])],
                   top=1),
        line_chart("time-to-ship", "Time to ship",
                   f"Mean hours from order to shipping, by the day ordered, {period}.",
                   [("hours to ship", [Point(d["day"], None if d["timeToShipSeconds"] is None
                                             else round(d["timeToShipSeconds"] / 3600, 1))
                                       for d in days])],
                   unit=" h"),
    ]
