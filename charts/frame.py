"""The frame every chart shares: a fixed-size Figure on its own Agg canvas, laid out in pixels.

Nothing here writes global state (rcParams, pyplot's figure list, warning filters), and what
shows is set explicitly rather than read from rcParams. Fonts are pinned to the DejaVu Sans files
matplotlib ships, and text is cleaned of characters those files lack, so a missing-glyph warning
never fires: filtering it instead would take ``warnings.catch_warnings``, a process-wide switch
that is unsafe across threads.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, get_font
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch
from matplotlib.transforms import Affine2D, Transform

from charts.theme import Theme

# 216 dpi makes a point 3 px: a 1080 px image filling a 3x phone screen shows 1 pt as about 1 dp.
DPI = 216
WIDTH = 1080
HEIGHT = 1350
# Heights are whole eighths of an inch, so the canvas is exactly the height asked for (Agg truncates).
HEIGHT_STEP = DPI // 8
PAD = 48

TITLE_PT = 16.0  # 48 px
SUBTITLE_PT = 11.0
LABEL_PT = 10.0
SMALL_PT = 9.0

HEADER_BOTTOM = 160  # px from the top: title and subtitle live above this
LEGEND_TOP = 180
PLOT_TOP = 270

ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"
MISSING = "\N{WHITE SQUARE}"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CONTROLS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})  # never drawn
_MARKS = frozenset({"Mn", "Me", "Sk"})  # dropped when the font lacks them rather than boxed

_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_REGULAR = _FONT_DIR / "DejaVuSans.ttf"
_BOLD = _FONT_DIR / "DejaVuSans-Bold.ttf"


@lru_cache(maxsize=1)
def _glyphs() -> frozenset[int]:
    regular = get_font(str(_REGULAR)).get_charmap()
    bold = get_font(str(_BOLD)).get_charmap()
    return frozenset(regular.keys() & bold.keys())


def clean(text: str) -> str:
    """One line of text the pinned fonts can draw: unknown symbols become a box, invisible marks go."""
    glyphs = _glyphs()
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace():
            out.append(" ")
        elif category in _CONTROLS:
            continue
        elif ord(char) in glyphs:
            out.append(char)
        elif category not in _MARKS:
            # emoji, CJK and other scripts DejaVu lacks; joiners, selectors and skin tones were dropped
            out.append(MISSING)
    return " ".join("".join(out).split())


def font(size: float, *, bold: bool = False) -> FontProperties:
    """DejaVu Sans at ``size`` points, from matplotlib's own files."""
    return FontProperties(fname=_BOLD if bold else _REGULAR, size=size)


def thousands(value: int) -> str:
    """``1,247``."""
    return f"{value:,}"


def percent(value: float) -> str:
    """``95.3%``, or ``100%`` without a trailing ``.0``."""
    text = f"{value:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def day_label(day: date) -> str:
    """``Mar 7``, independent of the process locale."""
    return f"{MONTHS[day.month - 1]} {day.day}"


def period_label(start: date, end: date) -> str:
    """``Mar 3 – Apr 1, 2025``; the default subtitle of the date charts."""
    if start == end:
        return f"{day_label(start)}, {start.year}"
    if start.year == end.year:
        return f"{day_label(start)} \N{EN DASH} {day_label(end)}, {end.year}"
    return f"{day_label(start)}, {start.year} \N{EN DASH} {day_label(end)}, {end.year}"


def date_ticks(days: int, max_labels: int) -> list[int]:
    """Day indexes to label, counted back from the last day so the latest day is always labelled."""
    steps = (1, 2, 3, 7, 14, 28, 56, 91, 182, 364)  # days, weeks, months, quarters, years
    step = next((s for s in steps if math.ceil(days / s) <= max_labels), math.ceil(days / max_labels))
    return sorted(range(days - 1, -1, -step))


SwatchKind = Literal["square", "line", "ring", "none"]


@dataclass(frozen=True, slots=True)
class LegendItem:
    """One legend entry: a swatch of ``kind`` in ``colour``, then the label."""

    kind: SwatchKind
    colour: str
    label: str


class Frame:
    """One chart's figure on its own Agg canvas, with helpers placing things in px from the top left."""

    def __init__(self, theme: Theme, height: int = HEIGHT) -> None:
        self.theme = theme
        self.height = -(-height // HEIGHT_STEP) * HEIGHT_STEP
        self.figure = Figure(
            figsize=(WIDTH / DPI, self.height / DPI),
            dpi=DPI,
            facecolor=theme.background,
            edgecolor=theme.background,
        )
        self.figure.set_layout_engine("none")  # whatever rcParams say: every artist is placed by hand
        self.canvas = FigureCanvasAgg(self.figure)
        self._renderer = self.canvas.get_renderer()
        # top-left pixel coordinates -> figure fraction
        to_fraction = Affine2D().scale(1 / WIDTH, -1 / self.height).translate(0, 1)
        self.px: Transform = to_fraction + self.figure.transFigure

    # -- text -------------------------------------------------------------------------------------

    def width_of(self, text: str, prop: FontProperties) -> float:
        """Rendered width of already cleaned ``text`` in px."""
        width, _, _ = self._renderer.get_text_width_height_descent(text, prop, ismath=False)
        return float(width)

    def fit(self, text: str, prop: FontProperties, max_px: float) -> str:
        """``text`` cleaned and, if wider than ``max_px``, cut with an ellipsis."""
        text = clean(text)
        if self.width_of(text, prop) <= max_px:
            return text
        low, high = 0, len(text)  # the longest prefix that fits lies in [low, high)
        while low < high - 1:
            middle = (low + high) // 2
            if self.width_of(text[:middle].rstrip() + ELLIPSIS, prop) <= max_px:
                low = middle
            else:
                high = middle
        return text[:low].rstrip() + ELLIPSIS

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = LABEL_PT,
        colour: str | None = None,
        bold: bool = False,
        ha: str = "left",
        va: str = "top",
        max_px: float | None = None,
    ) -> None:
        """Figure text at px (x, y) from the top left, cleaned and fitted to ``max_px``."""
        prop = font(size, bold=bold)
        body = self.fit(text, prop, max_px) if max_px is not None else clean(text)
        self.figure.text(
            x, y, body, transform=self.px, fontproperties=prop, color=colour or self.theme.text,
            ha=ha, va=va, parse_math=False,
        )

    # -- furniture --------------------------------------------------------------------------------

    def header(self, title: str, subtitle: str | None) -> None:
        """Bold title and a muted period line, both cut to the width."""
        self.text(PAD, 40, title, size=TITLE_PT, bold=True, max_px=WIDTH - 2 * PAD)
        if subtitle:
            self.text(PAD, 104, subtitle, size=SUBTITLE_PT, colour=self.theme.hint, max_px=WIDTH - 2 * PAD)

    def legend(self, items: Sequence[LegendItem], top: float = LEGEND_TOP) -> float:
        """Swatches and labels in rows from ``top``; returns the px just below the last row."""
        prop = font(LABEL_PT)
        row_height, mark, gap = 44.0, 30.0, 36.0
        x, y = float(PAD), top
        for item in items:
            label = clean(item.label)
            swatch_width = 0.0 if item.kind == "none" else mark + 12
            width = swatch_width + self.width_of(label, prop)
            if x > PAD and x + width > WIDTH - PAD:
                x, y = float(PAD), y + row_height
            self.swatch(item.kind, item.colour, x, y + row_height / 2 - 6)
            self.figure.text(
                x + swatch_width, y + row_height / 2 - 6, label, transform=self.px, fontproperties=prop,
                color=self.theme.text if item.kind == "none" else self.theme.hint, ha="left",
                va="center_baseline", parse_math=False,
            )
            x += width + gap
        return y + row_height

    def swatch(self, kind: SwatchKind, colour: str, x: float, middle: float, size: float = 30) -> None:
        """A legend mark of ``kind`` with its left edge at ``x``, centred on the px line ``middle``."""
        if kind == "square":
            self.figure.add_artist(
                FancyBboxPatch(
                    (x, middle - size / 2), size, size, boxstyle="round,pad=0,rounding_size=6",
                    transform=self.px, facecolor=colour, edgecolor="none", linewidth=0,
                )
            )
        elif kind == "line":
            self.figure.add_artist(
                Line2D(
                    [x, x + size / 2, x + size], [middle] * 3, transform=self.px, color=colour,
                    linewidth=2.5, marker="o", markevery=[1], markersize=5, solid_capstyle="round",
                )
            )
        elif kind == "ring":
            self.figure.add_artist(
                Line2D(
                    [x + size / 2], [middle], transform=self.px, linestyle="none", marker="o", markersize=5,
                    markerfacecolor="none", markeredgecolor=colour, markeredgewidth=1.5,
                )
            )

    def axes(self, left: float, top: float, width: float, height: float) -> Axes:
        """A bare axes at a px rectangle: no spines, no tick marks, background-coloured."""
        ax = self.figure.add_axes(
            (left / WIDTH, 1 - (top + height) / self.height, width / WIDTH, height / self.height)
        )
        ax.set_facecolor(self.theme.background)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(
            which="both", length=0, pad=10, colors=self.theme.hint, labelcolor=self.theme.hint,
            labelsize=LABEL_PT,
        )
        ax.set_axisbelow(True)
        return ax

    def set_ticks(
        self, ax: Axes, axis: Literal["x", "y"], ticks: Sequence[float], labels: Sequence[str]
    ) -> None:
        """Fixed ticks with labels in the pinned font."""
        setter = ax.set_xticks if axis == "x" else ax.set_yticks
        setter(
            list(ticks), [clean(label) for label in labels], fontproperties=font(LABEL_PT),
            color=self.theme.hint, parse_math=False,
        )

    def message(self, text: str, middle: float | None = None) -> None:
        """A centred muted line, for a period with nothing to draw."""
        centre = (PLOT_TOP + self.height) / 2 if middle is None else middle
        self.figure.add_artist(
            Line2D(
                [WIDTH / 2], [centre - 90], transform=self.px, linestyle="none", marker="o", markersize=22,
                markerfacecolor="none", markeredgecolor=self.theme.grid, markeredgewidth=4,
            )
        )
        self.text(WIDTH / 2, centre + 10, text, size=SUBTITLE_PT, colour=self.theme.hint, ha="center",
                  max_px=WIDTH - 2 * PAD)

    def png(self) -> bytes:
        """The figure as PNG bytes, identical for identical input (no software or time stamp)."""
        buffer = io.BytesIO()
        self.canvas.print_png(buffer, metadata={"Software": None})
        return buffer.getvalue()
