"""The uptime calendar: a GitHub-style grid of daily success rates, turned on its side for a phone.

Weeks run down the page (Monday first) and weekdays across, so a month reads like a wall
calendar. Long periods wrap into side-by-side panels, picked to give the largest square cells.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta

from matplotlib.collections import PatchCollection
from matplotlib.colors import to_rgb
from matplotlib.patches import FancyBboxPatch

from charts.frame import (
    MONTHS,
    PAD,
    PLOT_TOP,
    SMALL_PT,
    WIDTH,
    Frame,
    LegendItem,
    font,
    period_label,
)
from charts.model import band_of, clamp_rate
from charts.theme import Theme, ThemeName, resolve

NO_DATA = "No data for this period"

_MONTH_COLUMN = 96  # px left of each panel for month names
_MAX_CELL = 120.0
_MAX_GRID_HEIGHT = 1300.0
_MAX_PANELS = 6
_GRID_TOP = PLOT_TOP + 50  # weekday initials sit above
_INSET = 0.06  # of a cell, each side: the gap between cells
_NUMBERS_FROM = 80.0  # px: smaller cells drop their day numbers


def render_uptime_calendar(
    days: Mapping[date, float | None],
    *,
    theme: ThemeName | Theme = "light",
    title: str = "Uptime",
    subtitle: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> bytes:
    """Daily success rate (percent) as calendar cells: green > 95, yellow 80-95, red < 80, grey no data."""
    palette = resolve(theme)
    rates = {day: clamp_rate(value) for day, value in days.items()}
    first = start or (min(rates) if rates else None)
    last = end or (max(rates) if rates else None)
    if first is None or last is None:
        frame = Frame(palette)
        frame.header(title, subtitle)
        frame.message(NO_DATA)
        return frame.png()
    if first > last:
        raise ValueError(f"start {first} is after end {last}")

    monday = first - timedelta(days=first.weekday())
    weeks = (last - monday).days // 7 + 1
    panels, cell = _grid(weeks)
    rows = math.ceil(weeks / panels)
    frame = Frame(palette, height=max(WIDTH, math.ceil(_GRID_TOP + rows * cell + PAD)))  # never landscape
    frame.header(title, period_label(first, last) if subtitle is None else subtitle)
    frame.legend([
        LegendItem("square", palette.good, "> 95%"),
        LegendItem("square", palette.fair, "80\N{EN DASH}95%"),
        LegendItem("square", palette.poor, "< 80%"),
        LegendItem("square", palette.no_data, "No data"),
    ])

    panel_width = _MONTH_COLUMN + 7 * cell
    left = PAD + (WIDTH - 2 * PAD - panels * panel_width) / 2
    for panel in range(panels):
        week_range = range(panel * rows, min(weeks, (panel + 1) * rows))
        if not week_range:
            break
        ax = frame.axes(left + panel * panel_width + _MONTH_COLUMN, _GRID_TOP, 7 * cell, rows * cell)
        ax.set_xlim(0, 7)
        ax.set_ylim(rows, 0)
        ax.set_axis_off()
        small = font(SMALL_PT)
        for column, initial in enumerate("MTWTFSS"):
            ax.text(column + 0.5, -0.15, initial, ha="center", va="bottom", fontproperties=small,
                    color=palette.hint, clip_on=False, parse_math=False)
        cells: list[FancyBboxPatch] = []
        colours: list[str] = []
        for row, week in enumerate(week_range):
            week_days = [monday + timedelta(days=7 * week + column) for column in range(7)]
            shown = [day for day in week_days if first <= day <= last]
            opener = next((day for day in shown if day.day == 1), shown[0] if row == 0 else None)
            if opener is not None:
                ax.text(-0.2, row + 0.5, MONTHS[opener.month - 1], ha="right", va="center",
                        fontproperties=small, color=palette.hint, clip_on=False, parse_math=False)
            for day in shown:
                column = day.weekday()
                colour = palette.band_colour(band_of(rates.get(day)))
                cells.append(FancyBboxPatch(
                    (column + _INSET, row + _INSET), 1 - 2 * _INSET, 1 - 2 * _INSET,
                    boxstyle="round,pad=0,rounding_size=0.14",
                ))
                colours.append(colour)
                if cell >= _NUMBERS_FROM:
                    ax.text(column + 0.5, row + 0.5, str(day.day), ha="center", va="center_baseline",
                            fontproperties=small, color=_ink(colour), parse_math=False, zorder=3)
        ax.add_collection(PatchCollection(cells, facecolors=colours, edgecolors="none", linewidths=0))
    return frame.png()


def _grid(weeks: int) -> tuple[int, float]:
    """Panels side by side and cell size in px giving the largest cells within the page."""
    best_panels, best_cell = 1, 0.0
    for panels in range(1, _MAX_PANELS + 1):
        by_width = (WIDTH - 2 * PAD - panels * _MONTH_COLUMN) / (7 * panels)
        cell = min(by_width, _MAX_GRID_HEIGHT / math.ceil(weeks / panels), _MAX_CELL)
        if cell > best_cell + 0.5:
            best_panels, best_cell = panels, cell
    return best_panels, math.floor(best_cell)


def _ink(colour: str) -> str:
    """Near-black on light cells, white on dark ones."""
    red, green, blue = to_rgb(colour)
    return "#1b1f24" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5 else "#ffffff"
