"""Small real MP4 files made with ffmpeg's test sources, for fakes to serve."""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.video import locate


def make_clip(path: Path, *, size: str = "360x640", seconds: float = 3.5, fps: int = 30,
              audio: bool = True) -> Path:
    """An H.264 (+ AAC) MP4 with the moov box first, written to ``path``."""
    args = [locate(None).ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
            f"testsrc2=s={size}:r={fps}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    subprocess.run([*args, "-movflags", "+faststart", str(path)], check=True)
    return path
