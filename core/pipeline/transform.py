"""A connection's ``transform_options`` column <-> the video engine's ``TransformOptions``."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from core.pipeline.rules import RuleError
from core.video import AspectMode, Layout, Quality, Template, TransformOptions

_LAYOUT_FIELDS = {f.name for f in fields(Layout)}


def transform_options(data: dict[str, Any] | None) -> TransformOptions:
    """Parse the specification's shape (``upscale``, ``greenscreen``, ``quality``) plus our options."""
    data = dict(data or {})
    green = data.get("greenscreen") or data.get("layout")
    layout = None
    if green:
        if green is not True and not isinstance(green, dict):
            raise RuleError("greenscreen", "greenscreen is true, false or an object of layout options")
        spec: dict[str, Any] = ({"template": Template.PICTURE_IN_PICTURE.value} if green is True
                                else dict(green))
        unknown = set(spec) - _LAYOUT_FIELDS
        if unknown:
            raise RuleError("greenscreen", f"unknown layout option(s): {', '.join(sorted(unknown))}")
        try:
            layout = Layout(**spec)
        except (TypeError, ValueError) as exc:
            raise RuleError("greenscreen", str(exc)) from None
    try:
        quality = Quality(data.get("quality", Quality.OPTIMIZED.value))
    except ValueError:
        raise RuleError("quality", "quality is original, optimized or maximum_compatibility") from None
    try:
        aspect = AspectMode(data.get("aspect", AspectMode.PAD_BLUR.value))
    except ValueError:
        raise RuleError("aspect", "aspect is pad_blur, pad_color or crop") from None
    try:
        return TransformOptions(
            upscale=bool(data.get("upscale", False)), upscale_4k=bool(data.get("upscale_4k", False)),
            quality=quality, aspect=aspect, pad_color=str(data.get("pad_color", "#000000")),
            layout=layout, reject_too_long=bool(data.get("reject_too_long", False)),
        )
    except ValueError as exc:
        raise RuleError("pad_color", str(exc)) from None


def transform_json(options: TransformOptions) -> dict[str, Any]:
    """The column value for ``options``."""
    out: dict[str, Any] = {
        "upscale": options.upscale, "upscale_4k": options.upscale_4k, "quality": options.quality.value,
        "aspect": options.aspect.value, "pad_color": options.pad_color,
        "reject_too_long": options.reject_too_long, "greenscreen": False,
    }
    if options.layout is not None:
        layout = {f: getattr(options.layout, f) for f in _LAYOUT_FIELDS}
        out["greenscreen"] = {k: (str(v) if hasattr(v, "__fspath__") else getattr(v, "value", v))
                              for k, v in layout.items() if v is not None}
    return out
