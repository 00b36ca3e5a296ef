"""Destination profiles (what a platform accepts) and quality presets (how we encode)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MB = 1024 * 1024
VERTICAL = (9, 16)
SQUARE = (1, 1)


@dataclass(frozen=True)
class DestinationProfile:
    """The limits a destination platform puts on an uploaded video."""

    name: str
    max_duration: float
    min_duration: float = 0.0
    aspects: tuple[tuple[int, int], ...] = (VERTICAL,)
    max_width: int = 2160
    max_height: int = 3840
    min_fps: float = 0.0
    max_fps: float = 60.0
    constant_frame_rate: bool = False
    video_codecs: tuple[str, ...] = ("h264",)
    pix_fmts: tuple[str, ...] = ("yuv420p", "yuvj420p")
    audio_codecs: tuple[str, ...] = ("aac",)
    max_sample_rate: int = 48000
    max_channels: int = 2
    max_size_bytes: int | None = None
    requires_faststart: bool = True
    allows_4k: bool = True

    def accepts_aspect(self, width: int, height: int, tolerance: float = 0.01) -> bool:
        """Whether width:height is one of the accepted aspect ratios (within 1 %)."""
        ratio = width / height
        return any(abs(ratio - w / h) <= tolerance * (w / h) for w, h in self.aspects)


def youtube_shorts(*, max_size_mb: float = 256, max_duration: float = 180.0) -> DestinationProfile:
    """YouTube Shorts: up to 180 s, 9:16 or square, H.264/AAC MP4 (size cap from the spec)."""
    return DestinationProfile(
        name="youtube_shorts",
        max_duration=max_duration,
        aspects=(VERTICAL, SQUARE),
        max_width=2160,
        max_height=3840,
        max_size_bytes=int(max_size_mb * MB),
    )


def instagram_reels(*, max_duration: float = 90.0, max_size_mb: float = 100) -> DestinationProfile:
    """Instagram Reels: 3 s to the cap (spec: 90 s, up to 15 min), 9:16, <= 1920 wide, 23-60 fps."""
    if not 3.0 <= max_duration <= 900.0:
        raise ValueError("Instagram Reels accept 3 s to 15 min; max_duration must be in 3..900")
    return DestinationProfile(
        name="instagram_reels",
        max_duration=max_duration,
        min_duration=3.0,
        aspects=(VERTICAL,),
        max_width=1920,
        max_height=3840,
        min_fps=23.0,
        max_fps=60.0,
        constant_frame_rate=True,
        max_size_bytes=int(max_size_mb * MB),
        allows_4k=False,
    )


class Quality(StrEnum):
    """The connection's quality choice (specification §4.3, step 6)."""

    ORIGINAL = "original"
    OPTIMIZED = "optimized"
    MAXIMUM_COMPATIBILITY = "maximum_compatibility"


@dataclass(frozen=True)
class EncoderSettings:
    """x264/AAC settings of a quality preset, plus the extra limits the preset imposes."""

    x264_preset: str
    crf: int
    profile: str | None = None
    level: str | None = None
    audio_bitrate: int = 128_000
    max_fps: float | None = None
    max_width: int | None = None
    profiles_ok: tuple[str, ...] | None = None


ENCODERS: dict[Quality, EncoderSettings] = {
    # Keep what is there; when we must encode, spend CPU on fidelity.
    Quality.ORIGINAL: EncoderSettings("medium", 18, "high", audio_bitrate=192_000),
    # The platforms re-encode anyway: veryfast at a visually clean CRF is the best trade.
    Quality.OPTIMIZED: EncoderSettings("veryfast", 20, "high"),
    # Old phones and picky players: Main profile, level 4.0, <= 30 fps, <= 1080 wide.
    Quality.MAXIMUM_COMPATIBILITY: EncoderSettings(
        "faster", 21, "main", "4.0", max_fps=30.0, max_width=1080,
        profiles_ok=("Baseline", "Constrained Baseline", "Main"),
    ),
}
