"""Picture geometry: 9:16 boxes, standard sizes, fitting (pure integer arithmetic)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Geometry:
    """How the displayed source maps onto the output canvas.

    ``crop`` (w, h, x, y) is cut from the displayed source first; the result is scaled to
    ``video`` and placed at ``offset`` on ``canvas``; ``fill`` paints the rest.
    """

    canvas: tuple[int, int]
    video: tuple[int, int]
    offset: tuple[int, int] = (0, 0)
    crop: tuple[int, int, int, int] | None = None
    fill: str = "none"  # none | blur | color | layout (the layout paints the canvas)
    color: str = "0x000000"


def even(value: float) -> int:
    """The nearest even integer (at least 2): 4:2:0 video needs even sides."""
    return max(2, int(round(value / 2.0)) * 2)


def vertical_box(w: int, h: int, *, inside: bool) -> tuple[int, int]:
    """The 9:16 box around (``inside`` False) or within (True) a w x h picture."""
    wider = w * 16 > h * 9
    if wider == inside:  # crop a wide picture, or pad a tall one: keep the height
        return even(h * 9 / 16), even(h)
    return even(w), even(w * 16 / 9)


def shape_size(box: tuple[int, int], short_side: int) -> tuple[int, int]:
    """``box`` scaled so its short side is ``short_side``; 9:16 and 1:1 snap exactly."""
    w, h = box
    for aw, ah in ((9, 16), (16, 9), (1, 1)):
        if abs(w / h - aw / ah) <= 0.01 * aw / ah:
            scale = short_side / min(aw, ah)
            return even(aw * scale), even(ah * scale)
    factor = short_side / min(w, h)
    return even(w * factor), even(h * factor)


def fit(src: tuple[int, int], canvas: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Size and top-left offset of ``src`` scaled to fit inside ``canvas``, centred."""
    factor = min(canvas[0] / src[0], canvas[1] / src[1])
    video = (min(canvas[0], even(src[0] * factor)), min(canvas[1], even(src[1] * factor)))
    offset = ((canvas[0] - video[0]) // 2 // 2 * 2, (canvas[1] - video[1]) // 2 // 2 * 2)
    return video, offset
