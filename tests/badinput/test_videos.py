"""Videos no platform would take, through the forward pipeline (core/services/forward.py) over
the in-memory platforms: corrupt bytes, a zero-byte file, a file cut off mid-download, audio
only, a file over the destination's size limit, and a landscape clip (which is fixable).

A broken video fails its job at once with a specific code (no retry can mend the file), the
dead-letter queue holds it with the reason, nothing is published, and the run returns an
outcome instead of raising.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from core.errors import ErrorCode
from core.models import Connection, Job, JobStatus, LogEntry, LogLevel, PostOutcome, SourcePost
from core.pipeline import steps as steps_module
from core.video import locate
from core.video.profiles import youtube_shorts
from tests.core.pipeline.test_forward import T0, World, make_world
from tests.fakes.media import make_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad-videos")
    good = make_clip(folder / "good.mp4", seconds=1.0)
    files = {"good": good, "landscape": make_clip(folder / "landscape.mp4", size="320x180", seconds=1.0)}
    (folder / "corrupt.mp4").write_bytes(bytes(range(256)) * 64)
    (folder / "zero.mp4").write_bytes(b"")
    (folder / "cut.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    subprocess.run([locate(None).ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=1",
                    "-c:a", "aac", str(folder / "audio.mp4")], check=True)
    for name in ("corrupt", "zero", "cut", "audio"):
        files[name] = folder / f"{name}.mp4"
    return files


async def _world_with(clip: Path, tmp_path: Path, good: Path) -> tuple[World, int]:
    w = await make_world(good, tmp_path)
    w.clock.advance(60)
    w.src.add_post(caption="a broken reel #fail", published_at=T0 + timedelta(seconds=30))
    w.src.clip = clip  # what the source hands over when the job downloads it
    [job_id] = await w.poll()
    return w, job_id


BROKEN = [
    ("corrupt", ErrorCode.VIDEO_CORRUPT,
     "is not a usable video: ffmpeg does not recognise it as a media file"),
    ("zero", ErrorCode.VIDEO_CORRUPT, "is not a usable video: the file is empty (0 bytes)"),
    ("cut", ErrorCode.VIDEO_CORRUPT, "is not a usable video: the file is cut off (box 'mdat'"),
    ("audio", ErrorCode.VIDEO_CORRUPT, "is not a usable video: it has no video stream"),
]


@pytest.mark.parametrize(("name", "code", "words"), BROKEN, ids=[b[0] for b in BROKEN])
async def test_a_broken_video_fails_once_and_publishes_nothing(
        db: str, tmp_path: Path, clips: dict[str, Path], name: str, code: ErrorCode, words: str) -> None:
    w, job_id = await _world_with(clips[name], tmp_path, clips["good"])
    outcome = await w.run(job_id)
    assert outcome.status is JobStatus.FAILED and outcome.error is not None
    assert outcome.error.code is code and not outcome.error.retriable
    job = await Job.get(id=job_id)
    assert (job.status, job.dead_letter, job.attempts) == (JobStatus.FAILED, True, 1)
    assert job.error_code == code.value
    assert words in (job.error_message or ""), job.error_message
    assert w.dst.published == [] and w.dst.calls["upload_start"] == 0
    post = await SourcePost.get(id=job.source_post_id)  # type: ignore[attr-defined]
    assert post.outcome is PostOutcome.FAILED and (post.reason or "").startswith(code.value)
    assert await LogEntry.filter(job_id=job_id, level=LogLevel.ERROR).count() == 1
    assert (await Connection.get(id=w.connection.id)).failure_count == 1
    again = await w.run(job_id)  # a dead job is not run again by a stray delivery
    assert again.skipped and w.dst.published == []


async def test_a_video_over_the_size_limit_is_too_large_not_retried(
        db: str, tmp_path: Path, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # Shorts take 256 MB; a limit of 10 KB makes the 1-second clip "over the limit" cheaply.
    monkeypatch.setattr(steps_module, "youtube_shorts", lambda: youtube_shorts(max_size_mb=0.01))
    w, job_id = await _world_with(clips["good"], tmp_path, clips["good"])
    outcome = await w.run(job_id)
    assert outcome.status is JobStatus.FAILED and outcome.error is not None
    assert outcome.error.code is ErrorCode.VIDEO_TOO_LARGE and not outcome.error.retriable
    job = await Job.get(id=job_id)
    assert job.dead_letter and job.attempts == 1 and "cannot fit in 0.0 MB" in (job.error_message or "")
    assert w.dst.published == []


async def test_a_landscape_clip_is_fitted_to_9_16_and_published_once(db: str, tmp_path: Path,
                                                                      clips: dict[str, Path]) -> None:
    w, job_id = await _world_with(clips["landscape"], tmp_path, clips["good"])
    outcome = await w.run(job_id)
    assert outcome.status is JobStatus.SUCCESS, outcome.error
    job = await Job.get(id=job_id)
    assert job.checkpoint["probe"]["width"] == 320 and job.checkpoint["probe"]["height"] == 180
    assert "pad" in job.checkpoint["transform"]["changes"]
    assert len(w.dst.published) == 1
