"""The analytics charts: each takes plain data and returns a phone-sized PNG."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.ticker import MaxNLocator

from charts.frame import (
    HEIGHT,
    LABEL_PT,
    PAD,
    PLOT_TOP,
    WIDTH,
    Frame,
    LegendItem,
    clean,
    date_ticks,
    day_label,
    font,
    percent,
    period_label,
    thousands,
)
from charts.model import ConnectionStat, DailyPoint, band_of, clamp_rate
from charts.theme import Theme, ThemeName, resolve

NO_JOBS = "No jobs in this period"
NO_FINISHED = "No finished jobs in this period"
NO_FAILURES = "No failures in this period"
NO_FORWARDS = "No forwarded posts in this period"
OTHER = "other"

# the plot area of the two day-by-day charts, in px
_LEFT = 150
_RIGHT = WIDTH - 72
_BOTTOM = HEIGHT - 110


def render_success_trend(
    points: Iterable[DailyPoint],
    *,
    theme: ThemeName | Theme = "light",
    title: str = "Success rate",
    subtitle: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> bytes:
    """Daily success rate as a line on a 0-100 % axis; days without finished jobs are gaps, marked below."""
    palette = resolve(theme)
    frame = Frame(palette)
    series = _daily(points, start, end)
    frame.header(title, _subtitle(subtitle, series))
    rates = np.array([np.nan if p.success_rate is None else p.success_rate for p in series], dtype=float)
    if not series or np.isnan(rates).all():
        frame.message(NO_FINISHED)
        return frame.png()

    ax = _day_axes(frame, series)
    x = np.arange(len(series))
    valid = ~np.isnan(rates)
    # dots on every day while they stay apart; past two months only days with no neighbour get one
    dotted = valid if len(series) <= 62 else valid & ~np.roll(valid, 1) & ~np.roll(valid, -1)
    if len(series) > 62:
        dotted[0] = valid[0] and not valid[1]
        dotted[-1] = valid[-1] and not valid[-2]
    marker = 6.0 if len(series) <= 31 else 4.5
    line_width = 2.5 if len(series) <= 92 else 1.5  # a year of daily noise at full weight turns into a slab
    ax.plot(x, rates, color=palette.accent, linewidth=line_width, solid_joinstyle="round", zorder=3)
    ax.plot(
        x[dotted], rates[dotted], linestyle="none", marker="o", markersize=marker,
        markerfacecolor=palette.accent, markeredgecolor=palette.background, markeredgewidth=1, zorder=4,
    )
    gaps = x[~valid]
    if gaps.size:
        ax.plot(
            gaps, np.zeros(gaps.size), linestyle="none", marker="o", markersize=marker - 1,
            markerfacecolor="none", markeredgecolor=palette.hint, markeredgewidth=1.5, clip_on=False,
            zorder=3,
        )
    ax.set_ylim(-4, 104)
    frame.set_ticks(ax, "y", [0, 25, 50, 75, 100], [percent(v) for v in (0, 25, 50, 75, 100)])

    succeeded = sum(p.succeeded for p in series)
    finished = succeeded + sum(p.failed for p in series)
    legend = [LegendItem("line", palette.accent, "Daily success rate")]
    if gaps.size:
        legend.append(LegendItem("ring", palette.hint, "No finished jobs"))
    legend.append(LegendItem("none", palette.text, f"Overall {percent(100 * succeeded / finished)}"))
    frame.legend(legend)
    return frame.png()


def render_job_volume(
    points: Iterable[DailyPoint],
    *,
    theme: ThemeName | Theme = "light",
    title: str = "Jobs per day",
    subtitle: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> bytes:
    """Jobs per day as bars stacked succeeded, failed, retried."""
    palette = resolve(theme)
    frame = Frame(palette)
    series = _daily(points, start, end)
    frame.header(title, _subtitle(subtitle, series))
    totals = [p.total for p in series]
    if not series or max(totals) == 0:
        frame.message(NO_JOBS)
        return frame.png()

    ax = _day_axes(frame, series)
    x = np.arange(len(series))
    width = 0.72 if len(series) <= 45 else 0.9
    bottom = np.zeros(len(series))
    layers = (
        ("Succeeded", palette.succeeded, [p.succeeded for p in series]),
        ("Failed", palette.failed, [p.failed for p in series]),
        ("Retried", palette.retried, [p.retried for p in series]),
    )
    for _, colour, values in layers:
        heights = np.array(values, dtype=float)
        # one collection per layer rather than an artist per bar: a year of days draws 5x faster
        shown = heights > 0
        left, right = x[shown] - width / 2, x[shown] + width / 2
        low, high = bottom[shown], bottom[shown] + heights[shown]
        corners = [np.column_stack(xy) for xy in ((left, low), (left, high), (right, high), (right, low))]
        bars = list(np.stack(corners, axis=1))  # one 4 x 2 array of corners per bar
        ax.add_collection(PolyCollection(bars, facecolors=colour, edgecolors="none", linewidths=0, zorder=2))
        bottom += heights
    locator = MaxNLocator(nbins=5, steps=[1, 2, 5, 10], integer=True)
    ticks = [tick for tick in locator.tick_values(0, max(totals)) if tick >= 0]
    top = max(ticks[-1], max(totals))
    if len(series) <= 14:  # few bars: room to print each day's total on top
        for i, total in enumerate(totals):
            if total:
                ax.text(
                    i, total + top * 0.015, thousands(total), ha="center", va="bottom",
                    fontproperties=font(LABEL_PT), color=palette.text, parse_math=False,
                )
        top *= 1.08
    ax.set_ylim(0, top)
    frame.set_ticks(ax, "y", ticks, [thousands(int(t)) for t in ticks])

    legend = [LegendItem("square", colour, name) for name, colour, values in layers if any(values)]
    legend.append(LegendItem("none", palette.text, f"Total {thousands(sum(totals))}"))
    frame.legend(legend)
    return frame.png()


def render_failure_breakdown(
    counts: Mapping[str, int],
    *,
    theme: ThemeName | Theme = "light",
    title: str = "Failure reasons",
    subtitle: str | None = None,
    max_slices: int = 6,
    min_share: float = 0.02,
) -> bytes:
    """Failures by reason as a donut; the smallest reasons fold into "other" past ``max_slices``."""
    palette = resolve(theme)
    frame = Frame(palette)
    frame.header(title, subtitle)
    slices = merge_small(counts, max_slices=max_slices, min_share=min_share)
    total = sum(count for _, count in slices)
    if total == 0:
        frame.message(NO_FAILURES)
        return frame.png()

    colours = [palette.other_slice if name == OTHER else palette.slices[i % len(palette.slices)]
               for i, (name, _) in enumerate(slices)]
    size, top, row = 600, 190, 64
    ax = frame.axes((WIDTH - size) / 2, top, size, size)
    ax.pie(
        [count for _, count in slices], colors=colours, startangle=90, counterclock=False,
        wedgeprops={"width": 0.36, "edgecolor": palette.background, "linewidth": 3 if len(slices) > 1 else 0},
    )
    ax.set_xlim(-1.02, 1.02)
    ax.set_ylim(-1.02, 1.02)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.text(0, 0.1, thousands(total), ha="center", va="center", fontproperties=font(26, bold=True),
            color=palette.text, parse_math=False)
    ax.text(0, -0.22, "failure" if total == 1 else "failures", ha="center", va="center",
            fontproperties=font(LABEL_PT), color=palette.hint, parse_math=False)

    y = top + size + 48
    for (name, count), colour in zip(slices, colours, strict=True):
        value = f"{thousands(count)} \N{MIDDLE DOT} {percent(100 * count / total)}"
        value_width = frame.width_of(value, font(LABEL_PT, bold=True))
        frame.swatch("square", colour, PAD, y + 16)
        name_width = WIDTH - 2 * PAD - 42 - value_width - 24
        frame.text(PAD + 42, y + 16, name, max_px=name_width, va="center_baseline")
        frame.text(WIDTH - PAD, y + 16, value, bold=True, ha="right", va="center_baseline")
        y += row
    return frame.png()


def merge_small(
    counts: Mapping[str, int], *, max_slices: int = 6, min_share: float = 0.02
) -> list[tuple[str, int]]:
    """Reasons largest first, with the tail and any below ``min_share`` merged into a last "other" slice."""
    other = 0
    named: dict[str, int] = {}
    for raw_name, raw_count in counts.items():
        count = max(0, int(raw_count))
        name = clean(str(raw_name)) or "unknown"
        if name.lower() == OTHER:
            other += count
        elif count:
            named[name] = named.get(name, 0) + count
    ranked = sorted(named.items(), key=lambda item: (-item[1], item[0]))
    total = other + sum(count for _, count in ranked)
    room = max(2, max_slices) - 1  # one slot stays free for "other"
    tail = ranked[room:] if len(ranked) + (other > 0) > room + 1 else []
    keep = ranked[: len(ranked) - len(tail)]
    small = [item for item in keep if item[1] < min_share * total]
    if len(small) + len(tail) + (other > 0) >= 2:  # folding a single reason alone would only rename it
        keep = [item for item in keep if item not in small]
    other = total - sum(count for _, count in keep)
    return keep + ([(OTHER, other)] if other else [])


def render_top_connections(
    items: Iterable[tuple[str, int, float | None]],
    *,
    theme: ThemeName | Theme = "light",
    title: str = "Top connections",
    subtitle: str | None = None,
    limit: int = 10,
) -> bytes:
    """Connections by posts forwarded as horizontal bars, coloured and labelled by success rate."""
    palette = resolve(theme)
    frame = Frame(palette)
    frame.header(title, subtitle)
    stats = (ConnectionStat(str(name), max(0, int(count)), clamp_rate(rate)) for name, count, rate in items)
    rows = sorted(stats, key=lambda stat: (-stat.forwarded, stat.name))[: max(1, limit)]
    if not rows or rows[0].forwarded == 0:
        frame.message(NO_FORWARDS)
        return frame.png()

    legend = [
        LegendItem("square", palette.good, "> 95%"),
        LegendItem("square", palette.fair, "80\N{EN DASH}95%"),
        LegendItem("square", palette.poor, "< 80%"),
    ]
    if any(stat.success_rate is None for stat in rows):
        legend.append(LegendItem("square", palette.no_data, "No rate"))
    frame.legend(legend)
    row_height = min(120.0, (HEIGHT - PAD - PLOT_TOP) / len(rows))
    width = WIDTH - 2 * PAD
    ax = frame.axes(PAD, PLOT_TOP, width, row_height * len(rows))
    most = rows[0].forwarded
    ax.set_xlim(0, most)
    ax.set_ylim(len(rows), 0)
    ax.set_axis_off()
    label, value_font = font(LABEL_PT), font(LABEL_PT, bold=True)
    for i, stat in enumerate(rows):
        rate = "\N{EM DASH}" if stat.success_rate is None else percent(stat.success_rate)
        value = f"{thousands(stat.forwarded)} \N{MIDDLE DOT} {rate}"
        name = frame.fit(stat.name, label, width - frame.width_of(value, value_font) - 32)
        ax.barh(i + 0.7, most, 0.34, color=palette.track, linewidth=0)
        colour = palette.band_colour(band_of(stat.success_rate))
        ax.barh(i + 0.7, stat.forwarded, 0.34, color=colour, linewidth=0)
        ax.text(0, i + 0.44, name, ha="left", va="bottom", fontproperties=label, color=palette.text,
                parse_math=False)
        ax.text(most, i + 0.44, value, ha="right", va="bottom", fontproperties=value_font, color=palette.text,
                parse_math=False)
    return frame.png()


# -- shared by the day-by-day charts ---------------------------------------------------------------


def _daily(points: Iterable[DailyPoint], start: date | None, end: date | None) -> list[DailyPoint]:
    """One point per day from ``start`` to ``end`` (default: the points' own span), duplicates summed."""
    merged: dict[date, tuple[int, int, int]] = {}
    for point in points:
        s, f, r = merged.get(point.day, (0, 0, 0))
        merged[point.day] = (s + max(0, point.succeeded), f + max(0, point.failed), r + max(0, point.retried))
    first = start or (min(merged) if merged else None)
    last = end or (max(merged) if merged else None)
    if first is None or last is None:
        return []
    if first > last:
        raise ValueError(f"start {first} is after end {last}")
    span = (last - first).days + 1
    days = (first + timedelta(offset) for offset in range(span))
    return [DailyPoint(day, *merged.get(day, (0, 0, 0))) for day in days]


def _subtitle(subtitle: str | None, series: Sequence[DailyPoint]) -> str | None:
    if subtitle is not None or not series:
        return subtitle
    return period_label(series[0].day, series[-1].day)


def _day_axes(frame: Frame, series: Sequence[DailyPoint]) -> Axes:
    """The plot area of a day-by-day chart, with horizontal grid lines and thinned date labels."""
    ax = frame.axes(_LEFT, PLOT_TOP, _RIGHT - _LEFT, _BOTTOM - PLOT_TOP)
    ax.yaxis.grid(True, color=frame.theme.grid, linewidth=1.2)
    ax.set_xlim(-0.5, len(series) - 0.5)
    label_width = frame.width_of("May 30", font(LABEL_PT)) + 40
    ticks = date_ticks(len(series), max(2, int((_RIGHT - _LEFT) // label_width)))
    frame.set_ticks(ax, "x", ticks, [day_label(series[i].day) for i in ticks])
    return ax

