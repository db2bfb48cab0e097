"""Bar charts as server-rendered SVG: no script, colours from the stylesheet.

Each chart is drawn from the same rows a page shows as a table and offers as CSV,
so the picture, the table and the download always agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 28, 16, 44


@dataclass(frozen=True)
class Series:
    """One named row of numbers, one per label."""

    name: str
    values: Sequence[int]


def nice_step(value: int, ticks: int = 4) -> int:
    """Return a tick step of 1, 2 or 5 times a power of ten covering ``value``."""
    rough = max(1.0, value / ticks)
    power = int(10 ** math.floor(math.log10(rough)))
    for step in (1, 2, 5, 10):
        if rough <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def short_label(label: str) -> str:
    """Show ISO dates as '3 Dec'; leave other labels alone."""
    try:
        day = date.fromisoformat(label)
    except ValueError:
        return label
    return f"{day.day} {day.strftime('%b')}"


def _y_axis(top: int, step: int, plot_height: int, unit: str) -> list[str]:
    parts = []
    for value in range(0, top + 1, step):
        y = TOP + plot_height - plot_height * value / top
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{value:,}</text>'
        )
    parts.append(
        f'<text class="unit" x="12" y="{TOP + plot_height / 2:.1f}" '
        f'transform="rotate(-90 12 {TOP + plot_height / 2:.1f})" '
        f'text-anchor="middle">{escape(unit)}</text>'
    )
    return parts


def _x_labels(labels: Sequence[str], slot: float, plot_height: int) -> list[str]:
    every = max(1, math.ceil(len(labels) / 8))
    parts = []
    for index, label in enumerate(labels):
        if (len(labels) - 1 - index) % every:  # counted from the last label
            continue
        x = LEFT + slot * (index + 0.5)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{TOP + plot_height + 18}" '
            f'text-anchor="middle">{escape(short_label(label))}</text>'
        )
    return parts


def bar_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str,
) -> Markup:
    """Return an SVG bar chart: one group of bars per label, one bar per series."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    highest = max((v for s in series for v in s.values), default=0)
    step = nice_step(highest)
    top = max(step, step * math.ceil(highest / step))
    slot = plot_width / max(1, len(labels))
    bar = slot * 0.8 / max(1, len(series))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">Bar chart; the table that follows gives '
        f"the same numbers.</desc>",
        *_y_axis(top, step, plot_height, unit),
    ]
    for number, row in enumerate(series):
        for index, value in enumerate(row.values):
            height = plot_height * value / top
            x = LEFT + slot * index + slot * 0.1 + bar * number
            y = TOP + plot_height - height
            parts.append(
                f'<rect class="bar bar-{number % 4}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}">'
                f"<title>{escape(row.name)}, {escape(short_label(labels[index]))}: "
                f"{value:,}</title></rect>"
            )
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
        f'y1="{TOP + plot_height}" y2="{TOP + plot_height}"/>'
    )
    parts += _x_labels(labels, slot, plot_height)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


PALETTE = 8  # colour classes bar-0 ... bar-7 in the stylesheet


def stacked_bar_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str,
    colours: Sequence[int] = (),
) -> Markup:
    """Return an SVG chart of one stacked bar per label, one segment per series.

    ``colours`` gives each series its ``bar-N`` class (by default, its position).
    """
    colours = list(colours) or list(range(len(series)))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    highest = max(totals, default=0)
    step = nice_step(highest)
    top = max(step, step * math.ceil(highest / step))
    slot = plot_width / max(1, len(labels))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">Stacked bar chart; the table that follows '
        f"gives the same numbers.</desc>",
        *_y_axis(top, step, plot_height, unit),
    ]
    for index, label in enumerate(labels):
        base = 0
        for number, row in enumerate(series):
            value = row.values[index]
            if not value:
                continue
            height = plot_height * value / top
            y = TOP + plot_height - plot_height * base / top - height
            parts.append(
                f'<rect class="bar bar-{colours[number] % PALETTE}" '
                f'x="{LEFT + slot * index + slot * 0.1:.1f}" y="{y:.1f}" '
                f'width="{slot * 0.8:.1f}" height="{height:.1f}">'
                f"<title>{escape(row.name)}, {escape(short_label(label))}: "
                f"{value:,}</title></rect>"
            )
            base += value
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
        f'y1="{TOP + plot_height}" y2="{TOP + plot_height}"/>'
    )
    parts += _x_labels(labels, slot, plot_height)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
