"""One forward: the dry run previews what the forward publishes, a cancelled job stops, and a
run's outcome is written whole or not at all."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import TransientError
from core.models import Connection, Job, JobStatus, LogEntry, PostOutcome, SourcePost
from core.services.dry_run import DryRunService
from tests.core.pipeline.test_forward import T0, World, make_world
from tests.fakes.media import make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("one-forward") / "reel.mp4")


@pytest.fixture
async def w(db: str, clip: Path, tmp_path: Path) -> World:
    return await make_world(clip, tmp_path)


async def _one_job(w: World, **post: Any) -> int:
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1), **post)
    [job_id] = await w.poll()
    return job_id


async def test_the_dry_run_previews_the_metadata_the_forward_publishes(db: str, clip: Path,
                                                                       tmp_path: Path) -> None:
    w = await make_world(clip, tmp_path, metadata_templates={
        "title": "{source_account}: {first_line}", "description": "{source_account} {date}\n{title}"})
    job_id = await _one_job(w, caption="Sunset\nover the sea #travel", extra={"title": "Bali"})
    report = await DryRunService(w.platforms).run(w.connection.id)
    [sample] = report["dry_run_results"]["sample_posts"]
    assert (await w.run(job_id)).status is JobStatus.SUCCESS
    [published] = w.dst.published
    assert sample["metadata"]["title"] == published["title"] == "insta_user: Sunset #Shorts"
    assert sample["metadata"]["description"] == published["description"]
    assert sample["metadata"]["tags"] == list(published["tags"])


async def test_the_dry_run_applies_the_filters_the_forward_applies_after_the_probe(
        db: str, clip: Path, tmp_path: Path) -> None:
    w = await make_world(clip, tmp_path, filters={"min_duration": 5})
    job_id = await _one_job(w, caption="no duration in the listing")  # the clip is 3.5 s long
    report = await DryRunService(w.platforms).run(w.connection.id)
    [sample] = report["dry_run_results"]["sample_posts"]
    assert (await w.run(job_id)).status is JobStatus.CANCELLED
    post = await SourcePost.get(source_post_id=sample["source_id"])
    assert sample["filtered"] == post.reason == "shorter than 5 s (3.5 s)"


@pytest.mark.parametrize("then", ["goes on", "fails"])
async def test_a_job_cancelled_while_it_runs_stops_and_stays_cancelled(
        w: World, then: str, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = await _one_job(w)
    steps = w.forward._steps

    async def cancelled_meanwhile(run: Any) -> None:
        await w.jobs.cancel(job_id)  # the admin presses Cancel in the bot
        if then == "fails":
            raise TransientError("the download timed out")
        await steps(run)

    monkeypatch.setattr(w.forward, "_steps", cancelled_meanwhile)
    outcome = await w.run(job_id)
    assert outcome.status is JobStatus.CANCELLED and outcome.next_retry_at is None
    row = await Job.get(id=job_id)
    assert row.status is JobStatus.CANCELLED and row.next_retry_at is None and row.error_code is None
    assert w.dst.published == [] and w.dst.calls["upload_start"] == 0
    assert (await Connection.get(id=w.connection.id)).success_count == 0
    assert (await w.run(job_id)).skipped  # and it is not run again


@pytest.mark.parametrize("ending", ["success", "failure"])
async def test_an_outcome_is_written_whole_or_not_at_all(w: World, ending: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The database fails while the outcome is written: nothing of it stays (the job is still the
    worker's, to be taken over), and the takeover writes it once, without publishing again."""
    job_id = await _one_job(w)
    if ending == "failure":
        w.dst.fail("verify", TransientError("503"))

    async def disk_full(**kwargs: Any) -> LogEntry:
        raise RuntimeError("database or disk is full")

    monkeypatch.setattr(LogEntry, "create", disk_full)
    with pytest.raises(RuntimeError):
        await w.run(job_id, "w1")
    row = await Job.get(id=job_id)
    assert (row.status, row.lease_owner, row.error_code) == (JobStatus.RUNNING, "w1", None)
    post = await SourcePost.get(id=row.source_post_id)
    assert post.outcome is PostOutcome.QUEUED
    conn = await Connection.get(id=w.connection.id)
    assert (conn.success_count, conn.failure_count, conn.total_forwarded) == (0, 0, 0)

    monkeypatch.undo()
    w.clock.advance(121)  # the lease expires; another worker takes the job over
    assert (await w.run(job_id, "w2")).status is JobStatus.SUCCESS
    assert len(w.dst.published) == 1 and w.dst.calls["upload_start"] == 1
    conn = await Connection.get(id=w.connection.id)
    assert (conn.success_count, conn.total_forwarded) == (1, 1)
    assert (await SourcePost.get(id=row.source_post_id)).outcome is PostOutcome.FORWARDED
