"""Benchmark the video engine (prints figures; not a test). Run: python bench/video.py

(a) the specification's naive chain: upscale (slow, CRF 18), then the green-screen step
    (medium, CRF 20), then the compliance step (medium, CRF 23): three encodes;
(b) the engine's one-pass plan for the same options (upscale + chroma-key layout + Reels);
(c) passthrough of a compliant clip against re-encoding it;
and a 30 s 720p clip to 1080x1920 at the optimized preset against real time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.video import (  # noqa: E402
    AudioAction,
    FFmpegBinary,
    Layout,
    Plan,
    Quality,
    Template,
    TransformOptions,
    default_background,
    execute,
    instagram_reels,
    locate,
    plan,
    probe,
)
from core.video.graph import build_args  # noqa: E402
from core.video.profiles import ENCODERS, EncoderSettings  # noqa: E402
from core.video.runner import run_ffmpeg  # noqa: E402

QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


async def ffmpeg(binary: FFmpegBinary, *args: str) -> float:
    """Run ffmpeg; return its wall time in seconds."""
    start = time.perf_counter()
    await run_ffmpeg([binary.ffmpeg, *QUIET, *args], duration=1.0)
    return time.perf_counter() - start


async def make_clips(binary: FFmpegBinary, folder: Path) -> dict[str, Path]:
    """A 15 s green-screen 720x1280 clip, a compliant 1080x1920 clip, a 30 s 720p clip."""
    clips = {"gs": folder / "gs15.mp4", "ok": folder / "ok15.mp4", "hd30": folder / "hd30.mp4"}
    moving = "x='160+120*sin(t)':y='300+200*cos(t*0.7)'"
    await ffmpeg(binary, "-f", "lavfi", "-i", "color=c=0x00FF00:s=720x1280:r=30:d=15",
                 "-f", "lavfi", "-i", "testsrc2=s=400x400:r=30:d=15",
                 "-f", "lavfi", "-i", "sine=f=440:r=44100:d=15",
                 "-filter_complex", f"[0][1]overlay={moving}", "-c:v", "libx264",
                 "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac",
                 "-shortest", str(clips["gs"]))
    await ffmpeg(binary, "-f", "lavfi", "-i", "testsrc2=s=1080x1920:r=30:d=15",
                 "-f", "lavfi", "-i", "sine=f=440:r=48000:d=15", "-c:v", "libx264",
                 "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac",
                 "-movflags", "+faststart", "-shortest", str(clips["ok"]))
    await ffmpeg(binary, "-f", "lavfi", "-i", "testsrc2=s=720x1280:r=30:d=30",
                 "-f", "lavfi", "-i", "sine=f=440:r=44100:d=30", "-c:v", "libx264",
                 "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac",
                 "-shortest", str(clips["hd30"]))
    return clips


async def run_plan(binary: FFmpegBinary, the_plan: Plan, src: Path, dst: Path,
                   assets: Path) -> float:
    """Wall time of one ``execute`` (ffmpeg run plus output verification)."""
    start = time.perf_counter()
    await execute(the_plan, src, dst, binary=binary, assets_dir=assets)
    return time.perf_counter() - start


async def ssim(binary: FFmpegBinary, distorted: Path, reference: Path) -> float:
    """SSIM (all planes) of ``distorted`` against ``reference``."""
    proc = await asyncio.create_subprocess_exec(
        binary.ffmpeg, "-hide_banner", "-nostdin", "-i", str(distorted), "-i", str(reference),
        "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    match = re.search(r"SSIM .* All:([\d.]+)", err.decode())
    assert match, err.decode()[-500:]
    return float(match.group(1))


async def naive_chain(binary: FFmpegBinary, src: Path, folder: Path, options: TransformOptions,
                      assets: Path) -> list[float]:
    """The specification's §4.9 commands, one encode per step."""
    step1, step2, step3 = (folder / f"naive{i}.mp4" for i in (1, 2, 3))
    times = [await ffmpeg(binary, "-i", str(src), "-vf", "scale=1080:1920:flags=lanczos",
                          "-c:v", "libx264", "-preset", "slow", "-crf", "18", "-c:a", "copy",
                          "-movflags", "+faststart", str(step1))]
    # The green-screen step: the same composite as (b), encoded as §4.9.2 says.
    upscaled = await probe(step1, binary=binary)
    layout_only = dataclasses.replace(options, upscale=False)
    green = plan(upscaled, layout_only, instagram_reels())
    green = dataclasses.replace(green, encoder=EncoderSettings("medium", 20),
                                audio=AudioAction.COPY, max_video_bitrate=None)
    background = await default_background(binary=binary, directory=assets)
    args = build_args(green, str(step1), str(step2), binary=binary, background=str(background))
    start = time.perf_counter()
    await run_ffmpeg(args, duration=green.duration)
    times.append(time.perf_counter() - start)
    times.append(await ffmpeg(
        binary, "-i", str(step2), "-vf",
        "scale=1080:1920:force_original_aspect_ratio=decrease,pad=1080:1920:(ow-iw)/2:(oh-ih)/2",
        "-t", "90", "-c:v", "libx264", "-preset", "medium", "-crf", "23", "-c:a", "aac",
        "-b:a", "128k", "-movflags", "+faststart", str(step3)))
    return times


async def main() -> None:
    binary = locate(os.environ.get("FFMPEG_BINARY") or None)
    print(f"machine: {os.cpu_count()} cores; {binary.version()}")
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        folder = Path(tmp)
        assets = folder / "assets"
        clips = await make_clips(binary, folder)
        await default_background(binary=binary, directory=assets)  # drawn once, before timing

        options = TransformOptions(upscale=True, quality=Quality.OPTIMIZED,
                                   layout=Layout(Template.CHROMA_KEY))
        naive = await naive_chain(binary, clips["gs"], folder, options, assets)
        source = await probe(clips["gs"], binary=binary)
        one_pass = plan(source, options, instagram_reels())
        t_b = await run_plan(binary, one_pass, clips["gs"], folder / "onepass.mp4", assets)
        # The reference: the same graph on the source, encoded losslessly.
        lossless = dataclasses.replace(one_pass, encoder=EncoderSettings("ultrafast", 0),
                                       max_video_bitrate=None, max_size_bytes=None)
        await run_plan(binary, lossless, clips["gs"], folder / "reference.mp4", assets)
        s_a = await ssim(binary, folder / "naive3.mp4", folder / "reference.mp4")
        s_b = await ssim(binary, folder / "onepass.mp4", folder / "reference.mp4")
        t_a = sum(naive)
        key = options.layout.key_mode.value if options.layout else "-"
        print(f"options: upscale, chroma_key layout (key_mode={key}, default background), "
              f"optimized, instagram_reels; source 15 s 720x1280 30 fps")
        print(f"(a) naive chain, 3 encodes: {t_a:.1f} s "
              f"[upscale {naive[0]:.1f} s, green screen {naive[1]:.1f} s, "
              f"compliance {naive[2]:.1f} s]")
        print(f"(b) one-pass plan, 1 encode: {t_b:.1f} s")
        print(f"(b)/(a): {t_a / t_b:.2f}x faster (goal >= 3x)")
        print(f"SSIM vs lossless reference: (a) {s_a:.4f}  (b) {s_b:.4f} "
              f"({'no worse' if s_b >= s_a else 'WORSE'})")

        ok = await probe(clips["ok"], binary=binary)
        copy_plan = plan(ok, TransformOptions(), instagram_reels())
        assert copy_plan.copy_video, copy_plan.summary()
        t_copy = await run_plan(binary, copy_plan, clips["ok"], folder / "copy.mp4", assets)
        forced = dataclasses.replace(copy_plan, copy_video=False,
                                     encoder=ENCODERS[Quality.OPTIMIZED])
        t_enc = await run_plan(binary, forced, clips["ok"], folder / "reenc.mp4", assets)
        print(f"(c) passthrough {t_copy:.2f} s vs re-encode {t_enc:.1f} s: "
              f"{t_enc / t_copy:.0f}x (goal >= 20x)")

        hd = await probe(clips["hd30"], binary=binary)
        up = plan(hd, TransformOptions(upscale=True, quality=Quality.OPTIMIZED),
                  instagram_reels())
        t_up = await run_plan(binary, up, clips["hd30"], folder / "hd30_up.mp4", assets)
        print(f"30 s 720p -> {up.width}x{up.height} optimized: {t_up:.1f} s wall = "
              f"{t_up / hd.duration:.2f}x real time (goal <= 1x)")


if __name__ == "__main__":
    asyncio.run(main())
