"""Probing real generated clips, broken inputs, and the two parsers on known text."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from core.errors import ErrorCode, MediaError
from core.video import FFmpegBinary, locate, probe
from core.video.mp4 import inspect
from core.video.probe import parse_ffmpeg_banner, parse_ffprobe_json

PHONE_BANNER = "\n".join([
    "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'phone.mp4':",
    "  Metadata:",
    "    major_brand     : isom",
    "  Duration: 00:01:02.50, start: 0.000000, bitrate: 12034 kb/s",
    "  Stream #0:0[0x1](eng): Video: hevc (Main 10) (hvc1 / 0x31637668), "
    "yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67), 3840x2160, 11800 kb/s, 59.94 fps, "
    "59.94 tbr, 90k tbn (default)",
    "    Metadata:",
    "      handler_name    : Core Media Video",
    "    Side data:",
    "      Display Matrix: rotation of -90.00 degrees",
    "  Stream #0:1[0x2](eng): Audio: pcm_s24le (lpcm / 0x6D63706C), 96000 Hz, 5.1(side), "
    "s32 (24 bit), 13824 kb/s (default)",
    "  Stream #0:2[0x3](und): Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), "
    "320x240 [SAR 1:1 DAR 4:3], 90k tbr, 90k tbn (attached pic)",
    "At least one output file must be specified",
])


def test_banner_parser_reads_a_phone_recording() -> None:
    info = parse_ffmpeg_banner("phone.mp4", PHONE_BANNER, 94_000_000)
    assert (info.width, info.height, info.rotation) == (3840, 2160, 270)
    assert (info.display_width, info.display_height) == (2160, 3840)
    assert info.duration == pytest.approx(62.5)
    assert info.fps == pytest.approx(59.94)
    assert (info.video_codec, info.video_profile, info.pix_fmt) == ("hevc", "Main 10",
                                                                    "yuv420p10le")
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("pcm_s24le",
                                                                               96000, 6)
    assert info.bitrate == 12_034_000 and info.video_bitrate == 11_800_000
    assert info.video_stream == 0 and info.audio_stream == 1  # the cover art is not the video


def test_banner_parser_reads_anamorphic_webm_layout() -> None:
    text = ("Input #0, matroska,webm, from 'x.webm':\n  Duration: 00:00:02.00, start: 0.0, "
            "bitrate: 186 kb/s\n  Stream #0:0: Video: vp9 (Profile 0), yuv420p(tv, progressive),"
            " 720x1280, SAR 2:1 DAR 9:8, 25 fps, 25 tbr, 1k tbn\n")
    info = parse_ffmpeg_banner("x.webm", text, 1000)
    assert info.sar == (2, 1) and info.display_width == 1440 and info.display_height == 1280
    assert info.audio_codec is None and not info.has_audio


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("Error opening input: Invalid data found when processing input", "video_corrupt",
         "does not recognise"),
        ("[in#0] moov atom not found\nError opening input file", "video_corrupt", "moov"),
        ("Error opening input: No such file or directory", "video_corrupt", "does not exist"),
    ],
)
def test_banner_parser_explains_failures(text: str, code: str, words: str) -> None:
    with pytest.raises(MediaError) as err:
        parse_ffmpeg_banner("bad.mp4", text, 10)
    assert err.value.code == code and words in err.value.message


FFPROBE_JSON = {
    "streams": [
        {"index": 0, "codec_name": "h264", "profile": "High", "codec_type": "video",
         "width": 1920, "height": 1080, "sample_aspect_ratio": "1:1", "pix_fmt": "yuv420p",
         "r_frame_rate": "30/1", "avg_frame_rate": "30000/1001", "bit_rate": "8001234",
         "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}],
         "disposition": {"default": 1, "attached_pic": 0}},
        {"index": 1, "codec_name": "aac", "codec_type": "audio", "sample_rate": "48000",
         "channels": 2, "bit_rate": "128000", "disposition": {"default": 1}},
    ],
    "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "15.015000",
               "size": "15000000", "bit_rate": "7992000"},
}


def test_ffprobe_parser_gives_the_same_fields() -> None:
    info = parse_ffprobe_json("p.mp4", FFPROBE_JSON, 15_000_000)
    assert (info.display_width, info.display_height, info.rotation) == (1080, 1920, 270)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert (info.video_codec, info.video_profile, info.audio_codec) == ("h264", "High", "aac")
    assert (info.audio_sample_rate, info.audio_channels) == (48000, 2)
    assert info.duration == pytest.approx(15.02, abs=0.01) and info.bitrate == 7_992_000


async def test_probe_reads_a_generated_clip(clips: dict[str, Path], binary: FFmpegBinary) -> None:
    info = await probe(clips["v720"], binary=binary)
    assert (info.width, info.height, info.rotation) == (720, 1280, 0)
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert info.fps == pytest.approx(10.0)
    assert (info.video_codec, info.pix_fmt, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert info.audio_sample_rate == 44100 and info.audio_channels == 1
    assert info.size == clips["v720"].stat().st_size and info.bitrate and info.bitrate > 0
    assert info.moov_first is False  # ffmpeg writes moov last unless told otherwise
    assert info.frame_count == 10


async def test_probe_sees_faststart_rotation_and_vfr(clips: dict[str, Path],
                                                    binary: FFmpegBinary) -> None:
    assert (await probe(clips["v1080"], binary=binary)).moov_first is True
    rot = await probe(clips["rot"], binary=binary)
    assert (rot.width, rot.height, rot.rotation) == (320, 180, 90)
    assert (rot.display_width, rot.display_height) == (180, 320)
    vfr = await probe(clips["vfr"], binary=binary)
    assert vfr.variable_frame_rate and not (await probe(clips["v720"], binary=binary)
                                            ).variable_frame_rate
    none = await probe(clips["noaudio"], binary=binary)
    assert none.audio_codec is None and none.audio_stream is None


async def test_probe_other_containers(clips: dict[str, Path], binary: FFmpegBinary) -> None:
    mkv = await probe(clips["hiaudio"], binary=binary)
    assert mkv.moov_first is None and not mkv.is_mp4
    assert (mkv.audio_codec, mkv.audio_sample_rate, mkv.audio_channels) == ("pcm_s16le",
                                                                           96000, 6)
    webm = await probe(clips["vp9"], binary=binary)
    assert webm.video_codec == "vp9" and webm.container.startswith("matroska")


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("empty", ErrorCode.VIDEO_CORRUPT, "empty"),
        ("trunc_end", ErrorCode.VIDEO_CORRUPT, "moov"),
        ("trunc_fast", ErrorCode.VIDEO_CORRUPT, "cut off"),
        ("text", ErrorCode.VIDEO_CORRUPT, "does not recognise"),
        ("audio_only", ErrorCode.VIDEO_CORRUPT, "no video stream"),
        ("unknown_codec", ErrorCode.UNSUPPORTED_CODEC, "codec"),
        ("missing", ErrorCode.VIDEO_CORRUPT, "does not exist"),
    ],
)
async def test_probe_rejects_unusable_input(clips: dict[str, Path], binary: FFmpegBinary,
                                            name: str, code: ErrorCode, words: str) -> None:
    path = clips.get(name, clips["v720"].with_name("missing.mp4"))
    with pytest.raises(MediaError) as err:
        await probe(path, binary=binary)
    assert err.value.code == code
    assert words in err.value.message and path.name in err.value.message


def test_mp4_inspection_is_exact(clips: dict[str, Path]) -> None:
    late, early = inspect(clips["v720"]), inspect(clips["v1080"])
    assert late is not None and early is not None
    assert (late.moov_first, early.moov_first) == (False, True)
    assert late.truncated is None and late.video_frame_count == 10
    cut = inspect(clips["trunc_fast"])
    assert cut is not None and cut.truncated and "mdat" in cut.truncated
    assert inspect(clips["hiaudio"]) is None  # Matroska is not ISO-BMFF


async def test_probe_uses_ffprobe_when_present(clips: dict[str, Path], binary: FFmpegBinary,
                                               tmp_path: Path) -> None:
    # A stand-in ffprobe that answers with JSON describing the v720 clip.
    answer = {
        "streams": [
            {"index": 0, "codec_type": "video", "codec_name": "h264",
             "profile": "Constrained Baseline", "width": 720, "height": 1280,
             "sample_aspect_ratio": "1:1", "pix_fmt": "yuv420p", "avg_frame_rate": "10/1",
             "r_frame_rate": "10/1"},
            {"index": 1, "codec_type": "audio", "codec_name": "aac", "sample_rate": "44100",
             "channels": 1},
        ],
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "1.000000"},
    }
    (tmp_path / "answer.json").write_text(json.dumps(answer))
    fake = tmp_path / "ffprobe"
    fake.write_text(f"#!/bin/sh\ncat '{tmp_path / 'answer.json'}'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    via_ffprobe = await probe(clips["v720"], binary=FFmpegBinary(binary.ffmpeg, str(fake)))
    via_ffmpeg = await probe(clips["v720"], binary=binary)
    fields = ("width", "height", "rotation", "fps", "video_codec", "video_profile", "pix_fmt",
              "audio_codec", "audio_sample_rate", "audio_channels", "video_stream",
              "audio_stream", "moov_first", "frame_count", "size", "container")
    for name in fields:
        assert getattr(via_ffprobe, name) == getattr(via_ffmpeg, name), name
    assert via_ffprobe.duration == pytest.approx(via_ffmpeg.duration, abs=0.02)


def test_locate_prefers_the_setting_and_finds_a_binary() -> None:
    found = locate(None)
    assert Path(found.ffmpeg).is_file() and "ffmpeg" in found.version().lower()
    assert locate(found.ffmpeg).ffmpeg == found.ffmpeg
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="FFMPEG_BINARY"):
        locate("/nonexistent/ffmpeg")
