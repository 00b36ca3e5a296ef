"""Green-screen layouts: pure geometry, and the pixels of real composites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.video import (
    FFmpegBinary,
    KeyMode,
    Layout,
    Position,
    Template,
    TransformOptions,
    default_background,
    execute,
    plan,
    probe,
    youtube_shorts,
)
from core.video.background import background_filter
from core.video.layouts import color_rgb, ffmpeg_color, place

from .conftest import frame_of, frame_rgb, near


async def _compose(clips: dict[str, Path], name: str, layout: Layout, tmp_path: Path,
                   binary: FFmpegBinary, **opts: bool) -> tuple[np.ndarray, Path]:
    info = await probe(clips[name], binary=binary)
    the_plan = plan(info, TransformOptions(layout=layout, **opts), youtube_shorts())
    dst = tmp_path / "out.mp4"
    out = await execute(the_plan, clips[name], dst, binary=binary, assets_dir=tmp_path / "assets")
    assert (out.width, out.height) == (the_plan.width, the_plan.height)
    assert out.video_codec == "h264" and out.width * 16 == out.height * 9
    return await frame_of(dst, 0.5, binary), dst


def _green_share(img: np.ndarray) -> float:
    rgb = img.astype(int)
    green = (rgb[..., 1] > 180) & (rgb[..., 0] < 90) & (rgb[..., 2] < 90)
    return float(green.mean())


@pytest.mark.parametrize("mode", list(KeyMode))
async def test_chroma_key_removes_the_key_colour(clips: dict[str, Path], tmp_path: Path,
                                                 binary: FFmpegBinary, mode: KeyMode) -> None:
    source = await frame_of(clips["green"], 0.5, binary)
    assert _green_share(source) > 0.8  # the test would catch a key that does nothing
    layout = Layout(Template.CHROMA_KEY, background_color="#0000FF", key_mode=mode,
                    despill=mode is KeyMode.CHROMA)
    img, _ = await _compose(clips, "green", layout, tmp_path, binary)
    assert _green_share(img) < 0.002
    assert near(img[10, 10], (0, 0, 255)) and near(img[630, 350], (0, 0, 255))
    assert near(img[320, 180], (255, 0, 0), tol=30)  # the subject stays


async def test_chroma_key_on_the_default_background(clips: dict[str, Path], tmp_path: Path,
                                                    binary: FFmpegBinary) -> None:
    layout = Layout(Template.CHROMA_KEY, similarity=0.35, blend=0.1)
    img, _ = await _compose(clips, "green", layout, tmp_path, binary, upscale=True)
    assert img.shape == (1920, 1080, 3) and _green_share(img) < 0.002
    bg_path = tmp_path / "assets" / "default_background_1080x1920.png"
    bg = frame_rgb(bg_path, 0, binary, (1080, 1920))
    assert near(img[40, 40], tuple(bg[40, 40]), tol=12)
    assert near(img[1880, 1040], tuple(bg[1880, 1040]), tol=12)


async def test_split_screen_with_colour_and_border(clips: dict[str, Path], tmp_path: Path,
                                                   binary: FFmpegBinary) -> None:
    layout = Layout("split_screen", background_color="#FFFF00", border_color="#FFFFFF",
                    border_width=6, position=Position.TOP)
    img, _ = await _compose(clips, "green", layout, tmp_path, binary)
    assert near(img[480, 180], (255, 255, 0)) and near(img[630, 20], (255, 255, 0))
    spot = place(layout, (360, 640), (360, 640))
    x, y = spot.position
    assert y == 0 and spot.video[1] + 12 == 320
    assert near(img[y + 2, x + spot.video[0] // 2], (255, 255, 255), tol=40)  # the border
    assert near(img[y + 20, x + 20], (0, 255, 0), tol=40)  # the video itself


async def test_picture_in_picture_corner(clips: dict[str, Path], tmp_path: Path,
                                         binary: FFmpegBinary) -> None:
    layout = Layout("picture_in_picture", background_color="#0000FF", position="top_left",
                    scale=0.4, border_color="#FF0000", border_width=4)
    img, _ = await _compose(clips, "green", layout, tmp_path, binary)
    spot = place(layout, (360, 640), (360, 640))
    x, y = spot.position
    assert (x, y) == (14, 14) and spot.video[0] == 136
    assert near(img[600, 300], (0, 0, 255))
    assert near(img[y + 1, x + 60], (255, 0, 0), tol=60)
    assert near(img[y + 10, x + 10], (0, 255, 0), tol=40)


async def test_full_screen_overlay_brand_image(clips: dict[str, Path], tmp_path: Path,
                                               binary: FFmpegBinary) -> None:
    layout = Layout("full_screen_overlay", overlay_image=clips["brand"],
                    position=Position.TOP_RIGHT, scale=0.25)
    img, _ = await _compose(clips, "green", layout, tmp_path, binary)
    # brand: 90 px wide at 14 px from the top-right corner of the 360x640 frame
    assert near(img[14 + 45, 360 - 14 - 45], (255, 0, 255), tol=30)
    assert near(img[600, 40], (0, 255, 0), tol=30)


def test_placements_stay_inside_the_canvas() -> None:
    canvas = (1080, 1920)
    for template in Template:
        for where in Position:
            extra = {"overlay_image": "x.png"} if template is Template.FULL_SCREEN_OVERLAY else {}
            layout = Layout(template, position=where, border_width=8, **extra)
            for src in ((1080, 1920), (1920, 1080), (1080, 1080), (640, 480)):
                spot = place(layout, src, canvas)
                w, h = spot.video
                x, y = spot.position
                b = 2 * spot.border
                assert 0 <= x and x + w + b <= 1080 and 0 <= y and y + h + b <= 1920
                assert w % 2 == 0 and h % 2 == 0
                assert abs(w / h - src[0] / src[1]) < 0.02  # aspect kept
    bottom = place(Layout("split_screen", position="bottom"), (1920, 1080), canvas)
    assert bottom.position[1] >= 960


def test_layout_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="colour"):
        Layout("split_screen", background_color="not-a-colour")
    with pytest.raises(ValueError, match="overlay_image"):
        Layout("full_screen_overlay")
    with pytest.raises(ValueError, match="scale"):
        Layout("picture_in_picture", scale=3.0)
    with pytest.raises(ValueError):
        Layout("mosaic")  # type: ignore[arg-type]
    assert ffmpeg_color("#00ff00") == "0x00FF00" and ffmpeg_color("white") == "white"
    assert color_rgb("0x123456") == (0x12, 0x34, 0x56)
    assert Layout("chroma_key").similarity == 0.3
    assert Layout("chroma_key", key_mode="chroma").similarity == 0.15
    with pytest.raises(ValueError, match="similarity"):
        Layout("chroma_key", similarity=0.0)


async def test_default_background_is_generated_once_and_deterministic(
        tmp_path: Path, binary: FFmpegBinary) -> None:
    first = await default_background(binary=binary, width=108, height=192, directory=tmp_path)
    data = first.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    again = await default_background(binary=binary, width=108, height=192, directory=tmp_path)
    assert again == first and again.read_bytes() == data
    other = await default_background(binary=binary, width=108, height=192,
                                     directory=tmp_path / "b")
    assert other.read_bytes() == data  # same pixels every time
    img = frame_rgb(first, 0, binary, (108, 192))
    assert not near(img[10, 10], tuple(img[180, 100]), tol=40)  # a gradient, not a fill
    assert _green_share(img) == 0.0
    assert "gradients" in background_filter(108, 192)
