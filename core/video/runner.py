"""The executor: run a Plan as one ffmpeg process, report progress, verify the output."""

from __future__ import annotations

import asyncio
import inspect
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from core.errors import ErrorCode, MediaError
from core.procs import die_with_parent
from core.video.background import default_background
from core.video.binary import FFmpegBinary
from core.video.graph import build_args
from core.video.plan import AudioAction, Plan
from core.video.probe import ProbeResult, probe

ProgressCallback = Callable[[float], Awaitable[None] | None]
_FFMPEG_HINT = "ffmpeg stopped with an error; the message says why."


class ProgressParser:
    """Turn ``-progress`` key=value lines into percentages of the planned duration."""

    def __init__(self, duration: float) -> None:
        self.duration = max(duration, 0.001)
        self.percent = 0.0

    def feed(self, line: str) -> float | None:
        """The new percentage when ``line`` moves it forward, else None."""
        key, _, value = line.strip().partition("=")
        if key == "progress" and value == "end":
            percent = 100.0
        elif key in ("out_time_us", "out_time_ms") and value.strip().lstrip("-").isdigit():
            # Both keys carry microseconds (out_time_ms is misnamed in ffmpeg).
            percent = min(99.9, max(0.0, int(value) / 1e6 / self.duration * 100))
        else:
            return None
        if percent <= self.percent:
            return None
        self.percent = percent
        return percent


def classify_failure(stderr: str, returncode: int) -> MediaError:
    """Map ffmpeg's error output to the taxonomy."""
    text = stderr.strip()
    tail = text.splitlines()[-1].strip() if text else f"exit code {returncode}"
    low = text.lower()
    if "decoder" in low and ("not found" in low or "no decoder" in low):
        return MediaError(f"the source uses a codec this ffmpeg cannot decode ({tail})",
                          code=ErrorCode.UNSUPPORTED_CODEC)
    if any(s in low for s in ("invalid data found", "moov atom not found", "error while decoding",
                              "corrupt", "truncat")):
        return MediaError(f"the source could not be decoded: {tail}",
                          code=ErrorCode.VIDEO_CORRUPT)
    return MediaError(f"ffmpeg failed (exit {returncode}): {tail}",
                      code=ErrorCode.VIDEO_CORRUPT, hint=_FFMPEG_HINT)


def duration_tolerance(fps: float) -> float:
    """How far the output duration may stray from the plan (frame and packet granularity)."""
    return max(0.25, 3.0 / fps) if fps > 0 else 1.0


def mismatches(plan: Plan, out: ProbeResult) -> list[str]:
    """Every way ``out`` differs from what ``plan`` promised (empty: it matches)."""
    problems = []
    if (out.display_width, out.display_height) != (plan.width, plan.height):
        problems.append(f"size {out.display_width}x{out.display_height}, "
                        f"planned {plan.width}x{plan.height}")
    if out.video_codec != plan.video_codec:
        problems.append(f"video codec {out.video_codec}, planned {plan.video_codec}")
    if out.audio_codec != plan.audio_codec:
        problems.append(f"audio codec {out.audio_codec}, planned {plan.audio_codec}")
    if abs(out.duration - plan.duration) > duration_tolerance(plan.fps):
        problems.append(f"duration {out.duration:.2f} s, planned {plan.duration:.2f} s")
    if not plan.copy_video and out.pix_fmt != "yuv420p":
        problems.append(f"pixel format {out.pix_fmt}, planned yuv420p")
    if plan.fps_filter and abs(out.fps - plan.fps) > max(0.05 * plan.fps, 0.5):
        problems.append(f"{out.fps:g} fps, planned {plan.fps:g}")
    if (plan.audio is AudioAction.ENCODE and plan.audio_sample_rate
            and out.audio_sample_rate != plan.audio_sample_rate):
        problems.append(f"audio {out.audio_sample_rate} Hz, planned {plan.audio_sample_rate}")
    if out.moov_first is not True:
        problems.append("the moov atom is not at the front (no faststart)")
    return problems


async def _pump_progress(stream: asyncio.StreamReader, parser: ProgressParser,
                         on_progress: ProgressCallback | None) -> None:
    async for raw in stream:
        percent = parser.feed(raw.decode("ascii", "replace"))
        if percent is not None and on_progress is not None:
            result = on_progress(percent)
            if inspect.isawaitable(result):
                await result


async def run_ffmpeg(args: list[str], *, duration: float,
                     on_progress: ProgressCallback | None = None) -> None:
    """Run one ffmpeg command, streaming progress; raise MediaError when it fails."""
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, preexec_fn=die_with_parent,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        _, err = await asyncio.gather(
            _pump_progress(proc.stdout, ProgressParser(duration), on_progress),
            proc.stderr.read(),
        )
        code = await proc.wait()
    except BaseException:
        # Cancelled (or the callback failed): never leave an orphan ffmpeg running.
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if code != 0:
        raise classify_failure(err.decode("utf-8", "replace"), code)


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


async def execute(
    plan: Plan, src: str | Path, dst: str | Path, *, binary: FFmpegBinary,
    on_progress: ProgressCallback | None = None, assets_dir: str | Path | None = None,
) -> ProbeResult:
    """Carry out ``plan`` in one ffmpeg run, verify the result and move it to ``dst``."""
    src, dst = os.fspath(src), os.fspath(dst)
    # Unique per run: a run never writes into a file another (perhaps dying) run still holds.
    tmp = os.path.join(os.path.dirname(dst) or ".",
                       f".{os.path.basename(dst)}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    background = None
    layout = plan.layout
    if not plan.copy_video and layout is not None and layout.uses_default_background:
        background = str(await default_background(binary=binary, directory=assets_dir))
    args = build_args(plan, src, tmp, binary=binary, background=background)
    try:
        await run_ffmpeg(args, duration=plan.duration, on_progress=on_progress)
        out = await probe(tmp, binary=binary)
        problems = mismatches(plan, out)
        if problems:
            raise MediaError("the transformed video does not match its plan: "
                             + "; ".join(problems), code=ErrorCode.VIDEO_CORRUPT,
                             hint="The output failed verification; see the message.",
                             details={"plan": plan.summary()})
        if plan.max_size_bytes is not None and out.size > plan.max_size_bytes:
            raise MediaError(
                f"the video is {out.size / 1048576:.1f} MB after re-encoding; "
                f"{plan.profile.name} accepts {plan.max_size_bytes / 1048576:.1f} MB",
                code=ErrorCode.VIDEO_TOO_LARGE)
    except BaseException:
        await asyncio.to_thread(_discard, tmp)
        raise
    await asyncio.to_thread(os.replace, tmp, dst)
    return replace(out, path=dst)
