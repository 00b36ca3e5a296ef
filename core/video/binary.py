"""Locate the ffmpeg (and, when present, ffprobe) executables."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from core.errors import ConfigError


@dataclass(frozen=True)
class FFmpegBinary:
    """Paths of the tools the video engine runs; ``ffprobe`` is None when absent."""

    ffmpeg: str
    ffprobe: str | None = None

    def version(self) -> str:
        """The first line of ``ffmpeg -version`` (for logs and health pages)."""
        return _version(self.ffmpeg)


@lru_cache(maxsize=8)
def _version(path: str) -> str:
    out = subprocess.run(
        [path, "-hide_banner", "-version"], capture_output=True, text=True, check=False
    )
    first = (out.stdout or out.stderr).splitlines()
    return first[0].strip() if first else "unknown"


def _sibling_ffprobe(ffmpeg: str) -> str | None:
    # A real ffmpeg install puts ffprobe beside ffmpeg; imageio-ffmpeg ships none.
    folder, name = os.path.split(ffmpeg)
    candidate = os.path.join(folder, name.replace("ffmpeg", "ffprobe", 1))
    if candidate != ffmpeg and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return None


def locate(setting: str | None = None) -> FFmpegBinary:
    """Resolve ``Settings.ffmpeg_binary``: the given path, else system ffmpeg, else bundled."""
    if setting:
        path = shutil.which(setting) or (setting if os.path.isfile(setting) else None)
        if path is None:
            raise ConfigError(
                "FFMPEG_BINARY",
                f"'{setting}' is not an executable file",
                "Point FFMPEG_BINARY at an ffmpeg binary, or unset it to use the bundled one",
            )
        return FFmpegBinary(path, _sibling_ffprobe(path))
    system = shutil.which("ffmpeg")
    if system:
        return FFmpegBinary(system, shutil.which("ffprobe") or _sibling_ffprobe(system))
    import imageio_ffmpeg

    return FFmpegBinary(imageio_ffmpeg.get_ffmpeg_exe(), None)
