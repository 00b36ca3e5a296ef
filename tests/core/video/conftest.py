"""Clips generated once per session with ffmpeg's lavfi sources, and pixel helpers."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from core.video import FFmpegBinary, locate, probe

FAST = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-b:a", "64k"]


def _src(spec: str) -> list[str]:
    return ["-f", "lavfi", "-i", spec]


def _testsrc(size: str, fps: float, dur: float) -> list[str]:
    return _src(f"testsrc2=s={size}:r={fps}:d={dur}")


def _sine(dur: float, rate: int = 44100) -> list[str]:
    return _src(f"sine=f=440:r={rate}:d={dur}")


# name -> ffmpeg arguments between the global options and the output path
RECIPES: dict[str, list[str]] = {
    "v720": [*_testsrc("720x1280", 10, 1), *_sine(1), *FAST, *AAC, "-shortest"],
    "v1080": [*_testsrc("1080x1920", 10, 1), *_sine(1, 48000), *FAST, *AAC, "-shortest",
              "-movflags", "+faststart"],
    "reel_ok": [*_testsrc("360x640", 30, 3.5), *_sine(3.5, 48000), *FAST, *AAC, "-shortest",
                "-movflags", "+faststart"],
    "land": [*_src("color=c=0xFF8000:s=1920x1080:r=5:d=1"), *FAST],
    "square": [*_testsrc("1080x1080", 5, 1), *FAST],
    "four3": [*_src("color=c=red:s=200x480:r=5:d=1"), *_src("color=c=white:s=240x480:r=5:d=1"),
              *_src("color=c=blue:s=200x480:r=5:d=1"), "-filter_complex", "[0][1][2]hstack=3",
              *FAST],
    "noaudio": [*_testsrc("180x320", 10, 1), *FAST],
    "long90": [*_testsrc("180x320", 24, 90), *_sine(90), *FAST, *AAC, "-g", "24", "-shortest"],
    "long200": [*_testsrc("180x320", 2, 200), *_sine(200), *FAST, *AAC, "-shortest"],
    "vfr": [*_src("testsrc2=s=180x320:r=30:d=2,select='not(mod(n\\,3))+eq(mod(n\\,7)\\,1)'"),
            "-fps_mode", "vfr", *FAST],
    "hifps": [*_testsrc("180x320", 120, 1), *FAST],
    "hiaudio": [*_testsrc("180x320", 30, 1), *_src("sine=f=300:r=96000:d=1"),
                "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "pcm_s16le",
                "-ac", "6", "-shortest", "-f", "matroska"],
    "vp9": [*_testsrc("180x320", 10, 1), "-c:v", "libvpx-vp9", "-deadline", "realtime",
            "-f", "webm"],
    "green": [*_src("color=c=0x00FF00:s=360x640:r=10:d=1"),
              *_src("color=c=0xFF0000:s=120x200:r=10:d=1"),
              "-filter_complex", "[0][1]overlay=120:220", *FAST],
    "noisy": [*_src("testsrc2=s=360x640:r=24:d=2,noise=alls=60:allf=t"), *_sine(2),
              "-c:v", "libx264", "-preset", "ultrafast", "-crf", "4", "-pix_fmt", "yuv420p",
              *AAC, "-shortest"],
    "rot_base": [*_testsrc("320x180", 10, 1), *FAST],
    "redblue": [*_src("color=c=red:s=180x320:r=10:d=1"), *_src("color=c=blue:s=180x320:r=10:d=1"),
                "-filter_complex", "[0][1]concat=n=2:v=1:a=0", *FAST],
    "brand": [*_src("color=c=0xFF00FF:s=64x64"), "-frames:v", "1", "-f", "image2"],
}
SUFFIX = {"hiaudio": ".mkv", "vp9": ".webm", "brand": ".png"}


async def _make(binary: FFmpegBinary, args: list[str], out: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        binary.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args, str(out),
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()


def _rename_codec(data: bytes) -> bytes:
    """The same MP4 with its video sample entry renamed to a codec nobody knows."""
    at = data.index(b"avc1", data.index(b"stsd"))
    return data[:at] + b"zzzz" + data[at + 4 :]


@pytest.fixture(scope="session")
def binary() -> FFmpegBinary:
    """The ffmpeg the engine would use on this machine."""
    return locate(None)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def clips(binary: FFmpegBinary, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test clip, generated concurrently once per session."""
    folder = tmp_path_factory.mktemp("clips")
    paths = {name: folder / f"{name}{SUFFIX.get(name, '.mp4')}" for name in RECIPES}
    gate = asyncio.Semaphore(4)

    async def one(name: str) -> None:
        async with gate:
            await _make(binary, RECIPES[name], paths[name])

    await asyncio.gather(*(one(name) for name in RECIPES))
    # Derived files: rotation metadata, broken and non-video inputs.
    paths["rot"] = folder / "rot.mp4"
    await _make(binary, ["-display_rotation", "90", "-i", str(paths["rot_base"]), "-c", "copy"],
                paths["rot"])
    data = paths["v720"].read_bytes()
    fast = paths["v1080"].read_bytes()
    broken = {
        "empty.mp4": b"",
        "trunc_end.mp4": data[: len(data) // 2],  # moov at the end: it is gone
        "trunc_fast.mp4": fast[: len(fast) * 2 // 3],  # moov first, mdat cut short
        "text.mp4": b"this is not a video\n" * 50,
        "unknown_codec.mp4": _rename_codec(data),
    }
    for name, blob in broken.items():
        path = folder / name
        path.write_bytes(blob)
        paths[name.removesuffix(".mp4")] = path
    paths["audio_only"] = folder / "audio_only.m4a"
    await _make(binary, [*_sine(1), "-c:a", "aac"], paths["audio_only"])
    return paths


def frame_rgb(path: Path, at: float, binary: FFmpegBinary, size: tuple[int, int]) -> np.ndarray:
    """The decoded frame at ``at`` seconds as an (h, w, 3) uint8 RGB array."""
    seek = ["-ss", f"{at}"] if at > 0 else []  # a still image has no time to seek to
    out = subprocess.run(
        [binary.ffmpeg, "-v", "error", *seek, "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True,
    ).stdout
    w, h = size
    assert len(out) == w * h * 3, f"expected a {w}x{h} frame, got {len(out)} bytes"
    return np.frombuffer(out, dtype=np.uint8).reshape(h, w, 3)


async def frame_of(path: Path, at: float, binary: FFmpegBinary) -> np.ndarray:
    """Like :func:`frame_rgb`, sized from a probe."""
    info = await probe(path, binary=binary)
    size = (info.display_width, info.display_height)
    return await asyncio.to_thread(frame_rgb, path, at, binary, size)


def near(pixel: np.ndarray, rgb: tuple[int, int, int], tol: int = 24) -> bool:
    """Whether a pixel is within ``tol`` of ``rgb`` on every channel."""
    return bool(np.all(np.abs(pixel.astype(int) - np.array(rgb)) <= tol))


def video_md5(path: Path, binary: FFmpegBinary) -> str:
    """MD5 of the video stream's packets: equal only for a stream copy."""
    out = subprocess.run(
        [binary.ffmpeg, "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
         "-f", "md5", "-"], capture_output=True, check=True, text=True,
    ).stdout
    return out.strip()
