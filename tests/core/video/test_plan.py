"""The planner is pure: these tests build ProbeResults by hand and run no ffmpeg."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from core.errors import ErrorCode, MediaError
from core.video import (
    AspectMode,
    AudioAction,
    ChangeKind,
    Layout,
    ProbeResult,
    Quality,
    TransformOptions,
    instagram_reels,
    plan,
    youtube_shorts,
)
from core.video.profiles import MB

K = ChangeKind


def make(**over: Any) -> ProbeResult:
    """A compliant 1080x1920 30 fps H.264/AAC faststart MP4 of 20 s, changed by ``over``."""
    base: dict[str, Any] = dict(
        path="in.mp4", size=10 * MB, container="mov,mp4,m4a,3gp,3g2,mj2", duration=20.0,
        bitrate=4_000_000, width=1080, height=1920, rotation=0, fps=30.0, video_codec="h264",
        video_profile="High", pix_fmt="yuv420p", video_bitrate=3_800_000, video_stream=0,
        audio_codec="aac", audio_sample_rate=44100, audio_channels=2, audio_bitrate=128_000,
        audio_stream=1, moov_first=True,
    )
    base.update(over)
    return ProbeResult(**base)


def test_compliant_source_is_stream_copied_without_other_changes() -> None:
    for profile in (youtube_shorts(), instagram_reels()):
        p = plan(make(), TransformOptions(), profile)
        assert p.copy_video and p.audio is AudioAction.COPY and p.encoder is None
        assert [c.kind for c in p.changes] == [K.STREAM_COPY]
        assert (p.width, p.height, p.duration, p.fps) == (1080, 1920, 20.0, 30.0)


def test_moov_at_the_end_gets_faststart_but_no_encode() -> None:
    p = plan(make(moov_first=False))
    assert p.copy_video and p.kinds == {K.STREAM_COPY, K.FASTSTART}


def test_matroska_with_h264_is_remuxed() -> None:
    p = plan(make(container="matroska,webm", moov_first=None))
    assert p.copy_video and {K.REMUX, K.FASTSTART} <= p.kinds


def test_upscale_720p_to_1080x1920_with_lanczos() -> None:
    src = make(width=720, height=1280)
    assert plan(src).copy_video  # nothing asked, nothing to fix
    p = plan(src, TransformOptions(upscale=True))
    assert not p.copy_video and (p.width, p.height) == (1080, 1920)
    up = next(c for c in p.changes if c.kind is K.UPSCALE)
    assert "lanczos" in up.reason and "720x1280" in up.reason
    assert plan(make(), TransformOptions(upscale=True)).copy_video  # already 1080p


def test_4k_only_when_asked_and_allowed() -> None:
    src = make(width=720, height=1280)
    yt = plan(src, TransformOptions(upscale=True, upscale_4k=True), youtube_shorts())
    assert (yt.width, yt.height) == (2160, 3840)
    assert (plan(make(), TransformOptions(upscale=True)).width) == 1080
    ig = plan(src, TransformOptions(upscale=True, upscale_4k=True), instagram_reels())
    assert (ig.width, ig.height) == (1080, 1920)
    assert any("4K" in n for n in ig.notes)


def test_landscape_is_padded_into_9_16() -> None:
    p = plan(make(width=1920, height=1080), TransformOptions(aspect=AspectMode.PAD_COLOR,
                                                             pad_color="#FF00FF"))
    g = p.geometry
    assert g is not None and g.canvas == (1080, 1920) and g.video == (1080, 608)
    assert g.offset == (0, 656) and g.fill == "color" and g.color == "0xFF00FF"
    assert K.PAD in p.kinds and K.SCALE in p.kinds and not p.copy_video
    blur = plan(make(width=1920, height=1080))
    assert blur.geometry is not None and blur.geometry.fill == "blur"


def test_crop_keeps_the_centre() -> None:
    p = plan(make(width=640, height=480), TransformOptions(aspect=AspectMode.CROP))
    g = p.geometry
    assert g is not None and g.crop == (270, 480, 185, 0)
    assert (p.width, p.height) == (270, 480) and K.CROP in p.kinds
    big = plan(make(width=3840, height=2160), TransformOptions(aspect="crop"))
    assert (big.width, big.height) == (1080, 1920)


def test_square_passes_on_youtube_but_not_on_instagram() -> None:
    square = make(width=1080, height=1080)
    assert plan(square, TransformOptions(), youtube_shorts()).copy_video
    ig = plan(square, TransformOptions(), instagram_reels())
    assert (ig.width, ig.height) == (1080, 1920) and K.PAD in ig.kinds


def test_too_long_is_trimmed_by_stream_copy_or_rejected() -> None:
    long = make(duration=200.0, size=50 * MB)
    p = plan(long, TransformOptions(), youtube_shorts())
    assert p.copy_video and p.trim == 180.0 and p.duration == 180.0 and K.TRIM in p.kinds
    ig = plan(make(duration=100.0), TransformOptions(), instagram_reels())
    assert ig.trim == 90.0
    assert plan(make(duration=100.0), TransformOptions(),
                instagram_reels(max_duration=120)).trim is None
    with pytest.raises(MediaError) as err:
        plan(long, TransformOptions(reject_too_long=True), youtube_shorts())
    assert err.value.code == ErrorCode.VIDEO_TOO_LARGE and "180" in err.value.message


def test_too_short_for_reels_holds_the_last_frame() -> None:
    p = plan(make(duration=1.5), TransformOptions(), instagram_reels())
    assert p.extend == 3.0 and p.duration == 3.0 and not p.copy_video
    assert p.audio is AudioAction.ENCODE and K.EXTEND in p.kinds


@pytest.mark.parametrize(("fps", "vfr", "expected"), [(120.0, False, 60.0), (10.0, False, 30.0),
                                                      (24.0, True, 24.0), (13.4, True, 30.0)])
def test_reels_frame_rate_is_clamped_and_made_constant(fps: float, vfr: bool,
                                                       expected: float) -> None:
    p = plan(make(fps=fps, variable_frame_rate=vfr), TransformOptions(), instagram_reels())
    assert p.fps == expected and p.fps_filter and K.FPS in p.kinds and not p.copy_video


def test_youtube_accepts_variable_frame_rate() -> None:
    assert plan(make(fps=27.3, variable_frame_rate=True)).copy_video


def test_maximum_compatibility_preset() -> None:
    opts = TransformOptions(quality=Quality.MAXIMUM_COMPATIBILITY)
    p = plan(make(fps=60.0), opts)
    assert p.fps == 30.0 and not p.copy_video
    assert p.encoder is not None and p.encoder.profile == "main" and p.encoder.level == "4.0"
    uhd = plan(make(width=2160, height=3840, video_profile="Main"), opts)
    assert (uhd.width, uhd.height) == (1080, 1920) and K.SCALE in uhd.kinds
    assert plan(make(video_profile="Main"), opts).copy_video


def test_codec_and_pixel_format_force_a_reencode() -> None:
    vp9 = plan(make(video_codec="vp9", video_profile="Profile 0"))
    assert not vp9.copy_video and any("vp9" in c.reason for c in vp9.changes)
    ten = plan(make(pix_fmt="yuv420p10le"))
    assert not ten.copy_video and K.PIXEL_FORMAT in ten.kinds


def test_audio_is_transcoded_alone_when_the_picture_complies() -> None:
    p = plan(make(audio_codec="pcm_s16le", audio_sample_rate=96000, audio_channels=6),
             TransformOptions(), instagram_reels())
    assert p.copy_video and p.audio is AudioAction.ENCODE
    assert (p.audio_sample_rate, p.audio_channels, p.audio_codec) == (48000, 2, "aac")
    reason = next(c.reason for c in p.changes if c.kind is K.AUDIO_TRANSCODE)
    assert "pcm_s16le" in reason and "96000" in reason


def test_no_audio_stays_silent() -> None:
    p = plan(make(audio_codec=None, audio_stream=None, audio_sample_rate=None,
                  audio_channels=None, audio_bitrate=None))
    assert p.audio is AudioAction.NONE and p.audio_codec is None and p.copy_video


def test_oversized_source_gets_a_bitrate_cap_from_the_limit() -> None:
    src = make(duration=60.0, size=150 * MB)
    p = plan(src, TransformOptions(), instagram_reels(max_size_mb=100))
    assert not p.copy_video and K.BITRATE_CAP in p.kinds and p.max_video_bitrate is not None
    # video + audio at the cap must fit in 100 MB over 60 s
    assert (p.max_video_bitrate + 128_000) * 60 / 8 <= 100 * MB
    assert p.max_video_bitrate > 10_000_000
    with pytest.raises(MediaError) as err:
        plan(src, TransformOptions(), instagram_reels(max_size_mb=0.5))
    assert err.value.code == ErrorCode.VIDEO_TOO_LARGE


def test_rotation_flag_is_respected_in_geometry() -> None:
    turned = make(width=1920, height=1080, rotation=90)
    assert plan(turned).copy_video  # displays as 1080x1920
    p = plan(turned, TransformOptions(upscale=True, upscale_4k=True))
    assert (p.width, p.height) == (2160, 3840) and K.ROTATE in p.kinds


def test_layout_makes_a_9_16_canvas() -> None:
    layout = Layout("picture_in_picture", background_color="#0000FF", border_width=6)
    p = plan(make(width=1080, height=1080), TransformOptions(layout=layout))
    g = p.geometry
    assert g is not None and g.fill == "layout" and g.canvas == (1080, 1920)
    assert K.LAYOUT in p.kinds and not p.copy_video
    x, y = g.offset
    assert x + g.video[0] + 12 <= 1080 and y + g.video[1] + 12 <= 1920


def test_odd_sizes_become_even() -> None:
    p = plan(make(width=721, height=1281, video_codec="vp9"))
    assert p.width % 2 == 0 and p.height % 2 == 0 and K.SCALE in p.kinds


def test_plan_is_frozen_and_explains_itself() -> None:
    p = plan(make(width=1920, height=1080, duration=200.0), TransformOptions(upscale=True))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.width = 1  # type: ignore[misc]
    text = p.summary()
    for change in p.changes:
        assert change.reason and change.reason in text
    assert "one encode" in text
