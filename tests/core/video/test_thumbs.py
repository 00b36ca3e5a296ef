"""Thumbnails and before/after previews."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from core.errors import ErrorCode, MediaError
from core.video import (
    AspectMode,
    FFmpegBinary,
    TransformOptions,
    before_after,
    execute,
    plan,
    probe,
    thumbnail,
)

from .conftest import frame_rgb, near


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's SOF marker."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    at = 2
    while at < len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[at + 5 : at + 9])
            return w, h
        at += 2 + length
    raise AssertionError("no SOF marker")


async def test_thumbnail_at_a_chosen_time(clips: dict[str, Path], tmp_path: Path,
                                          binary: FFmpegBinary) -> None:
    red = await thumbnail(clips["redblue"], tmp_path / "a.jpg", binary=binary, at=0.5)
    blue = await thumbnail(clips["redblue"], tmp_path / "b.jpg", binary=binary, at=1.5)
    assert jpeg_size(red.read_bytes()) == (180, 320)  # never upscaled
    assert near(frame_rgb(red, 0, binary, jpeg_size(red.read_bytes()))[100, 90], (255, 0, 0))
    assert near(frame_rgb(blue, 0, binary, jpeg_size(blue.read_bytes()))[100, 90], (0, 0, 255))


async def test_thumbnail_width_and_clamped_time(clips: dict[str, Path], tmp_path: Path,
                                                binary: FFmpegBinary) -> None:
    thumb = await thumbnail(clips["v720"], tmp_path / "t.jpg", binary=binary, at=999, width=360)
    assert jpeg_size(thumb.read_bytes()) == (360, 640)
    default = await thumbnail(clips["v1080"], tmp_path / "d.jpg", binary=binary, width=None)
    assert jpeg_size(default.read_bytes()) == (1080, 1920)


async def test_thumbnail_of_a_broken_file_is_video_corrupt(clips: dict[str, Path],
                                                           tmp_path: Path,
                                                           binary: FFmpegBinary) -> None:
    with pytest.raises(MediaError) as err:
        await thumbnail(clips["trunc_end"], tmp_path / "x.jpg", binary=binary)
    assert err.value.code == ErrorCode.VIDEO_CORRUPT


async def test_before_after_puts_two_frames_side_by_side(clips: dict[str, Path],
                                                         tmp_path: Path,
                                                         binary: FFmpegBinary) -> None:
    info = await probe(clips["land"], binary=binary)
    the_plan = plan(info, TransformOptions(aspect=AspectMode.PAD_COLOR, pad_color="#FF00FF"))
    after = tmp_path / "after.mp4"
    await execute(the_plan, clips["land"], after, binary=binary)
    image = await before_after(clips["land"], after, tmp_path / "ba.jpg", binary=binary,
                               height=320)
    w, h = jpeg_size(image.read_bytes())
    assert (w, h) == (568 + 16 + 180, 320)
    img = frame_rgb(image, 0, binary, (w, h))
    assert near(img[160, 280], (255, 128, 0), tol=30)  # before: the orange landscape
    assert near(img[160, 575], (255, 255, 255), tol=30)  # the gap
    assert near(img[20, 584 + 90], (255, 0, 255), tol=30)  # after: the magenta pad
    assert near(img[160, 584 + 90], (255, 128, 0), tol=30)  # after: the picture
