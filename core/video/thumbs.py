"""Still images: a JPEG thumbnail at a chosen time, and a before/after preview."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import ffmpeg

from core.errors import ErrorCode, MediaError
from core.video.binary import FFmpegBinary
from core.video.probe import probe
from core.video.runner import run_ffmpeg

_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "error")
GAP = 16  # pixels of white between the two halves of a before/after image


async def _time_in(path: str, at: float | None, binary: FFmpegBinary) -> tuple[float, float]:
    """A seek time inside the video (default: a third in) and the video's duration."""
    info = await probe(path, binary=binary)
    last = max(0.0, info.duration - max(0.1, 1.5 / (info.fps or 30)))
    when = info.duration / 3 if at is None else at
    return min(max(0.0, when), last), info.duration


def _jpeg_args(stream: Any, dst: str, binary: FFmpegBinary, quality: int) -> list[str]:
    out = ffmpeg.output(stream, dst, format="image2", vcodec="mjpeg", update=1,
                        **{"frames:v": 1, "q:v": quality})
    args: list[str] = out.global_args(*_ARGS).overwrite_output().compile(cmd=binary.ffmpeg)
    return args


def _non_empty(path: str) -> bool:
    return os.path.isfile(path) and os.path.getsize(path) > 0


async def _finish(args: list[str], dst: str, what: str) -> Path:
    await run_ffmpeg(args, duration=1.0)
    if not await asyncio.to_thread(_non_empty, dst):
        raise MediaError(f"ffmpeg produced no {what}", code=ErrorCode.VIDEO_CORRUPT)
    return Path(dst)


async def thumbnail(
    src: str | Path, dst: str | Path, *, binary: FFmpegBinary, at: float | None = None,
    width: int | None = 720, quality: int = 3,
) -> Path:
    """Write a JPEG of the frame at ``at`` seconds (clamped into the video) to ``dst``."""
    src, dst = os.fspath(src), os.fspath(dst)
    when, _ = await _time_in(src, at, binary)
    stream = ffmpeg.input(src, ss=f"{when:.3f}").video
    if width:  # shrink to ``width`` at most; a thumbnail gains nothing from upscaling
        stream = stream.filter("scale", f"min({width},iw)", -2, flags="lanczos")
    stream = stream.filter("setsar", 1)
    return await _finish(_jpeg_args(stream, dst, binary, quality), dst, "thumbnail")


async def before_after(
    before: str | Path, after: str | Path, dst: str | Path, *, binary: FFmpegBinary,
    at: float | None = None, height: int = 640, quality: int = 3,
) -> Path:
    """Write a JPEG with the source frame (left) and the transformed frame (right)."""
    before, after, dst = os.fspath(before), os.fspath(after), os.fspath(dst)
    when, _ = await _time_in(after, at, binary)
    when_before, _ = await _time_in(before, when, binary)
    halves = []
    for path, t in ((before, when_before), (after, when)):
        halves.append(
            ffmpeg.input(path, ss=f"{t:.3f}").video
            .filter("scale", -2, height, flags="lanczos")
            .filter("setsar", 1)
            .filter("format", "yuv420p")
        )
    left = halves[0].filter("pad", f"iw+{GAP}", "ih", 0, 0, color="white")
    both = ffmpeg.filter([left, halves[1]], "hstack", inputs=2)
    return await _finish(_jpeg_args(both, dst, binary, quality), dst, "before/after image")
