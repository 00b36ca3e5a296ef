"""The video engine: probe, plan, execute (one ffmpeg pass), layouts and stills.

Typical use::

    binary = locate(settings.ffmpeg_binary)
    info = await probe(src, binary=binary)
    the_plan = plan(info, TransformOptions(upscale=True), instagram_reels())
    out = await execute(the_plan, src, dst, binary=binary, on_progress=report)
"""

from __future__ import annotations

from core.video.background import default_background
from core.video.binary import FFmpegBinary, locate
from core.video.geometry import Geometry
from core.video.layouts import KeyMode, Layout, Position, Template
from core.video.plan import (
    AspectMode,
    AudioAction,
    Change,
    ChangeKind,
    Plan,
    TransformOptions,
    plan,
)
from core.video.probe import ProbeResult, probe
from core.video.profiles import (
    DestinationProfile,
    EncoderSettings,
    Quality,
    instagram_reels,
    youtube_shorts,
)
from core.video.runner import ProgressCallback, execute
from core.video.thumbs import before_after, thumbnail

__all__ = [
    "AspectMode", "AudioAction", "Change", "ChangeKind", "DestinationProfile",
    "EncoderSettings", "FFmpegBinary", "Geometry", "KeyMode", "Layout", "Plan", "Position",
    "ProbeResult", "ProgressCallback", "Quality", "Template", "TransformOptions",
    "before_after", "default_background", "execute", "instagram_reels", "locate", "plan",
    "probe", "thumbnail", "youtube_shorts",
]
