"""Green-screen layouts: named templates with parameters, and their pure geometry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

_HEX = re.compile(r"^(?:#|0x)?([0-9a-fA-F]{6})(?:@(?:0(?:\.\d+)?|1(?:\.0+)?))?$")
_NAMED = {"black", "white", "red", "green", "blue", "yellow", "gray", "grey", "magenta",
          "cyan", "orange", "purple", "pink", "navy", "teal"}


class Template(StrEnum):
    """The layouts a connection can pick."""

    SPLIT_SCREEN = "split_screen"
    PICTURE_IN_PICTURE = "picture_in_picture"
    FULL_SCREEN_OVERLAY = "full_screen_overlay"
    CHROMA_KEY = "chroma_key"


class KeyMode(StrEnum):
    """How the key colour is matched.

    ``color`` compares RGB (ffmpeg colorkey): exact for digital green screens and about
    3x cheaper here; ``chroma`` compares only chroma (chromakey): steadier on filmed
    screens with uneven light, at a higher cost.
    """

    COLOR = "color"
    CHROMA = "chroma"


_KEY_DEFAULTS = {KeyMode.COLOR: (0.3, 0.1), KeyMode.CHROMA: (0.15, 0.05)}


class Position(StrEnum):
    """Where the video (or the overlay image) sits on the canvas."""

    CENTER = "center"
    TOP = "top"
    BOTTOM = "bottom"
    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"


def ffmpeg_color(value: str) -> str:
    """Normalise '#RRGGBB', '0xRRGGBB', 'RRGGBB' or a basic colour name for ffmpeg."""
    text = value.strip()
    if text.lower() in _NAMED:
        return text.lower()
    match = _HEX.match(text)
    if not match:
        raise ValueError(f"'{value}' is not a colour: use #RRGGBB or a basic colour name")
    return "0x" + match.group(1).upper()


def color_rgb(value: str) -> tuple[int, int, int]:
    """The RGB triple of a '#RRGGBB'-style colour (names are not resolved)."""
    hexa = ffmpeg_color(value)
    if not hexa.startswith("0x"):
        raise ValueError(f"'{value}' has no RGB value here; use #RRGGBB")
    return int(hexa[2:4], 16), int(hexa[4:6], 16), int(hexa[6:8], 16)


_DEFAULTS: dict[Template, tuple[Position, float]] = {
    Template.SPLIT_SCREEN: (Position.TOP, 1.0),
    Template.PICTURE_IN_PICTURE: (Position.BOTTOM_RIGHT, 0.45),
    Template.FULL_SCREEN_OVERLAY: (Position.BOTTOM_RIGHT, 0.25),
    Template.CHROMA_KEY: (Position.BOTTOM, 1.0),
}


@dataclass(frozen=True)
class Layout:
    """A template and its parameters (the specification's ``greenscreen`` block).

    ``background`` is an image path; ``background_color`` a colour; with neither, the
    project's generated default background is used. ``overlay_image`` is the brand image
    or watermark of ``full_screen_overlay``. ``scale`` is the video's (or the overlay
    image's) width as a fraction of the canvas width; None picks the template's default.
    ``chroma_key`` matches ``key_color`` by ``key_mode`` with ``similarity`` and ``blend``
    (None: the mode's defaults); ``despill`` also pulls green fringes out of the subject.
    """

    template: Template
    background: str | Path | None = None
    background_color: str | None = None
    position: Position | None = None
    border_color: str = "#000000"
    border_width: int = 0
    scale: float | None = None
    overlay_image: str | Path | None = None
    opacity: float = 1.0
    key_color: str = "#00FF00"
    key_mode: KeyMode = KeyMode.COLOR
    similarity: float | None = None
    blend: float | None = None
    despill: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", Template(self.template))
        if self.position is not None:
            object.__setattr__(self, "position", Position(self.position))
        for name in ("background_color", "border_color", "key_color"):
            value = getattr(self, name)
            if value is not None:
                ffmpeg_color(value)
        if self.scale is not None and not 0.05 <= self.scale <= 1.0:
            raise ValueError("scale must be between 0.05 and 1.0 of the canvas width")
        if not 0 <= self.border_width <= 200:
            raise ValueError("border_width must be 0-200 pixels")
        if not 0.0 < self.opacity <= 1.0:
            raise ValueError("opacity must be in (0, 1]")
        object.__setattr__(self, "key_mode", KeyMode(self.key_mode))
        similarity, blend = _KEY_DEFAULTS[self.key_mode]
        if self.similarity is None:
            object.__setattr__(self, "similarity", similarity)
        if self.blend is None:
            object.__setattr__(self, "blend", blend)
        if not 0.00001 <= self.key_similarity <= 1.0 or not 0.0 <= self.key_blend <= 1.0:
            raise ValueError("similarity must be in (0, 1] and blend in [0, 1]")
        if self.template is Template.FULL_SCREEN_OVERLAY and self.overlay_image is None:
            raise ValueError("full_screen_overlay needs overlay_image (a brand image or watermark)")

    @property
    def key_similarity(self) -> float:
        """The similarity in use (the mode's default when not given)."""
        return self.similarity if self.similarity is not None else _KEY_DEFAULTS[self.key_mode][0]

    @property
    def key_blend(self) -> float:
        """The blend in use (the mode's default when not given)."""
        return self.blend if self.blend is not None else _KEY_DEFAULTS[self.key_mode][1]

    @property
    def where(self) -> Position:
        """The position, or the template's default."""
        return self.position or _DEFAULTS[self.template][0]

    @property
    def size(self) -> float:
        """The scale, or the template's default."""
        return self.scale if self.scale is not None else _DEFAULTS[self.template][1]

    @property
    def uses_default_background(self) -> bool:
        """Whether the generated default background is needed."""
        return (self.template is not Template.FULL_SCREEN_OVERLAY
                and self.background is None and self.background_color is None)


@dataclass(frozen=True)
class Placement:
    """Where the (scaled, bordered) video goes on the canvas."""

    video: tuple[int, int]
    position: tuple[int, int]
    border: int


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _anchor(where: Position, box: tuple[int, int], area: tuple[int, int, int, int],
            margin: int) -> tuple[int, int]:
    """Top-left corner of ``box`` at ``where`` inside ``area`` (x, y, w, h)."""
    ax, ay, aw, ah = area
    w, h = box
    x = {"left": ax + margin, "right": ax + aw - w - margin}.get(
        where.value.split("_")[-1], ax + (aw - w) // 2)
    if where in (Position.TOP, Position.TOP_LEFT, Position.TOP_RIGHT):
        y = ay + margin
    elif where in (Position.BOTTOM, Position.BOTTOM_LEFT, Position.BOTTOM_RIGHT):
        y = ay + ah - h - margin
    else:
        y = ay + (ah - h) // 2
    return max(0, x), max(0, y)


def place(layout: Layout, source: tuple[int, int], canvas: tuple[int, int]) -> Placement:
    """The video's size and top-left corner on ``canvas`` for this layout (pure)."""
    sw, sh = source
    cw, ch = canvas
    border = layout.border_width if layout.template is not Template.CHROMA_KEY else 0
    margin = round(cw * 0.04) if layout.template is Template.PICTURE_IN_PICTURE else 0
    if layout.template is Template.SPLIT_SCREEN:
        # The video fills one half (top, bottom or the middle band); the rest shows the
        # background. ``scale`` shrinks it inside its half.
        half = ch // 2
        top = {Position.BOTTOM: ch - half, Position.CENTER: (ch - half) // 2}.get(
            layout.where, 0)
        area = (0, top, cw, half)
    else:
        area = (0, 0, cw, ch)
    # The overlay template's ``scale`` sizes the brand image; its video fills the canvas.
    size = 1.0 if layout.template is Template.FULL_SCREEN_OVERLAY else layout.size
    box_w = area[2] * size - 2 * border
    box_h = area[3] - 2 * border - 2 * margin
    factor = min(box_w / sw, box_h / sh)
    video = (_even(sw * factor), _even(sh * factor))
    outer = (video[0] + 2 * border, video[1] + 2 * border)
    where = layout.where
    if layout.template is Template.SPLIT_SCREEN:
        where = Position.CENTER
    x, y = _anchor(where, outer, area, margin)
    return Placement(video, (x, y), border)
