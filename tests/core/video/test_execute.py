"""The executor on generated clips: probe the output and look at its pixels."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import ErrorCode, MediaError
from core.video import (
    AspectMode,
    AudioAction,
    ChangeKind,
    DestinationProfile,
    FFmpegBinary,
    Plan,
    ProbeResult,
    Quality,
    TransformOptions,
    execute,
    instagram_reels,
    plan,
    probe,
    youtube_shorts,
)
from core.video.graph import build_args
from core.video.runner import ProgressParser, classify_failure

from .conftest import frame_of, near, video_md5


def _fresh_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _listing(path: Path) -> list[Path]:
    return list(path.iterdir())


async def _run(clips: dict[str, Path], name: str, tmp_path: Path, binary: FFmpegBinary,
               options: TransformOptions | None = None,
               profile: DestinationProfile | None = None,
               **kw: Any) -> tuple[Plan, ProbeResult, Path]:
    info = await probe(clips[name], binary=binary)
    the_plan = plan(info, options or TransformOptions(), profile or youtube_shorts())
    dst = _fresh_dir(tmp_path) / f"{name}_out.mp4"
    out = await execute(the_plan, clips[name], dst, binary=binary, **kw)
    return the_plan, out, dst


async def test_compliant_clip_is_stream_copied_with_faststart(
        clips: dict[str, Path], tmp_path: Path, binary: FFmpegBinary) -> None:
    the_plan, out, dst = await _run(clips, "v720", tmp_path, binary)
    assert the_plan.copy_video and ChangeKind.FASTSTART in the_plan.kinds
    assert out.moov_first is True and (out.width, out.height) == (720, 1280)
    # identical video packets prove no re-encode happened
    assert video_md5(dst, binary) == video_md5(clips["v720"], binary)
    assert out.audio_codec == "aac" and out.path == str(dst)


async def test_reel_ready_clip_passes_through_to_instagram(
        clips: dict[str, Path], tmp_path: Path, binary: FFmpegBinary) -> None:
    the_plan, out, dst = await _run(clips, "reel_ok", tmp_path, binary, profile=instagram_reels())
    assert [c.kind for c in the_plan.changes] == [ChangeKind.STREAM_COPY]
    assert video_md5(dst, binary) == video_md5(clips["reel_ok"], binary)


async def test_upscale_720p_to_1080x1920(clips: dict[str, Path], tmp_path: Path,
                                         binary: FFmpegBinary) -> None:
    seen: list[float] = []
    the_plan, out, _ = await _run(clips, "v720", tmp_path, binary,
                                  TransformOptions(upscale=True), on_progress=seen.append)
    assert (out.width, out.height) == (1080, 1920) and out.video_codec == "h264"
    assert out.pix_fmt == "yuv420p" and out.moov_first is True
    assert out.duration == pytest.approx(1.0, abs=0.15) and out.audio_codec == "aac"
    assert seen and seen[-1] == 100.0 and seen == sorted(seen)
    assert all(0.0 <= p <= 100.0 for p in seen)


async def test_landscape_padded_with_a_colour(clips: dict[str, Path], tmp_path: Path,
                                              binary: FFmpegBinary) -> None:
    opts = TransformOptions(aspect=AspectMode.PAD_COLOR, pad_color="#FF00FF")
    _, out, dst = await _run(clips, "land", tmp_path, binary, opts)
    assert (out.width, out.height) == (1080, 1920)
    img = await frame_of(dst, 0.5, binary)
    assert near(img[100, 540], (255, 0, 255)) and near(img[1820, 540], (255, 0, 255))
    assert near(img[960, 540], (255, 128, 0), tol=30)  # the orange picture in the middle


async def test_landscape_padded_with_its_blurred_self(clips: dict[str, Path], tmp_path: Path,
                                                      binary: FFmpegBinary) -> None:
    _, out, dst = await _run(clips, "land", tmp_path, binary)
    assert (out.width, out.height) == (1080, 1920)
    img = await frame_of(dst, 0.5, binary)
    top = img[100, 540].astype(int)
    # a darkened orange, not black and not a pad colour
    assert top[0] > 150 and top[0] > top[1] > top[2] and top[2] < 60


async def test_four_by_three_cropped_to_the_centre(clips: dict[str, Path], tmp_path: Path,
                                                   binary: FFmpegBinary) -> None:
    # the clip is red | white | blue bands (200 | 240 | 200 px of 640)
    _, out, dst = await _run(clips, "four3", tmp_path, binary,
                             TransformOptions(aspect=AspectMode.CROP))
    assert (out.width, out.height) == (270, 480)
    img = await frame_of(dst, 0.5, binary)
    assert near(img[240, 135], (255, 255, 255))
    assert near(img[240, 4], (255, 0, 0), tol=60) and near(img[240, 265], (0, 0, 255), tol=60)


async def test_square_goes_to_youtube_untouched_and_to_reels_padded(
        clips: dict[str, Path], tmp_path: Path, binary: FFmpegBinary) -> None:
    yt, out, _ = await _run(clips, "square", tmp_path, binary)
    assert yt.copy_video and (out.width, out.height) == (1080, 1080)
    ig, out, _ = await _run(clips, "square", tmp_path / "ig", binary, profile=instagram_reels())
    assert (out.width, out.height) == (1080, 1920) and out.fps == pytest.approx(30.0)
    assert out.duration == pytest.approx(3.0, abs=0.15)  # held to the 3 s minimum


async def test_rotated_source_is_turned_when_encoding(clips: dict[str, Path], tmp_path: Path,
                                                      binary: FFmpegBinary) -> None:
    copy_plan, copied, _ = await _run(clips, "rot", tmp_path, binary)
    assert copy_plan.copy_video and copied.rotation == 90
    assert (copied.display_width, copied.display_height) == (180, 320)
    p, out, _ = await _run(clips, "rot", tmp_path / "up", binary, TransformOptions(upscale=True))
    assert ChangeKind.ROTATE in p.kinds
    assert (out.width, out.height, out.rotation) == (1080, 1920, 0)


async def test_200_seconds_trimmed_to_180_for_shorts(clips: dict[str, Path], tmp_path: Path,
                                                     binary: FFmpegBinary) -> None:
    p, out, _ = await _run(clips, "long200", tmp_path, binary)
    assert p.copy_video and p.trim == 180.0
    assert out.duration == pytest.approx(180.0, abs=1.5) and out.audio_codec == "aac"


async def test_90_seconds_fits_reels_and_a_lower_cap_trims(clips: dict[str, Path], tmp_path: Path,
                                                          binary: FFmpegBinary) -> None:
    p, out, _ = await _run(clips, "long90", tmp_path, binary, profile=instagram_reels())
    assert p.copy_video and p.trim is None and out.duration == pytest.approx(90.0, abs=0.2)
    p, out, _ = await _run(clips, "long90", tmp_path / "c", binary,
                           profile=instagram_reels(max_duration=60))
    assert p.trim == 60.0 and out.duration == pytest.approx(60.0, abs=0.3)


async def test_frame_rate_clamped_and_made_constant_for_reels(
        clips: dict[str, Path], tmp_path: Path, binary: FFmpegBinary) -> None:
    _, hi, _ = await _run(clips, "hifps", tmp_path, binary, profile=instagram_reels())
    assert hi.fps == pytest.approx(60.0) and not hi.variable_frame_rate
    _, vfr, _ = await _run(clips, "vfr", tmp_path / "v", binary, profile=instagram_reels())
    assert vfr.fps == pytest.approx(30.0) and not vfr.variable_frame_rate


async def test_audio_resampled_and_downmixed_while_video_is_copied(
        clips: dict[str, Path], tmp_path: Path, binary: FFmpegBinary) -> None:
    p, out, dst = await _run(clips, "hiaudio", tmp_path, binary)
    assert p.copy_video and p.audio is AudioAction.ENCODE
    assert (out.audio_codec, out.audio_sample_rate, out.audio_channels) == ("aac", 48000, 2)
    assert out.container.startswith("mov") and out.moov_first
    assert video_md5(dst, binary) == video_md5(clips["hiaudio"], binary)


async def test_vp9_without_audio_becomes_h264(clips: dict[str, Path], tmp_path: Path,
                                              binary: FFmpegBinary) -> None:
    _, out, _ = await _run(clips, "vp9", tmp_path, binary)
    assert out.video_codec == "h264" and out.audio_codec is None
    assert (out.width, out.height) == (180, 320)


async def test_maximum_compatibility_output(clips: dict[str, Path], tmp_path: Path,
                                            binary: FFmpegBinary) -> None:
    opts = TransformOptions(quality=Quality.MAXIMUM_COMPATIBILITY, upscale=True)
    _, out, _ = await _run(clips, "hifps", tmp_path, binary, opts)
    assert out.fps == pytest.approx(30.0) and out.video_profile == "Main"
    assert (out.width, out.height) == (1080, 1920)


async def test_oversized_output_is_reencoded_under_the_cap(
        clips: dict[str, Path], tmp_path: Path, binary: FFmpegBinary) -> None:
    src = await probe(clips["noisy"], binary=binary)
    cap_mb = round(src.size / 1048576 / 3, 3)
    p, out, _ = await _run(clips, "noisy", tmp_path, binary,
                           profile=youtube_shorts(max_size_mb=cap_mb))
    assert ChangeKind.BITRATE_CAP in p.kinds and not p.copy_video
    assert out.size <= cap_mb * 1048576 < src.size


async def test_still_too_large_is_an_error_not_a_success(
        clips: dict[str, Path], tmp_path: Path, binary: FFmpegBinary) -> None:
    info = await probe(clips["noisy"], binary=binary)
    the_plan = plan(info, TransformOptions(), youtube_shorts(max_size_mb=1))
    squeezed = dataclasses.replace(the_plan, max_size_bytes=2000)
    dst = tmp_path / "out.mp4"
    with pytest.raises(MediaError) as err:
        await execute(squeezed, clips["noisy"], dst, binary=binary)
    assert err.value.code == ErrorCode.VIDEO_TOO_LARGE
    assert not dst.exists() and not _listing(tmp_path)


async def test_output_that_misses_the_plan_is_rejected(
        clips: dict[str, Path], tmp_path: Path, binary: FFmpegBinary) -> None:
    info = await probe(clips["v720"], binary=binary)
    lying = dataclasses.replace(plan(info, TransformOptions(upscale=True)), height=1280)
    with pytest.raises(MediaError) as err:
        await execute(lying, clips["v720"], tmp_path / "out.mp4", binary=binary)
    assert err.value.code == ErrorCode.VIDEO_CORRUPT and "1080x1920" in err.value.message
    assert not _listing(tmp_path)


async def test_one_ffmpeg_run_with_one_filter_graph(clips: dict[str, Path],
                                                    binary: FFmpegBinary) -> None:
    info = await probe(clips["land"], binary=binary)
    p = plan(info, TransformOptions(upscale=True), instagram_reels())
    args = build_args(p, str(clips["land"]), "out.mp4", binary=binary)
    assert args[0] == binary.ffmpeg
    assert args.count("-filter_complex") == 1 and args.count("-c:v") == 1
    assert "libx264" in args and "+faststart" in args and args.count("-i") == 1
    copy = plan(await probe(clips["v720"], binary=binary))
    copy_args = build_args(copy, str(clips["v720"]), "out.mp4", binary=binary)
    assert "-filter_complex" not in copy_args and "libx264" not in copy_args


async def test_async_progress_callback_and_cancellation(
        clips: dict[str, Path], tmp_path: Path, binary: FFmpegBinary) -> None:
    got: list[float] = []

    async def report(percent: float) -> None:
        got.append(percent)

    await _run(clips, "noaudio", tmp_path, binary, TransformOptions(upscale=True),
               on_progress=report)
    assert got and got[-1] == 100.0
    info = await probe(clips["long90"], binary=binary)
    slow = plan(info, TransformOptions(upscale=True, quality=Quality.ORIGINAL))
    task = asyncio.create_task(execute(slow, clips["long90"], tmp_path / "c.mp4", binary=binary))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not (tmp_path / "c.mp4").exists() and not (tmp_path / ".c.mp4.partial").exists()


def test_progress_parser_and_failure_classification() -> None:
    parser = ProgressParser(10.0)
    assert parser.feed("frame=10") is None
    assert parser.feed("out_time_us=2500000") == pytest.approx(25.0)
    assert parser.feed("out_time_us=2000000") is None  # never goes backwards
    assert parser.feed("out_time_ms=N/A") is None
    assert parser.feed("out_time_us=99000000") == pytest.approx(99.9)
    assert parser.feed("progress=end") == 100.0
    assert classify_failure("Decoding requested, but no decoder found for: none", 1
                            ).code == ErrorCode.UNSUPPORTED_CODEC
    assert classify_failure("Invalid data found when processing input", 1
                            ).code == ErrorCode.VIDEO_CORRUPT
    odd = classify_failure("No space left on device", 1)
    assert odd.code == ErrorCode.VIDEO_CORRUPT and "No space left" in odd.message
    assert "ffmpeg" in odd.hint.lower()


async def test_decoded_pixels_survive_the_copy(clips: dict[str, Path], tmp_path: Path,
                                               binary: FFmpegBinary) -> None:
    _, _, dst = await _run(clips, "v720", tmp_path, binary)
    a = await frame_of(clips["v720"], 0.5, binary)
    b = await frame_of(dst, 0.5, binary)
    assert np.array_equal(a, b)
