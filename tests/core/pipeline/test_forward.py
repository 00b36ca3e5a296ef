"""The pipeline state machine over in-memory adapters: polls, dedupe, filters, steps,
checkpoints, retries, dead letter, CAPTCHA, crashes and takeover."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import (
    AuthError,
    ChallengeRequired,
    ErrorCode,
    ForwarderError,
    InvalidInput,
    MediaError,
    QuotaExceeded,
    TransientError,
)
from core.models import (
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    Job,
    JobStatus,
    JobStep,
    LogEntry,
    Platform,
    PostOutcome,
    Proxy,
    ProxyHealth,
    ProxyType,
    SourcePost,
)
from core.services.connections import ConnectionService
from core.services.forward import ForwardService
from core.services.jobs import JobService
from core.services.polls import PollService
from tests.fakes.clock import Clock
from tests.fakes.media import make_clip
from tests.fakes.platforms import Crash, MemoryPlatforms

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("pipeline") / "reel.mp4")


@dataclass
class World:
    clock: Clock
    platforms: MemoryPlatforms
    polls: PollService
    forward: ForwardService
    jobs: JobService
    connections: ConnectionService
    source: Account
    dest: Account
    connection: Connection

    @property
    def src(self) -> Any:
        return self.platforms.world(self.source)

    @property
    def dst(self) -> Any:
        return self.platforms.world(self.dest)

    async def poll(self) -> list[int]:
        return (await self.polls.poll(self.connection.id)).jobs

    async def run(self, job_id: int, worker: str = "w1") -> Any:
        return await self.forward.run(job_id, worker)


async def make_world(clip: Path, tmp_path: Path, **connection: Any) -> World:
    clock = Clock(T0)
    platforms = MemoryPlatforms(clip)
    polls = PollService(platforms, clock=clock)
    forward = ForwardService(platforms, tmp_path, clock=clock, progress_every=0)
    jobs = JobService(clock=clock)
    connections = ConnectionService(polls, clock=clock)
    source = await Account.create(platform=Platform.INSTAGRAM, alias="insta", username="insta_user",
                                  auth_method=AuthMethod.PRIVATE_API, credentials={"password": "x"})
    dest = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH,
                                credentials={"refresh_token": "r"})
    data = {"name": "insta to tube", "type": "instagram_to_youtube", "source_account_id": source.id,
            "destination_account_id": dest.id, "status": "active",
            "retry_policy": {"initial_delay_seconds": 10, "backoff_multiplier": 6}, **connection}
    made = await connections.create(data)
    return World(clock, platforms, polls, forward, jobs, connections, source, dest, made)


@pytest.fixture
async def w(db: str, clip: Path, tmp_path: Path) -> World:
    return await make_world(clip, tmp_path)


async def job(job_id: int) -> Job:
    return await Job.get(id=job_id)


# ---- polls, dedupe, filters ----------------------------------------------------------------

async def test_happy_path_forwards_each_new_post_once(w: World, tmp_path: Path) -> None:
    old = w.src.add_post(published_at=T0 - timedelta(days=1))
    w.clock.advance(60)
    first = w.src.add_post(caption="Sunset in Bali\nsecond line #travel",
                           published_at=T0 + timedelta(seconds=30))
    second = w.src.add_post(published_at=T0 + timedelta(seconds=40))
    ids = await w.poll()
    assert len(ids) == 2
    posts = {p.source_post_id: p for p in await SourcePost.all()}
    assert posts[old.id].outcome is PostOutcome.FILTERED
    assert "before the connection started" in (posts[old.id].reason or "")
    for job_id in ids:
        outcome = await w.run(job_id)
        assert outcome.status is JobStatus.SUCCESS, outcome
    titles = [p["title"] for p in w.dst.published]
    assert titles[0] == "Sunset in Bali #Shorts" and len(titles) == 2  # oldest first
    assert "#travel" in w.dst.published[0]["description"] and "Shorts" in w.dst.published[0]["tags"]
    done = await job(ids[0])
    assert (done.step, done.progress_percent, done.destination_post_id) == (
        JobStep.DONE, 100, w.dst.published[0]["id"])
    assert set(done.step_durations) == {"download", "probe", "transform", "upload", "verify"}
    assert not (tmp_path / "jobs" / str(ids[0])).exists()  # files removed after success
    conn = await Connection.get(id=w.connection.id)
    assert (conn.success_count, conn.total_forwarded, conn.filtered_count) == (2, 2, 1)
    assert {p.source_post_id: p.outcome for p in await SourcePost.all()}[first.id] is PostOutcome.FORWARDED
    assert second.id in {p.source_post_id for p in await SourcePost.all()}
    # Polling again, and after a "restart" with a fresh service, finds nothing new.
    assert await w.poll() == []
    assert (await PollService(w.platforms, clock=w.clock).poll(w.connection.id)).jobs == []
    assert await Job.all().count() == 2


async def test_a_post_recorded_by_another_poller_is_skipped(w: World) -> None:
    post = w.src.add_post(published_at=T0 + timedelta(seconds=1))
    w.clock.advance(5)
    results = await asyncio.gather(w.polls.poll(w.connection.id), w.polls.poll(w.connection.id))
    assert sorted(len(r.jobs) for r in results) == [0, 1]
    assert await SourcePost.filter(source_post_id=post.id).count() == 1
    assert await Job.all().count() == 1


async def test_filters_at_poll_and_after_probe(db: str, clip: Path, tmp_path: Path) -> None:
    w = await make_world(clip, tmp_path, filters={
        "mode": "caption_keywords", "caption_keywords": ["travel"], "exclude_keywords": ["ad"],
        "min_duration": 5})
    w.clock.advance(1)
    w.src.add_post(caption="no keyword", published_at=T0 + timedelta(seconds=1))
    w.src.add_post(caption="travel ad", published_at=T0 + timedelta(seconds=1))
    w.src.add_post(caption="Travel diary", published_at=T0 + timedelta(seconds=1))  # duration unknown
    ids = await w.poll()
    reasons = sorted(p.reason or "" for p in await SourcePost.filter(outcome=PostOutcome.FILTERED))
    assert reasons == ["caption contains the excluded keyword 'ad'",
                       "caption has none of the keywords: travel"]
    [only] = ids
    outcome = await w.run(only)  # the clip is 3.5 s: the duration filter applies after the probe
    assert outcome.status is JobStatus.CANCELLED and w.dst.published == []
    post = await SourcePost.get(id=(await job(only)).source_post_id)  # type: ignore[attr-defined]
    assert post.outcome is PostOutcome.FILTERED and post.reason == "shorter than 5 s (3.5 s)"


async def test_backfill_once_with_a_cap(db: str, clip: Path, tmp_path: Path) -> None:
    w = await make_world(clip, tmp_path, filters={
        "include_old_posts": True, "date_range": {"from": "2026-04-01", "to": "2026-04-30"},
        "backfill_cap": 2})
    for day in (3, 10, 20):
        w.src.add_post(published_at=datetime(2026, 4, day, tzinfo=UTC))
    w.src.add_post(published_at=datetime(2026, 3, 1, tzinfo=UTC))
    first = await w.poll()
    assert len(first) == 2  # the cap
    second = await w.poll()
    assert len(second) == 1  # the rest of the range; then the backfill is done
    assert (await Connection.get(id=w.connection.id)).backfill_done
    assert await w.poll() == []


# ---- retries, dead letter, quota -------------------------------------------------------------

async def test_retry_with_backoff_then_success(w: World) -> None:
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    w.src.fail("download", TransientError("socket timeout", code=ErrorCode.NETWORK_TIMEOUT))
    outcome = await w.run(job_id)
    row = await job(job_id)
    assert outcome.status is JobStatus.RETRYING and row.attempts == 1
    assert row.next_retry_at is not None
    expected = w.clock.now + timedelta(seconds=10)
    assert outcome.next_retry_at == expected == row.next_retry_at.replace(tzinfo=UTC)
    early = await w.run(job_id)
    assert early.skipped and w.src.calls["download"] == 1  # not due yet
    w.clock.advance(10)
    assert (await w.run(job_id)).status is JobStatus.SUCCESS
    assert (await job(job_id)).attempts == 2 and len(w.dst.published) == 1


async def test_exhausted_retries_dead_letter_and_manual_retry(w: World) -> None:
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    w.dst.fail("verify", TransientError("503"), times=3)
    delays = []
    for _ in range(3):
        outcome = await w.run(job_id)
        if outcome.next_retry_at:
            delays.append((outcome.next_retry_at - w.clock.now).total_seconds())
            w.clock.now = outcome.next_retry_at
    assert delays == [10, 60]
    row = await job(job_id)
    assert row.status is JobStatus.FAILED and row.dead_letter and row.attempts == 3
    assert row.error_code == "api_temporary_error"
    assert (await Connection.get(id=w.connection.id)).failure_count == 1
    new = await w.jobs.retry_dead(job_id)
    assert new.parent_id == job_id and new.attempts == 0  # type: ignore[attr-defined]
    assert (await w.run(new.id)).status is JobStatus.SUCCESS
    assert len(w.dst.published) == 1  # verified the upload the first job made, no second upload
    assert w.src.calls["download"] == 1  # the downloaded file was reused


async def test_non_retriable_fails_at_once_and_pauses(w: World) -> None:
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    w.dst.fail("upload_start", AuthError("token rejected", code=ErrorCode.REQUIRES_REAUTH))
    outcome = await w.run(job_id)
    assert outcome.status is JobStatus.FAILED and outcome.paused_connections == (w.connection.id,)
    dest = await Account.get(id=w.dest.id)
    assert dest.status is AccountStatus.REQUIRES_REAUTH
    conn = await Connection.get(id=w.connection.id)
    assert conn.status is ConnectionStatus.PAUSED and "tube" in (conn.pause_reason or "")
    with pytest.raises(ForwarderError) as info:
        await w.connections.start(w.connection.id)
    assert info.value.message.startswith("Cannot start: Youtube account tube needs attention")


async def test_quota_defers_without_spending_an_attempt(w: World) -> None:
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    reset = w.clock.now + timedelta(hours=7)
    w.dst.fail("upload_start", QuotaExceeded("quota", reset_at=reset))
    outcome = await w.run(job_id)
    row = await job(job_id)
    assert outcome.status is JobStatus.RETRYING and outcome.next_retry_at == reset and row.attempts == 0


# ---- CAPTCHA ----------------------------------------------------------------------------------

async def test_captcha_pauses_then_resolve_resumes_and_requeues(w: World) -> None:
    other = await w.connections.create({
        "name": "second", "type": "instagram_to_youtube", "source_account_id": w.source.id,
        "destination_account_id": w.dest.id, "status": "active"})
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    w.src.fail("download", ChallengeRequired("challenge", details={"checkpoint_url": "https://ig/challenge/1"}))
    outcome = await w.run(job_id)
    assert outcome.status is JobStatus.CAPTCHA_PENDING
    assert sorted(outcome.paused_connections) == sorted([w.connection.id, other.id])
    assert (await Account.get(id=w.source.id)).status is AccountStatus.CAPTCHA_DETECTED
    assert (await job(job_id)).attempts == 0
    result = await w.jobs.resolve_captcha(w.source.id, notes="solved in the app")
    assert sorted(result.connections_resumed) == sorted([w.connection.id, other.id])
    assert result.jobs_requeued == [job_id]
    assert (await Account.get(id=w.source.id)).status is AccountStatus.ACTIVE
    assert (await w.run(job_id)).status is JobStatus.SUCCESS
    with pytest.raises(ForwarderError):
        await w.jobs.resolve_captcha(w.source.id)


# ---- crashes, leases, reconcile ----------------------------------------------------------------

@pytest.mark.parametrize("point", ["download", "upload_bytes", "upload_done"])
async def test_crash_then_takeover_publishes_exactly_once(w: World, point: str) -> None:
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    world = w.src if point == "download" else w.dst
    world.fail(point, Crash())
    with pytest.raises(Crash):
        await w.run(job_id, "w1")
    row = await job(job_id)
    assert row.status is JobStatus.RUNNING and row.lease_owner == "w1"
    assert (await w.run(job_id, "w2")).skipped  # the lease still holds
    assert job_id not in await w.jobs.reconcile_candidates()
    w.clock.advance(121)
    assert job_id in await w.jobs.reconcile_candidates()
    assert (await w.run(job_id, "w2")).status is JobStatus.SUCCESS
    assert len(w.dst.published) == 1
    if point != "download":
        assert w.dst.calls["resume"] == 1 and w.src.calls["download"] == 1


async def test_only_one_of_two_workers_runs_a_job(w: World) -> None:
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    a, b = await asyncio.gather(w.run(job_id, "a"), w.run(job_id, "b"))
    assert sorted([a.status is JobStatus.SUCCESS, b.status is JobStatus.SUCCESS]) == [False, True]
    assert len(w.dst.published) == 1


@pytest.mark.parametrize("then", ["goes on", "fails"])
async def test_a_worker_that_lost_its_lease_stops_without_writing(w: World, then: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker stalls past its lease, another takes the job over and finishes it; when the first
    wakes up, its next write finds the lease gone: it stops, and the row keeps the other's result."""
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    steps = w.forward._steps

    async def stalled(run: Any) -> None:
        monkeypatch.setattr(w.forward, "_steps", steps)  # the second worker runs normally
        w.clock.advance(121)
        assert (await w.run(job_id, "w2")).status is JobStatus.SUCCESS
        if then == "fails":
            raise TransientError("the first worker's request timed out")
        await steps(run)

    monkeypatch.setattr(w.forward, "_steps", stalled)
    outcome = await w.run(job_id, "w1")
    assert outcome.skipped and "lease lost" in outcome.skipped
    row = await job(job_id)
    assert row.status is JobStatus.SUCCESS and row.error_code is None and row.dead_letter is False
    assert len(w.dst.published) == 1 and w.dst.calls["upload_start"] == 1


async def test_a_platform_error_quoting_nul_and_half_characters_is_stored(w: World) -> None:
    """Platforms quote raw bytes in their errors; the job row, its log line and the post take them
    (PostgreSQL refuses NUL, no driver encodes a lone surrogate)."""
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    w.src.fail("download", MediaError("bad frame \x00 at \ud83d offset 7"))
    outcome = await w.run(job_id)
    assert outcome.status is JobStatus.FAILED
    row = await job(job_id)
    assert row.error_message == "bad frame  at  offset 7"
    line = await LogEntry.filter(job_id=job_id).order_by("-id").first()
    assert line is not None and "\x00" not in line.message and "bad frame" in line.message


async def test_a_dead_proxy_is_skipped_after_three_jobs_could_not_pass_it(db: str, clip: Path,
                                                                           tmp_path: Path) -> None:
    """Jobs that fail with proxy_error count as failed checks: the third marks the proxy
    unhealthy, and the next job goes direct (fallback allowed) without waiting for the monitor."""
    dead = await Proxy.create(alias="dead", type=ProxyType.SOCKS5, host="127.0.0.1", port=9)
    w = await make_world(clip, tmp_path, proxy_id=dead.id,
                         proxy_policy={"mode": "sticky", "fallback_to_direct": True},
                         retry_policy={"max_attempts": 1})
    w.clock.advance(1)
    for i in range(4):
        w.src.add_post(published_at=T0 + timedelta(seconds=1 + i))
    job_ids = sorted(await w.poll())
    for job_id in job_ids[:3]:
        w.src.fail("download", TransientError("proxy refused the connection", code=ErrorCode.PROXY_ERROR))
        assert (await w.run(job_id)).status is JobStatus.FAILED
        await dead.refresh_from_db()
        assert dead.health is (ProxyHealth.UNHEALTHY if job_id == job_ids[2] else ProxyHealth.UNCHECKED)
    assert dead.consecutive_failures == 3 and dead.last_error == "proxy refused the connection"
    assert (await w.run(job_ids[3])).status is JobStatus.SUCCESS
    assert w.src.proxies[-1] is None  # direct, as the policy allows


async def test_one_process_never_runs_a_job_twice_at_once(w: World) -> None:
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    w.dst.fail("upload_bytes", Crash())  # the first run dies mid-upload, its lease stays
    with pytest.raises(Crash):
        await w.run(job_id, "host:1")
    again = await w.run(job_id, "host:1")  # an ARQ retry in the same process, same worker name
    assert again.skipped and (await job(job_id)).attempts == 1


async def test_reconcile_candidates(w: World) -> None:
    w.clock.advance(1)
    for _ in range(3):
        w.src.add_post(published_at=T0 + timedelta(seconds=1))
    due, later, running = await w.poll()
    soon = w.clock.now + timedelta(minutes=5)
    await Job.filter(id=later).update(status=JobStatus.RETRYING, next_retry_at=soon)
    lease = w.clock.now + timedelta(minutes=1)
    await Job.filter(id=running).update(status=JobStatus.RUNNING, lease_until=lease)
    assert await w.jobs.reconcile_candidates() == [due]
    w.clock.advance(301)
    assert await w.jobs.reconcile_candidates() == [due, later, running]


# ---- connection actions ---------------------------------------------------------------------

async def test_connection_validation_names_each_field(w: World) -> None:
    with pytest.raises(InvalidInput) as info:
        await w.connections.create({
            "name": "insta to tube", "type": "youtube_to_instagram", "source_account_id": w.source.id,
            "destination_account_id": 999, "schedule": {"type": "windows", "windows": ["9-5"]},
            "filters": {"min_duration": "x"}})
    fields = info.value.fields
    assert fields["name"] == "a connection named 'insta to tube' already exists; pick another name"
    assert fields["source_account_id"] == ("insta is a instagram account; a YouTube -> Instagram connection "
                                           "needs a youtube source")
    assert fields["destination_account_id"] == "choose an existing destination account"
    assert "HH:MM" in fields["schedule.windows[0].start"]
    assert fields["filters.min_duration"] == "'x' is not a number of seconds"
    assert await Connection.all().count() == 1  # nothing saved half-way


async def test_run_now_reports_the_jobs(w: World) -> None:
    w.clock.advance(1)
    post = w.src.add_post(published_at=T0 + timedelta(seconds=1))
    await w.connections.pause(w.connection.id)
    result = await w.connections.run_now(w.connection.id)  # a manual run works while paused
    assert result["jobs_created"][0]["source_post_id"] == post.id
    assert result["message"] == "1 new post(s) found. Jobs queued for processing."
    assert (await w.polls.poll(w.connection.id)).skipped == "the connection is paused"


async def test_dry_run_never_publishes(w: World, tmp_path: Path) -> None:
    from core.services.dry_run import DryRunService

    for i in range(7):
        w.src.add_post(published_at=T0 - timedelta(minutes=i), caption=f"clip {i} #x")
    dry = DryRunService(w.platforms)
    report = (await dry.run(w.connection.id, keep_dir=tmp_path / "previews"))["dry_run_results"]
    assert (report["posts_found"], report["videos_downloaded"]) == (5, 5)
    assert report["destination_validation"] == "passed"
    assert report["issues"] == [] and len(report["previews"]) == 5
    assert all(Path(p).stat().st_size > 1000 for p in report["previews"])
    assert report["sample_posts"][0]["metadata"]["title"].startswith("clip 6")
    assert w.dst.published == [] and await Job.all().count() == 0 and await SourcePost.all().count() == 0

    w.dst.fail("identify", AuthError("expired", code=ErrorCode.TOKEN_EXPIRED))
    w.src.fail("download", TransientError("cdn 503"))
    bad = await dry.run(w.connection.id, limit=2)
    assert bad["status"] == "issues_found"
    results = bad["dry_run_results"]
    assert results["destination_validation"] == "failed"
    assert results["issues"][0] == "destination: token_expired: expired"
    assert results["issues"][1].endswith("download failed: api_temporary_error: cdn 503")


async def test_security_code_resolves_the_challenge(w: World) -> None:
    w.clock.advance(1)
    w.src.add_post(published_at=T0 + timedelta(seconds=1))
    [job_id] = await w.poll()
    w.src.fail("download", ChallengeRequired("enter the code we sent"))
    await w.run(job_id)
    service = JobService(factory=w.platforms, clock=w.clock)
    with pytest.raises(ForwarderError) as info:
        await service.submit_security_code(w.source.id, "12ab")
    assert "4 to 8 digits" in info.value.message and w.src.calls["security_code"] == 0
    result = await service.submit_security_code(w.source.id, " 123 456 ")
    assert w.src.calls["code:123456"] == 1 and result.jobs_requeued == [job_id]
    assert (await w.run(job_id)).status is JobStatus.SUCCESS
