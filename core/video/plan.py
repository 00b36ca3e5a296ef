"""The pure planner: (probe, options, destination) -> a Plan that says what changes and why.

No ffmpeg runs here; the executor turns a Plan into one ffmpeg command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.errors import ErrorCode, MediaError
from core.video.geometry import Geometry, even, fit, shape_size, vertical_box
from core.video.layouts import Layout, Template, ffmpeg_color, place
from core.video.probe import ProbeResult
from core.video.profiles import ENCODERS, MB, DestinationProfile, EncoderSettings, Quality

# x264 picks a level from maxrate; above this a cap only hurts compatibility.
BITRATE_CEILING = 40_000_000
MIN_VIDEO_BITRATE = 64_000  # below this nothing watchable fits; say video_too_large
SIZE_SAFETY = 0.92  # container overhead and rate-control slack
VBV_SECONDS = 0.5  # the encoder's buffer: bufsize = maxrate * VBV_SECONDS
STANDARD_SHORT_SIDE = 1080
UHD_SHORT_SIDE = 2160


class AspectMode(StrEnum):
    """How a picture that is not 9:16 is made 9:16."""

    PAD_BLUR = "pad_blur"
    PAD_COLOR = "pad_color"
    CROP = "crop"


class ChangeKind(StrEnum):
    """The kinds of change a plan can make."""

    STREAM_COPY = "stream_copy"
    REMUX = "remux"
    REENCODE = "reencode"
    SCALE = "scale"
    UPSCALE = "upscale"
    CROP = "crop"
    PAD = "pad"
    LAYOUT = "layout"
    ROTATE = "rotate"
    TRIM = "trim"
    EXTEND = "extend"
    FPS = "fps"
    PIXEL_FORMAT = "pixel_format"
    AUDIO_TRANSCODE = "audio_transcode"
    BITRATE_CAP = "bitrate_cap"
    FASTSTART = "faststart"


class AudioAction(StrEnum):
    """What happens to the audio stream."""

    NONE = "none"
    COPY = "copy"
    ENCODE = "encode"


@dataclass(frozen=True)
class Change:
    """One change the plan makes, with the reason an admin can read."""

    kind: ChangeKind
    reason: str


@dataclass(frozen=True)
class TransformOptions:
    """A connection's transform options (specification §4.3 step 6, §4.9)."""

    upscale: bool = False
    upscale_4k: bool = False
    quality: Quality = Quality.OPTIMIZED
    aspect: AspectMode = AspectMode.PAD_BLUR
    pad_color: str = "#000000"
    layout: Layout | None = None
    reject_too_long: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "quality", Quality(self.quality))
        object.__setattr__(self, "aspect", AspectMode(self.aspect))
        ffmpeg_color(self.pad_color)


@dataclass(frozen=True)
class Plan:
    """Everything the executor needs, and every change with its reason."""

    source: ProbeResult
    profile: DestinationProfile
    options: TransformOptions
    changes: tuple[Change, ...]
    copy_video: bool
    audio: AudioAction
    width: int
    height: int
    duration: float
    fps: float
    geometry: Geometry | None = None
    fps_filter: bool = False
    trim: float | None = None
    extend: float | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    audio_bitrate: int | None = None
    encoder: EncoderSettings | None = None
    max_video_bitrate: int | None = None
    max_size_bytes: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def layout(self) -> Layout | None:
        """The green-screen layout, if any."""
        return self.options.layout

    @property
    def video_codec(self) -> str:
        """The output's video codec."""
        return "h264" if not self.copy_video else self.source.video_codec

    @property
    def audio_codec(self) -> str | None:
        """The output's audio codec (None: no audio)."""
        return {AudioAction.NONE: None, AudioAction.ENCODE: "aac"}.get(
            self.audio, self.source.audio_codec)

    @property
    def kinds(self) -> set[ChangeKind]:
        """The kinds of change in this plan."""
        return {c.kind for c in self.changes}

    def summary(self) -> str:
        """A readable multi-line description for logs and dry-run reports."""
        head = (f"{self.profile.name}: {self.width}x{self.height}, {self.duration:.1f} s, "
                f"{self.fps:g} fps, {'stream copy' if self.copy_video else 'one encode'}")
        lines = [head] + [f"- {c.kind.value}: {c.reason}" for c in self.changes]
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])


class _Planner:
    def __init__(self, probe: ProbeResult, options: TransformOptions,
                 profile: DestinationProfile) -> None:
        self.p, self.o, self.prof = probe, options, profile
        self.enc = ENCODERS[options.quality]
        self.changes: list[Change] = []
        self.encode_because: list[str] = []
        self.notes: list[str] = []

    def add(self, kind: ChangeKind, reason: str, *, forces_encode: bool = True) -> None:
        self.changes.append(Change(kind, reason))
        if forces_encode:
            self.encode_because.append(kind.value)

    def duration(self) -> tuple[float, float | None, float | None]:
        p, prof = self.p, self.prof
        if p.duration > prof.max_duration + 0.05:
            if self.o.reject_too_long:
                raise MediaError(
                    f"The video is {p.duration:.1f} s; {prof.name} accepts at most "
                    f"{prof.max_duration:g} s and this connection rejects longer videos",
                    code=ErrorCode.VIDEO_TOO_LARGE)
            self.add(ChangeKind.TRIM, f"the video is {p.duration:.1f} s; {prof.name} accepts "
                     f"at most {prof.max_duration:g} s, so it is cut at {prof.max_duration:g} s",
                     forces_encode=False)
            return prof.max_duration, prof.max_duration, None
        if p.duration < prof.min_duration:
            self.add(ChangeKind.EXTEND, f"the video is {p.duration:.1f} s; {prof.name} needs at "
                     f"least {prof.min_duration:g} s, so the last frame is held")
            return prof.min_duration, None, prof.min_duration
        return p.duration, None, None

    def geometry(self) -> Geometry | None:
        p, o, prof = self.p, self.o, self.prof
        src = (p.display_width, p.display_height)
        layout = o.layout
        crop = None
        if layout is not None and layout.template is not Template.FULL_SCREEN_OVERLAY:
            box = vertical_box(*src, inside=False)
            self.add(ChangeKind.LAYOUT, f"the connection applies the '{layout.template.value}' "
                     "layout on a 9:16 canvas")
        elif not prof.accepts_aspect(*src):
            inside = o.aspect is AspectMode.CROP
            box = vertical_box(*src, inside=inside)
            if inside:
                crop = (box[0], box[1], (src[0] - box[0]) // 2, (src[1] - box[1]) // 2)
                self.add(ChangeKind.CROP, f"{src[0]}x{src[1]} is not an accepted aspect for "
                         f"{prof.name}; the centre {box[0]}x{box[1]} (9:16) is kept")
            else:
                fill = "a blurred copy" if o.aspect is AspectMode.PAD_BLUR else o.pad_color
                self.add(ChangeKind.PAD, f"{src[0]}x{src[1]} is not an accepted aspect for "
                         f"{prof.name}; it is fitted into 9:16 with {fill} behind it")
        else:
            box = src
        if layout is not None and layout.template is Template.FULL_SCREEN_OVERLAY:
            self.add(ChangeKind.LAYOUT, "the connection overlays a brand image "
                     "('full_screen_overlay')")
        target = self._target_size(box, reshaped=box != src)
        if layout is not None and layout.template is not Template.FULL_SCREEN_OVERLAY:
            spot = place(layout, src, target)
            return Geometry(target, spot.video, spot.position, None, "layout")
        if target == src and crop is None and box == src:
            return None
        if crop is not None:
            return Geometry(canvas=target, video=target, crop=crop)
        if box == src:
            return Geometry(canvas=target, video=target)
        video, offset = fit(src, target)
        fill = "blur" if o.aspect is AspectMode.PAD_BLUR else "color"
        return Geometry(target, video, offset, None, fill, ffmpeg_color(o.pad_color))

    def _target_size(self, box: tuple[int, int], *, reshaped: bool) -> tuple[int, int]:
        o, prof, enc = self.o, self.prof, self.enc
        short = min(box)
        max_w = min(prof.max_width, enc.max_width or prof.max_width)
        want_4k = o.upscale_4k
        if want_4k and (not prof.allows_4k or max_w < UHD_SHORT_SIDE):
            self.notes.append(f"4K was asked for, but {prof.name} with the "
                              f"'{o.quality.value}' preset allows at most {max_w} px wide")
            want_4k = False
        target = even(box[0]), even(box[1])
        if want_4k and short < UHD_SHORT_SIDE:
            target = shape_size(box, UHD_SHORT_SIDE)
            self.add(ChangeKind.UPSCALE, f"{box[0]}x{box[1]} is below 4K and the connection "
                     f"asks for 4K: lanczos to {target[0]}x{target[1]}")
            return target
        if o.upscale and short < STANDARD_SHORT_SIDE:
            target = shape_size(box, STANDARD_SHORT_SIDE)
            self.add(ChangeKind.UPSCALE, f"{box[0]}x{box[1]} is below 1080p and upscaling is "
                     f"on: lanczos to {target[0]}x{target[1]}")
            return target
        too_big = target[0] > max_w or target[1] > prof.max_height
        # A reshaped wide picture would make a needlessly huge canvas (1920x3414).
        oversized = reshaped and short > STANDARD_SHORT_SIDE and not want_4k
        if too_big or oversized:
            target = shape_size(box, STANDARD_SHORT_SIDE)
            why = (f"wider than the {max_w} px limit" if too_big
                   else "larger than the platform's native 1080 px width")
            self.add(ChangeKind.SCALE, f"{box[0]}x{box[1]} is {why}: scaled to "
                     f"{target[0]}x{target[1]}")
        elif target != (box[0], box[1]):
            self.add(ChangeKind.SCALE, f"{box[0]}x{box[1]} has an odd size; H.264 4:2:0 needs "
                     f"even sides: {target[0]}x{target[1]}")
        return target

    def frame_rate(self) -> tuple[float, bool]:
        p, prof = self.p, self.prof
        top = min(prof.max_fps, self.enc.max_fps or prof.max_fps)
        fps = p.fps or 30.0
        if fps > top + 0.01:
            self.add(ChangeKind.FPS, f"{fps:g} fps is above the {top:g} fps limit")
            return top, True
        if prof.min_fps and fps < prof.min_fps - 0.01:
            target = min(30.0, top)
            self.add(ChangeKind.FPS, f"{fps:g} fps is below {prof.name}'s {prof.min_fps:g} fps "
                     f"minimum: {target:g} fps")
            return target, True
        if p.variable_frame_rate and prof.constant_frame_rate:
            target = float(min(max(round(fps), prof.min_fps), top))
            self.add(ChangeKind.FPS, f"the frame rate is variable; {prof.name} wants a constant "
                     f"rate: {target:g} fps")
            return target, True
        return fps, False

    def codecs(self) -> None:
        p, prof, enc = self.p, self.prof, self.enc
        if p.video_codec not in prof.video_codecs:
            self.add(ChangeKind.REENCODE, f"the video is {p.video_codec}; {prof.name} needs "
                     f"{'/'.join(c.upper() for c in prof.video_codecs)}")
        elif p.pix_fmt not in prof.pix_fmts:
            self.add(ChangeKind.PIXEL_FORMAT, f"the pixel format is {p.pix_fmt}; players "
                     "expect 8-bit yuv420p")
        elif enc.profiles_ok and p.video_profile not in enc.profiles_ok:
            self.add(ChangeKind.REENCODE, f"H.264 {p.video_profile} profile; maximum "
                     f"compatibility needs {enc.profile.title() if enc.profile else 'Main'}")

    def audio(self, extend: float | None) -> tuple[AudioAction, int | None, int | None]:
        p, prof = self.p, self.prof
        if not p.has_audio:
            return AudioAction.NONE, None, None
        rate = p.audio_sample_rate or 48000
        channels = p.audio_channels or 2
        why = []
        if p.audio_codec not in prof.audio_codecs:
            why.append(f"the audio is {p.audio_codec}; {prof.name} needs AAC")
        if rate > prof.max_sample_rate:
            why.append(f"{rate} Hz is above {prof.max_sample_rate} Hz")
            rate = prof.max_sample_rate
        elif self.enc.profiles_ok and rate not in (44100, 48000):
            why.append(f"{rate} Hz is unusual; maximum compatibility uses 48000 Hz")
            rate = 48000
        if channels > prof.max_channels:
            why.append(f"{channels} channels are mixed down to {prof.max_channels}")
            channels = prof.max_channels
        if extend is not None:
            why.append("silence is added to match the held last frame")
        if not why:
            return AudioAction.COPY, p.audio_sample_rate, p.audio_channels
        self.add(ChangeKind.AUDIO_TRANSCODE, "; ".join(why) + " (AAC)", forces_encode=False)
        return AudioAction.ENCODE, rate, channels

    def size(self, duration: float, copy: bool, audio_bitrate: int) -> int | None:
        """The video bitrate cap in bits/s (None: no cap); may force an encode."""
        cap = self.prof.max_size_bytes
        if not cap:
            return None
        estimate = self.p.size * min(1.0, duration / self.p.duration)
        # The VBV buffer (VBV_SECONDS of maxrate) may be spent on top of the steady rate.
        budget = int(cap * 8 * SIZE_SAFETY / (duration + VBV_SECONDS)) - audio_bitrate
        if copy and estimate <= cap * 0.98:
            return None
        if budget < MIN_VIDEO_BITRATE:
            raise MediaError(
                f"{duration:.0f} s cannot fit in {cap / MB:.1f} MB: it would leave "
                f"{max(budget, 0) // 1000} kb/s for the picture", code=ErrorCode.VIDEO_TOO_LARGE)
        if copy:
            self.add(ChangeKind.BITRATE_CAP, f"about {estimate / MB:.1f} MB would exceed "
                     f"{self.prof.name}'s {cap / MB:.0f} MB cap: re-encoded at "
                     f"<= {budget // 1000} kb/s")
            return budget
        if budget < BITRATE_CEILING:
            self.add(ChangeKind.BITRATE_CAP, f"video <= {budget // 1000} kb/s keeps "
                     f"{duration:.0f} s under the {cap / MB:.0f} MB cap", forces_encode=False)
            return budget
        return None


def plan(probe: ProbeResult, options: TransformOptions | None = None,
         profile: DestinationProfile | None = None) -> Plan:
    """Decide every change for ``probe`` to suit ``profile`` under ``options`` (pure)."""
    from core.video.profiles import youtube_shorts

    options = options or TransformOptions()
    profile = profile or youtube_shorts()
    pl = _Planner(probe, options, profile)
    duration, trim, extend = pl.duration()
    geometry = pl.geometry()
    fps, fps_filter = pl.frame_rate()
    pl.codecs()
    audio, rate, channels = pl.audio(extend)
    copy = not pl.encode_because
    enc = pl.enc
    audio_bits = (enc.audio_bitrate if audio is AudioAction.ENCODE
                  else probe.audio_bitrate or 0)
    cap = pl.size(duration, copy, audio_bits)
    copy = not pl.encode_because
    if copy:
        what = "the picture already suits " + profile.name
        pl.add(ChangeKind.STREAM_COPY, f"{what}: video copied without re-encoding",
               forces_encode=False)
        if not probe.is_mp4:
            pl.add(ChangeKind.REMUX, f"the {probe.container.split(',')[0]} container is "
                   "rewritten as MP4", forces_encode=False)
    else:
        pl.add(ChangeKind.REENCODE, f"one x264 pass ({enc.x264_preset}, CRF {enc.crf}, "
               f"'{options.quality.value}') because of: {', '.join(pl.encode_because)}",
               forces_encode=False)
        if probe.rotation:
            pl.add(ChangeKind.ROTATE, f"the {probe.rotation}° rotation flag is applied to the "
                   "pixels", forces_encode=False)
    if probe.moov_first is not True:
        pl.add(ChangeKind.FASTSTART, "the source keeps its index (moov atom) at the end; the "
               "output has it first so playback and upload checks start before the whole "
               "file arrives", forces_encode=False)
    width, height = (geometry.canvas if geometry is not None
                     else (probe.display_width, probe.display_height))
    if copy:
        fps, fps_filter = probe.fps, False
    return Plan(
        source=probe, profile=profile, options=options, changes=tuple(pl.changes),
        copy_video=copy, audio=audio, width=width, height=height, duration=duration, fps=fps,
        geometry=None if copy else geometry, fps_filter=fps_filter and not copy, trim=trim,
        extend=extend, audio_sample_rate=rate, audio_channels=channels,
        audio_bitrate=enc.audio_bitrate if audio is AudioAction.ENCODE else None,
        encoder=None if copy else enc, max_video_bitrate=None if copy else cap,
        max_size_bytes=profile.max_size_bytes, notes=tuple(pl.notes),
    )
