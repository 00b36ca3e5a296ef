"""Turn a Plan into ONE ffmpeg command line: one filter graph, one encode (or a copy)."""

from __future__ import annotations

from typing import Any

import ffmpeg

from core.video.binary import FFmpegBinary
from core.video.layouts import KeyMode, Position, Template, ffmpeg_color
from core.video.plan import VBV_SECONDS, AudioAction, Plan

Stream = Any  # ffmpeg-python streams are untyped

GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1",
               "-nostats", "-stats_period", "0.5")


def _scale(stream: Stream, size: tuple[int, int]) -> Stream:
    return stream.filter("scale", size[0], size[1], flags="lanczos")


def _fps_text(fps: float) -> str:
    return f"{fps:.6g}"


def background_stream(plan: Plan, image: str | None, color: str | None) -> Stream:
    """An endless canvas-sized background at the plan's frame rate."""
    w, h = plan.width, plan.height
    if image is None:
        spec = f"color=c={ffmpeg_color(color or '#000000')}:s={w}x{h}:r={_fps_text(plan.fps)}"
        return ffmpeg.input(spec, f="lavfi")
    # Decode and scale the still once, then repeat it: -loop 1 would decode it every frame.
    return (
        ffmpeg.input(image)
        .filter("scale", w, h, force_original_aspect_ratio="increase", flags="lanczos")
        .filter("crop", w, h)
        .filter("loop", loop=-1, size=1, start=0)
        .filter("setpts", f"N/({_fps_text(plan.fps)}*TB)")
    )


def _fill_blur(video: Stream, plan: Plan) -> Stream:
    g = plan.geometry
    assert g is not None
    w, h = g.canvas
    src_w, src_h = plan.source.display_width, plan.source.display_height
    # Blur a small copy and stretch it back: the same look at a fraction of the cost.
    small_w, small_h = max(2, w // 8 // 2 * 2), max(2, h // 8 // 2 * 2)
    factor = max(small_w / src_w, small_h / src_h)
    cover = (max(small_w, int(src_w * factor + 1) // 2 * 2 + 2),
             max(small_h, int(src_h * factor + 1) // 2 * 2 + 2))
    parts = video.split()
    back = (
        parts[0].filter("scale", cover[0], cover[1])
        .filter("crop", small_w, small_h)
        .filter("gblur", sigma=6)
        .filter("eq", brightness=-0.08)
        .filter("scale", w, h, flags="bilinear")
    )
    front = _scale(parts[1], g.video)
    return ffmpeg.filter([back, front], "overlay", x=g.offset[0], y=g.offset[1])


def _layout(video: Stream, plan: Plan, background: str | None) -> Stream:
    layout, g = plan.layout, plan.geometry
    assert layout is not None and g is not None
    image = str(layout.background) if layout.background is not None else background
    if layout.background_color is not None and layout.background is None:
        image = None
    back = background_stream(plan, image, layout.background_color)
    front = video
    if layout.template is Template.CHROMA_KEY:
        name = "chromakey" if layout.key_mode is KeyMode.CHROMA else "colorkey"
        front = front.filter(name, color=ffmpeg_color(layout.key_color),
                             similarity=layout.key_similarity, blend=layout.key_blend)
        if layout.despill:
            r, gg, b = (int(ffmpeg_color(layout.key_color)[i:i + 2], 16) for i in (2, 4, 6))
            front = front.filter("despill", type="blue" if b > gg else "green")
    front = _scale(front, g.video)
    if layout.border_width and layout.template is not Template.CHROMA_KEY:
        bw = layout.border_width
        front = front.filter("pad", g.video[0] + 2 * bw, g.video[1] + 2 * bw, bw, bw,
                             color=ffmpeg_color(layout.border_color))
    return ffmpeg.filter([back, front], "overlay", x=g.offset[0], y=g.offset[1], shortest=1)


def _brand(video: Stream, plan: Plan) -> Stream:
    layout = plan.layout
    assert layout is not None and layout.overlay_image is not None
    w = max(2, int(plan.width * layout.size) // 2 * 2)
    margin = round(plan.width * 0.04)
    mark = ffmpeg.input(str(layout.overlay_image)).filter("scale", w, -2).filter("format", "rgba")
    if layout.opacity < 1.0:
        mark = mark.filter("colorchannelmixer", aa=round(layout.opacity, 3))
    where = layout.where
    side = where.value.split("_")[-1]
    x = {"left": f"{margin}", "right": f"W-w-{margin}"}.get(side, "(W-w)/2")
    if where in (Position.TOP, Position.TOP_LEFT, Position.TOP_RIGHT):
        y = f"{margin}"
    elif where in (Position.BOTTOM, Position.BOTTOM_LEFT, Position.BOTTOM_RIGHT):
        y = f"H-h-{margin}"
    else:
        y = "(H-h)/2"
    # eof_action=repeat keeps the single-frame image on screen for the whole video.
    return ffmpeg.filter([video, mark], "overlay", x=x, y=y, eof_action="repeat")


def video_chain(video: Stream, plan: Plan, background: str | None = None) -> Stream:
    """The whole video filter chain of an encode plan."""
    src = plan.source
    g = plan.geometry
    reduce_first = plan.fps_filter and plan.fps < src.fps
    if reduce_first:  # drop frames before the costly filters see them
        video = video.filter("fps", _fps_text(plan.fps))
    if g is None:
        coded = (src.height, src.width) if src.rotation in (90, 270) else (src.width, src.height)
        if coded != (plan.width, plan.height):
            video = _scale(video, (plan.width, plan.height))
    elif g.fill == "layout":
        video = _layout(video, plan, background)
    else:
        if g.crop is not None:
            video = video.filter("crop", *g.crop)
        if g.fill == "blur":
            video = _fill_blur(video, plan)
        else:
            video = _scale(video, g.video)
            if g.fill == "color":
                video = video.filter("pad", g.canvas[0], g.canvas[1], g.offset[0], g.offset[1],
                                     color=g.color)
    if plan.layout is not None and plan.layout.template is Template.FULL_SCREEN_OVERLAY:
        video = _brand(video, plan)
    if (plan.fps_filter and not reduce_first) or (g is not None and g.fill == "layout"):
        video = video.filter("fps", _fps_text(plan.fps))
    if plan.extend is not None:
        pad = round(plan.extend - src.duration + 1.0, 3)
        video = video.filter("tpad", stop_mode="clone", stop_duration=pad)
    return video.filter("setsar", 1).filter("format", "yuv420p")


def build_args(plan: Plan, src: str, dst: str, *, binary: FFmpegBinary,
               background: str | None = None) -> list[str]:
    """The complete ffmpeg argv (binary first) that carries out ``plan``."""
    source = ffmpeg.input(src)
    video = source[str(plan.source.video_stream)]
    audio = None
    if plan.audio is not AudioAction.NONE and plan.source.audio_stream is not None:
        audio = source[str(plan.source.audio_stream)]
    opts: dict[str, Any] = {"movflags": "+faststart", "format": "mp4"}
    if plan.copy_video:
        opts["c:v"] = "copy"
        if plan.trim is not None:
            opts["t"] = f"{plan.trim:.3f}"
    else:
        enc = plan.encoder
        assert enc is not None
        video = video_chain(video, plan, background)
        opts.update({"c:v": "libx264", "preset": enc.x264_preset, "crf": enc.crf,
                     "pix_fmt": "yuv420p", "t": f"{plan.duration:.3f}"})
        if enc.profile:
            opts["profile:v"] = enc.profile
        if enc.level:
            opts["level"] = enc.level
        if plan.max_video_bitrate:
            opts["maxrate"] = plan.max_video_bitrate
            opts["bufsize"] = int(plan.max_video_bitrate * VBV_SECONDS)
    streams = [video]
    if audio is not None:
        if plan.audio is AudioAction.ENCODE:
            if plan.extend is not None:
                audio = audio.filter("apad", whole_dur=f"{plan.extend:.3f}")
            opts.update({"c:a": "aac", "b:a": plan.audio_bitrate or 128_000})
            if plan.audio_sample_rate:
                opts["ar"] = plan.audio_sample_rate
            if plan.audio_channels:
                opts["ac"] = plan.audio_channels
        else:
            opts["c:a"] = "copy"
        streams.append(audio)
    out = ffmpeg.output(*streams, dst, **opts).global_args(*GLOBAL_ARGS).overwrite_output()
    args: list[str] = out.compile(cmd=binary.ffmpeg)
    return args
