"""Probe a media file: with ffprobe when present, else by parsing ``ffmpeg -i``.

Both paths return the same :class:`ProbeResult`; the MP4 box facts (faststart, cut-off
files, variable frame rate) come from :mod:`core.video.mp4` either way.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import ErrorCode, MediaError
from core.video import mp4
from core.video.binary import FFmpegBinary

_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "4.1": 5,
             "5.0": 5, "5.1": 6, "6.0": 6, "6.1": 7, "7.0": 7, "7.1": 8}
_INPUT = re.compile(r"^Input #0, (?P<fmt>.+?), from '", re.M)
_DURATION = re.compile(
    r"Duration: (?:(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)|N/A)"
    r"(?:.*?bitrate: (?P<br>\d+) kb/s)?"
)
_STREAM = re.compile(
    r"^\s*Stream #0:(?P<idx>\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (?P<kind>\w+): (?P<rest>.*)$"
)
_ROTATION = re.compile(r"display ?matrix: rotation of (-?\d+(?:\.\d+)?) degrees", re.I)


@dataclass(frozen=True)
class ProbeResult:
    """The facts about a video the planner and the verifier need."""

    path: str
    size: int
    container: str
    duration: float
    bitrate: int | None
    width: int
    height: int
    rotation: int
    fps: float
    video_codec: str
    video_profile: str | None
    pix_fmt: str | None
    video_bitrate: int | None
    video_stream: int
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    audio_bitrate: int | None = None
    audio_stream: int | None = None
    sar: tuple[int, int] = (1, 1)
    moov_first: bool | None = None
    variable_frame_rate: bool = False
    frame_count: int | None = None

    @property
    def display_width(self) -> int:
        """Width as shown: after the rotation and the sample aspect ratio."""
        w = round(self.width * self.sar[0] / self.sar[1]) if self.sar[1] else self.width
        return self.height if self.rotation in (90, 270) else w

    @property
    def display_height(self) -> int:
        """Height as shown: after the rotation."""
        w = round(self.width * self.sar[0] / self.sar[1]) if self.sar[1] else self.width
        return w if self.rotation in (90, 270) else self.height

    @property
    def aspect(self) -> float:
        """Displayed width / height."""
        return self.display_width / self.display_height

    @property
    def has_audio(self) -> bool:
        """Whether an audio stream is present."""
        return self.audio_codec is not None

    @property
    def is_mp4(self) -> bool:
        """Whether the container is ISO-BMFF (MP4/MOV)."""
        return self.moov_first is not None


def _corrupt(path: str, why: str) -> MediaError:
    name = os.path.basename(path)
    return MediaError(f"'{name}' is not a usable video: {why}", code=ErrorCode.VIDEO_CORRUPT,
                      details={"path": path})


def _split_top(text: str) -> list[str]:
    """Split at commas outside parentheses and brackets."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def _rate(text: str) -> float:
    return float(text[:-1]) * 1000 if text.endswith("k") else float(text)


def _normal_rotation(value: float) -> int:
    return int(round(value / 90.0)) * 90 % 360


def _failure(path: str, text: str) -> MediaError:
    low = text.lower()
    if "no such file" in low:
        return _corrupt(path, "the file does not exist")
    if "moov atom not found" in low:
        return _corrupt(path, "the MP4 index (moov atom) is missing: the file is incomplete")
    if "invalid data found" in low:
        return _corrupt(path, "ffmpeg does not recognise it as a media file")
    last = [line for line in text.strip().splitlines() if line.strip()]
    return _corrupt(path, last[-1].strip() if last else "ffmpeg could not open it")


def parse_ffmpeg_banner(path: str, stderr: str, size: int) -> ProbeResult:
    """Build a ProbeResult from the stderr of ``ffmpeg -i`` (pure: no I/O)."""
    head = _INPUT.search(stderr)
    if head is None:
        raise _failure(path, stderr)
    dur = _DURATION.search(stderr, head.end())
    duration = 0.0
    bitrate = None
    if dur and dur.group("h") is not None:
        duration = int(dur.group("h")) * 3600 + int(dur.group("m")) * 60 + float(dur.group("s"))
    if dur and dur.group("br"):
        bitrate = int(dur.group("br")) * 1000
    video: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    for line in stderr[head.end():].splitlines():
        m = _STREAM.match(line)
        if m is None:
            rot = _ROTATION.search(line)
            if rot and current is not None and current is video:
                current["rotation"] = _normal_rotation(float(rot.group(1)))
            if not line.startswith(" "):
                current = None
            continue
        kind, rest = m.group("kind"), m.group("rest")
        current = None
        if kind == "Video" and video is None and "(attached pic)" not in rest:
            video = current = _video_fields(int(m.group("idx")), rest)
        elif kind == "Audio" and audio is None:
            audio = current = _audio_fields(int(m.group("idx")), rest)
    if video is None:
        raise _corrupt(path, "it has no video stream")
    return _assemble(path, size, head.group("fmt"), duration, bitrate, video, audio)


def _video_fields(index: int, rest: str) -> dict[str, Any]:
    parts = _split_top(rest)
    codec_part = parts[0]
    codec = codec_part.split()[0]
    profile = None
    paren = re.match(r"\S+ \(([^)/]+)\)", codec_part)
    if paren:
        profile = paren.group(1).strip()
    fields: dict[str, Any] = {"index": index, "codec": codec, "profile": profile,
                              "rotation": 0, "sar": (1, 1)}
    if len(parts) > 1 and not re.match(r"^\d+x\d+", parts[1]):
        fields["pix_fmt"] = parts[1].split("(")[0].strip() or None
    size = re.search(r"(?:^|, )(\d+)x(\d+)", rest)
    if size:
        fields["width"], fields["height"] = int(size.group(1)), int(size.group(2))
    sar = re.search(r"SAR (\d+):(\d+)", rest)
    if sar and int(sar.group(1)) and int(sar.group(2)):
        fields["sar"] = (int(sar.group(1)), int(sar.group(2)))
    fps = re.search(r"([\d.]+k?) fps", rest) or re.search(r"([\d.]+k?) tbr", rest)
    if fps:
        fields["fps"] = _rate(fps.group(1))
    br = re.search(r"(\d+) kb/s", rest)
    if br:
        fields["bitrate"] = int(br.group(1)) * 1000
    return fields


def _audio_fields(index: int, rest: str) -> dict[str, Any]:
    parts = _split_top(rest)
    fields: dict[str, Any] = {"index": index, "codec": parts[0].split()[0]}
    rate = re.search(r"(\d+) Hz", rest)
    if rate:
        fields["sample_rate"] = int(rate.group(1))
    if len(parts) > 2:
        layout = parts[2].split("(")[0].strip()
        channels = re.match(r"(\d+) channels", layout)
        fields["channels"] = int(channels.group(1)) if channels else _CHANNELS.get(layout)
    br = re.search(r"(\d+) kb/s", rest)
    if br:
        fields["bitrate"] = int(br.group(1)) * 1000
    return fields


def _assemble(path: str, size: int, container: str, duration: float, bitrate: int | None,
              video: dict[str, Any], audio: dict[str, Any] | None) -> ProbeResult:
    if video["codec"] == "none":
        raise MediaError(
            f"'{os.path.basename(path)}' uses a video codec ffmpeg cannot decode",
            code=ErrorCode.UNSUPPORTED_CODEC, details={"path": path},
        )
    if not video.get("width") or not video.get("height"):
        raise _corrupt(path, "its video stream has no picture size")
    if duration <= 0:
        raise _corrupt(path, "it has no duration (no playable frames)")
    if bitrate is None and duration > 0:
        bitrate = int(size * 8 / duration)
    return ProbeResult(
        path=path, size=size, container=container, duration=duration, bitrate=bitrate,
        width=video["width"], height=video["height"], rotation=video["rotation"],
        fps=float(video.get("fps") or 0.0), video_codec=video["codec"],
        video_profile=video.get("profile"), pix_fmt=video.get("pix_fmt"),
        video_bitrate=video.get("bitrate"), video_stream=video["index"], sar=video["sar"],
        audio_codec=audio["codec"] if audio else None,
        audio_sample_rate=audio.get("sample_rate") if audio else None,
        audio_channels=audio.get("channels") if audio else None,
        audio_bitrate=audio.get("bitrate") if audio else None,
        audio_stream=audio["index"] if audio else None,
    )


def _fraction(text: str | None) -> float:
    if not text or text in ("0/0", "N/A"):
        return 0.0
    num, _, den = text.partition("/")
    return float(num) / float(den) if den and float(den) else float(num)


def parse_ffprobe_json(path: str, data: dict[str, Any], size: int) -> ProbeResult:
    """Build a ProbeResult from ``ffprobe -show_format -show_streams -of json`` (pure)."""
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    vs = next((s for s in streams if s.get("codec_type") == "video"
               and not (s.get("disposition") or {}).get("attached_pic")), None)
    aus = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if vs is None:
        raise _corrupt(path, "it has no video stream")
    rotation = 0.0
    for side in vs.get("side_data_list") or []:
        if "rotation" in side:
            rotation = float(side["rotation"])
    if not rotation and (vs.get("tags") or {}).get("rotate"):
        rotation = -float(vs["tags"]["rotate"])  # the old tag counts clockwise
    sar_text = vs.get("sample_aspect_ratio") or "1:1"
    sar_num, _, sar_den = sar_text.partition(":")
    sar = (int(sar_num), int(sar_den)) if sar_num.isdigit() and int(sar_num) else (1, 1)
    profile = vs.get("profile")
    video = {
        "index": int(vs.get("index", 0)), "codec": vs.get("codec_name") or "none",
        "profile": profile if profile and profile != "unknown" else None,
        "width": vs.get("width"), "height": vs.get("height"),
        "rotation": _normal_rotation(rotation), "sar": sar, "pix_fmt": vs.get("pix_fmt"),
        "fps": _fraction(vs.get("avg_frame_rate")) or _fraction(vs.get("r_frame_rate")),
        "bitrate": int(vs["bit_rate"]) if vs.get("bit_rate") else None,
    }
    audio = None
    if aus is not None:
        audio = {
            "index": int(aus.get("index", 0)), "codec": aus.get("codec_name") or "none",
            "sample_rate": int(aus["sample_rate"]) if aus.get("sample_rate") else None,
            "channels": aus.get("channels"),
            "bitrate": int(aus["bit_rate"]) if aus.get("bit_rate") else None,
        }
    duration = float(fmt["duration"]) if fmt.get("duration") else 0.0
    bitrate = int(fmt["bit_rate"]) if fmt.get("bit_rate") else None
    # ffmpeg -i shows rounded kb/s; round the same way so both paths agree.
    bitrate = bitrate // 1000 * 1000 if bitrate else None
    for d in (video, audio):
        if d and d.get("bitrate"):
            d["bitrate"] = d["bitrate"] // 1000 * 1000
    return _assemble(path, size, fmt.get("format_name") or "", round(duration, 2), bitrate,
                     video, audio)


def _with_layout(result: ProbeResult) -> ProbeResult:
    layout = mp4.inspect(result.path)
    if layout is None:
        return result
    if layout.truncated:
        raise _corrupt(result.path, f"the file is cut off ({layout.truncated})")
    fps = result.fps
    if layout.video_frame_count and layout.video_duration and not layout.variable_frame_rate:
        fps = round(layout.video_frame_count / layout.video_duration, 3)
    return replace(result, moov_first=layout.moov_first, fps=fps,
                   variable_frame_rate=layout.variable_frame_rate,
                   frame_count=layout.video_frame_count)


def _size(path: str) -> int | None:
    return os.path.getsize(path) if os.path.isfile(path) else None


async def _run(args: list[str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


async def probe(path: str | Path, *, binary: FFmpegBinary) -> ProbeResult:
    """Probe ``path``; raises MediaError(video_corrupt / unsupported_codec) when unusable."""
    name = os.fspath(path)
    size = _size(name)
    if size is None:
        raise _corrupt(name, "the file does not exist")
    if size == 0:
        raise _corrupt(name, "the file is empty (0 bytes)")
    if binary.ffprobe:
        code, out, err = await _run([binary.ffprobe, "-v", "error", "-print_format", "json",
                                     "-show_format", "-show_streams", name])
        if code != 0:
            raise _failure(name, err)
        result = parse_ffprobe_json(name, json.loads(out or "{}"), size)
    else:
        _, _, err = await _run([binary.ffmpeg, "-hide_banner", "-nostdin", "-i", name])
        if "moov atom not found" in err and await asyncio.to_thread(mp4.inspect, name) is None:
            # ffmpeg guessed MP4 from the name alone; the bytes are not MP4 at all.
            raise _corrupt(name, "ffmpeg does not recognise it as a media file")
        result = parse_ffmpeg_banner(name, err, size)
    return await asyncio.to_thread(_with_layout, result)
