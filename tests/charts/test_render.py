"""The charts decode at phone size, are not blank, carry their colours, and are byte-for-byte repeatable."""

from __future__ import annotations

import ast
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import charts
from charts import (
    DARK,
    LIGHT,
    Band,
    ConnectionStat,
    DailyPoint,
    Theme,
    band_of,
    merge_small,
    render_failure_breakdown,
    render_job_volume,
    render_success_trend,
    render_top_connections,
    render_uptime_calendar,
)
from charts.frame import (
    DPI,
    ELLIPSIS,
    HEADER_BOTTOM,
    HEIGHT,
    MISSING,
    TITLE_PT,
    WIDTH,
    Frame,
    clean,
    date_ticks,
    font,
    period_label,
)
from charts.samples import SAMPLE, build_sample

Renderer = Callable[..., bytes]
CHARTS: dict[str, tuple[Renderer, Any]] = {
    "trend": (render_success_trend, SAMPLE.points),
    "volume": (render_job_volume, SAMPLE.points),
    "failures": (render_failure_breakdown, SAMPLE.failures),
    "connections": (render_top_connections, SAMPLE.connections),
    "calendar": (render_uptime_calendar, SAMPLE.uptime),
}
EMPTY: dict[str, Any] = {"trend": [], "volume": [], "failures": {}, "connections": [], "calendar": {}}
DAY = date(2025, 3, 3)


@cache
def rendered(chart: str, theme: str = "light") -> bytes:
    render, data = CHARTS[chart]
    return render(data, theme=theme)


def pixels(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def packed(image: np.ndarray) -> np.ndarray:
    """Each pixel as one 0xRRGGBB integer, so counting and uniquing stay fast."""
    rgb = image.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def count(image: np.ndarray, colour: str) -> int:
    """Pixels of exactly ``colour``: solid fills keep their colour inside the antialiased edge."""
    return int((packed(image) == int(colour[1:], 16)).sum())


def distinct(image: np.ndarray) -> int:
    return len(np.unique(packed(image)))


def theme_of(name: str) -> Theme:
    return LIGHT if name == "light" else DARK


# -- every chart --------------------------------------------------------------------------------------


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_chart_is_a_phone_sized_png_with_content(chart: str, theme: str) -> None:
    image = pixels(rendered(chart, theme))
    height, width, _ = image.shape
    assert width == WIDTH
    assert height == HEIGHT if chart != "calendar" else WIDTH <= height <= 1920
    assert distinct(image) > 40, "blank or nearly so"
    background = theme_of(theme).background
    assert count(image, background) > 0.3 * image.shape[0] * image.shape[1]
    assert tuple(image[2, 2]) == tuple(int(background[i : i + 2], 16) for i in (1, 3, 5))


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_dark_theme_is_dark_and_light_theme_is_light(chart: str) -> None:
    assert pixels(rendered(chart, "dark")).mean() < 60
    assert pixels(rendered(chart, "light")).mean() > 200


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_same_input_gives_the_same_bytes(chart: str) -> None:
    render, data = CHARTS[chart]
    assert render(data, theme="dark") == rendered(chart, "dark")


def test_renders_in_threads_match_renders_in_turn() -> None:
    jobs = ["trend", "volume", "failures", "connections"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda chart: CHARTS[chart][0](CHARTS[chart][1]), jobs))
    assert results == [rendered(chart) for chart in jobs]


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_empty_input_renders_a_message_not_an_error(chart: str) -> None:
    render, _ = CHARTS[chart]
    image = pixels(render(EMPTY[chart], theme="light", subtitle="Last 7 days"))
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert distinct(image) > 10  # title, subtitle and the message
    for colour in (LIGHT.succeeded, LIGHT.failed, LIGHT.accent, LIGHT.slices[0], LIGHT.good, LIGHT.poor):
        assert count(image, colour) < 50


def test_title_is_at_least_28_px_tall() -> None:
    assert TITLE_PT * DPI / 72 >= 28
    header = pixels(rendered("volume"))[:HEADER_BOTTOM]
    inked = np.flatnonzero((header.max(axis=-1) < 60).any(axis=1))  # rows with black title text
    first_run = np.split(inked, np.flatnonzero(np.diff(inked) > 1) + 1)[0]
    assert len(first_run) >= 28


def test_an_unknown_theme_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown theme"):
        render_job_volume(SAMPLE.points, theme="sepia")  # type: ignore[arg-type]


def test_a_theme_can_be_passed_whole() -> None:
    custom = replace(DARK, background="#000000")
    assert pixels(render_job_volume(SAMPLE.points, theme=custom))[2, 2].tolist() == [0, 0, 0]


# -- day by day ---------------------------------------------------------------------------------------


def test_volume_stacks_all_three_outcomes() -> None:
    image = pixels(rendered("volume"))
    assert count(image, LIGHT.succeeded) > 20_000
    assert count(image, LIGHT.failed) > 500
    assert count(image, LIGHT.retried) > 500


def test_trend_draws_the_rate_line_and_marks_days_without_jobs() -> None:
    assert any(p.success_rate is None for p in SAMPLE.points)
    image = pixels(rendered("trend"))
    assert count(image, LIGHT.accent) > 3_000
    assert count(image, LIGHT.hint) > 100  # the rings under the gaps, besides the tick labels


def test_a_day_with_only_retries_is_volume_but_no_rate() -> None:
    point = DailyPoint(DAY, retried=4)
    assert point.total == 4 and point.success_rate is None
    assert DailyPoint(DAY, succeeded=3, failed=1, retried=9).success_rate == 75.0
    trend = pixels(render_success_trend([point]))
    assert count(trend, LIGHT.accent) < 50  # nothing finished: the empty message
    assert count(pixels(render_job_volume([point])), LIGHT.retried) > 10_000


@pytest.mark.parametrize("days", [1, 2, 90, 365])
def test_day_charts_take_any_span(days: int) -> None:
    sample = build_sample(days)
    for render in (render_success_trend, render_job_volume):
        assert pixels(render(sample.points, theme="dark")).shape == (HEIGHT, WIDTH, 3)


def test_zero_days_negative_counts_duplicates_and_unsorted_points_are_tolerated() -> None:
    points = [
        DailyPoint(DAY + timedelta(2), succeeded=5),
        DailyPoint(DAY, succeeded=-3, failed=-1),
        DailyPoint(DAY + timedelta(2), failed=5),
    ]
    image = pixels(render_job_volume(points))
    assert count(image, LIGHT.succeeded) > 10_000 and count(image, LIGHT.failed) > 10_000
    all_zero = pixels(render_job_volume([DailyPoint(DAY), DailyPoint(DAY + timedelta(6))]))
    assert count(all_zero, LIGHT.succeeded) == 0


def test_an_explicit_period_pads_with_empty_days_and_must_be_in_order() -> None:
    points = [DailyPoint(DAY, succeeded=9, failed=1)]
    assert render_success_trend(points, start=DAY - timedelta(29), end=DAY)
    with pytest.raises(ValueError, match="after end"):
        render_job_volume(points, start=DAY, end=DAY - timedelta(1))


@pytest.mark.parametrize("days", [*range(1, 400, 7), 5000])
def test_date_ticks_are_thinned_and_keep_the_last_day(days: int) -> None:
    ticks = date_ticks(days, 6)
    assert 1 <= len(ticks) <= 6
    assert ticks[-1] == days - 1
    assert ticks == sorted(set(ticks)) and ticks[0] >= 0


def test_period_labels_do_not_depend_on_the_locale() -> None:
    assert period_label(DAY, DAY) == "Mar 3, 2025"
    assert period_label(DAY, date(2025, 4, 1)) == "Mar 3 \N{EN DASH} Apr 1, 2025"
    assert period_label(date(2024, 12, 30), DAY) == "Dec 30, 2024 \N{EN DASH} Mar 3, 2025"


# -- failures -----------------------------------------------------------------------------------------


def test_donut_has_its_slices_and_other() -> None:
    image = pixels(rendered("failures"))
    for colour in (*LIGHT.slices, LIGHT.other_slice):
        assert count(image, colour) > 1_000


def test_merge_small_folds_the_tail_into_other() -> None:
    counts = {"a": 50, "b": 20, "c": 10, "d": 8, "e": 5, "f": 3, "g": 2, "h": 1, "i": 1}
    assert merge_small(counts) == [("a", 50), ("b", 20), ("c", 10), ("d", 8), ("e", 5), ("other", 7)]


def test_merge_small_joins_an_explicit_other_and_drops_empty_reasons() -> None:
    merged = merge_small({"Other": 4, "timeout": 10, "none": 0, "negative": -3, "tiny": 0}, max_slices=6)
    assert merged == [("timeout", 10), ("other", 4)]


def test_merge_small_does_not_fold_a_single_reason_into_other_alone() -> None:
    assert merge_small({"big": 1000, "small": 1}) == [("big", 1000), ("small", 1)]
    assert merge_small({"big": 1000, "small": 1, "smaller": 1}) == [("big", 1000), ("other", 2)]


def test_many_small_failure_reasons_still_render() -> None:
    counts = {f"reason {i} \N{FIRE}": i % 4 for i in range(60)}
    assert len(merge_small(counts)) == 6
    assert pixels(render_failure_breakdown(counts, theme="dark")).shape == (HEIGHT, WIDTH, 3)


def test_no_failures_is_said_rather_than_drawn() -> None:
    image = pixels(render_failure_breakdown({"timeout": 0}))
    assert all(count(image, colour) == 0 for colour in LIGHT.slices)


# -- connections --------------------------------------------------------------------------------------


def test_connection_bars_take_the_colour_of_their_success_band() -> None:
    image = pixels(rendered("connections"))
    assert count(image, LIGHT.good) > 5_000
    assert count(image, LIGHT.fair) > 5_000
    assert count(image, LIGHT.poor) > 5_000


def test_long_odd_names_are_cut_and_drawn_without_warnings() -> None:
    items = [
        ("x" * 500, 10, None),
        ("$\\frac{1}{2}$ \N{MAN}\N{ZERO WIDTH JOINER}\N{WOMAN} \N{BLACK HEART SUIT}\N{VARIATION SELECTOR-16}",
         7, 88.0),
        ("家族チャンネル\nnew line\ttab", 5, float("nan")),
        ("W" * 120, 3, 250.0),
        ("", 0, -5.0),
    ]
    image = pixels(render_top_connections(items, theme="dark"))
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert count(image, DARK.fair) > 1_000  # 88 %
    assert count(image, DARK.good) > 1_000  # 250 % is held to 100 %


def test_fit_cuts_with_an_ellipsis_to_the_width() -> None:
    frame = Frame(LIGHT)
    prop = font(10)
    cut = frame.fit("Travel_Insta_to_TechShorts " * 10, prop, 400)
    assert cut.endswith(ELLIPSIS) and frame.width_of(cut, prop) <= 400
    assert frame.fit("short", prop, 400) == "short"


def test_clean_keeps_what_the_font_draws_and_boxes_the_rest() -> None:
    assert clean("Кулинария — café ✓") == "Кулинария — café ✓"
    assert clean("a\N{CLAPPER BOARD}b") == f"a{MISSING}b"
    assert clean("\N{MAN}\N{ZERO WIDTH JOINER}\N{WOMAN}") == MISSING * 2
    assert clean(" two\nlines\x00 ") == "two lines"


def test_a_connection_stat_is_a_plain_tuple() -> None:
    assert ConnectionStat("a", 1, 99.0) == ("a", 1, 99.0)


def test_only_the_top_connections_are_drawn() -> None:
    many = [(f"c{i}", i + 1, 99.0) for i in range(40)]
    assert render_top_connections(many, limit=10) == render_top_connections(many[-10:], limit=10)


# -- calendar -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "band"),
    [(100.0, Band.GOOD), (95.01, Band.GOOD), (95.0, Band.FAIR), (80.0, Band.FAIR), (79.99, Band.POOR),
     (0.0, Band.POOR), (None, Band.NO_DATA), (float("nan"), Band.NO_DATA)],
)
def test_bands(rate: float | None, band: Band) -> None:
    assert band_of(rate) is band


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_calendar_shows_green_yellow_red_and_grey(theme: str) -> None:
    palette = theme_of(theme)
    days = {DAY + timedelta(i): rate for i, rate in enumerate([99.0, 96.0, 90.0, 81.0, 50.0, None, 100.0])}
    image = pixels(render_uptime_calendar(days, theme=palette))
    for colour in (palette.good, palette.fair, palette.poor, palette.no_data):
        assert count(image, colour) > 2_000, colour


def test_the_sample_calendar_spans_every_band() -> None:
    image = pixels(rendered("calendar"))
    assert {band_of(rate) for rate in SAMPLE.uptime.values()} == set(Band)
    for colour in (LIGHT.good, LIGHT.fair, LIGHT.poor, LIGHT.no_data):
        assert count(image, colour) > 2_000


@pytest.mark.parametrize("days", [1, 90, 365])
def test_calendar_stays_portrait_for_a_day_to_a_year(days: int) -> None:
    image = pixels(render_uptime_calendar(build_sample(days).uptime, theme="dark"))
    height, width, _ = image.shape
    assert width == WIDTH and WIDTH <= height <= 1920
    cells = sum(count(image, colour) for colour in (DARK.good, DARK.fair, DARK.poor, DARK.no_data))
    assert cells > days * 1_000


def test_calendar_fills_missing_days_with_grey_and_holds_rates_to_range() -> None:
    image = pixels(render_uptime_calendar({DAY: 120.0, DAY + timedelta(10): -4.0}))
    assert count(image, LIGHT.good) > 2_000  # 120 -> 100
    assert count(image, LIGHT.poor) > 2_000  # -4 -> 0
    assert count(image, LIGHT.no_data) > 9 * 2_000  # the nine days between


# -- the package's boundaries ------------------------------------------------------------------------


def test_charts_import_neither_pyplot_nor_the_domain() -> None:
    for source in Path(charts.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("matplotlib.pyplot", "core", "tortoise")), (source.name, name)
