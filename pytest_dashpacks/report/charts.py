"""The HTML report's charts: inline SVG line charts of trends and open defects over runs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass
from .derived import MONTHS, display_time, esc, parse_time

# --- charts ------------------------------------------------------------------------

WIDTH, HEIGHT = 560, 190
LEFT, RIGHT, TOP, BOTTOM = 44, 18, 22, 42
INSET = 20  # first and last runs sit clear of the y axis, so their dates and values stay readable
MAX_X_LABELS = 6


def line_chart(series: list[int], times: list[Any], label: str, tone: str) -> str:
    """An inline SVG line chart of counts per run: dated x axis, y ticks with grid lines, each value labelled."""
    series = series or [0]
    times = (list(times) + [None] * len(series))[:len(series)]
    ticks = y_ticks(max(series))
    top = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = (plot_w - 2 * INSET) / (len(series) - 1) if len(series) > 1 else 0.0
    xs = [LEFT + INSET + i * step if len(series) > 1 else LEFT + plot_w / 2 for i in range(len(series))]
    ys = [TOP + plot_h - value / top * plot_h for value in series]
    base = TOP + plot_h
    parts = [f"<title>{esc(label)}</title>"]
    for tick in ticks:
        y = TOP + plot_h - tick / top * plot_h
        parts.append(f"<line class='grid' x1='{LEFT}' y1='{y:.1f}' x2='{WIDTH - RIGHT}' y2='{y:.1f}'/>"
                     f"<text class='ytick' x='{LEFT - 6}' y='{y + 3.5:.1f}' text-anchor='end'>{tick}</text>")
    parts.append(f"<line class='axis' x1='{LEFT}' y1='{base}' x2='{WIDTH - RIGHT}' y2='{base}'/>")
    for i in x_label_indices(len(series)):
        day, clock = time_label(times[i], i, len(series))
        parts.append(
            f"<line class='axis' x1='{xs[i]:.1f}' y1='{base}' x2='{xs[i]:.1f}' y2='{base + 4}'/>"
            f"<text class='xtick' x='{xs[i]:.1f}' y='{base + 16}' text-anchor='middle'>{esc(day)}"
            f"<tspan x='{xs[i]:.1f}' dy='12'>{esc(clock)}</tspan></text>"
        )
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    if len(series) > 1:
        parts.append(f"<polygon class='area {tone}' points='{xs[0]:.1f},{base} {points} {xs[-1]:.1f},{base}'/>")
    parts.append(f"<polyline class='line {tone}' points='{points}'/>")
    show_values = len(series) <= 24
    for x, y, value, moment in zip(xs, ys, series, times):
        when = display_time(str(moment)) if moment else "time not recorded"
        parts.append(f"<circle class='dot {tone}' cx='{x:.1f}' cy='{y:.1f}' r='3.5'><title>{esc(when)}: {value}</title></circle>")
        if show_values:
            parts.append(f"<text class='value' x='{x:.1f}' y='{y - 8:.1f}' text-anchor='middle'>{value}</text>")
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {HEIGHT}' width='{WIDTH}' height='{HEIGHT}' "
        f"role='img' aria-label='{esc(label)}'>{''.join(parts)}</svg>"
    )


def y_ticks(highest: int) -> list[int]:
    """0 up to a round number at or above ``highest``, at most six ticks, whole steps of 1, 2 or 5 x 10^n."""
    highest = max(int(highest), 1)
    step = next(s for e in range(0, 19) for s in (10**e, 2 * 10**e, 5 * 10**e) if math.ceil(highest / s) <= 5)
    return list(range(0, math.ceil(highest / step) * step + 1, step))


def x_label_indices(count: int) -> list[int]:
    """Which runs get a date under the axis: all when few, else evenly spread, first and last always."""
    if count <= MAX_X_LABELS:
        return list(range(count))
    stride = math.ceil((count - 1) / (MAX_X_LABELS - 1))
    picked = list(range(0, count - 1, stride))
    if count - 1 - picked[-1] < stride / 2:
        picked.pop()  # keep the last run's date from overlapping its neighbour
    return picked + [count - 1]


def time_label(value: Any, index: int, count: int) -> tuple[str, str]:
    moment = parse_time(value) if value else None
    if moment is None:
        return ("this run", "") if index == count - 1 else (f"run {index + 1}", "")
    return f"{MONTHS[moment.month - 1]} {moment.day}", moment.strftime("%H:%M")

