"""The reconcile cron against what a killed worker leaves in ARQ: its jobs stay "in progress"
until their timeout (hours), so the ids they hold cannot be queued again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.bootstrap import Runtime
from core.models import Account, AuthMethod, Job, JobStatus, Platform
from jobs.queue import ArqQueue, forward_id
from jobs.tasks import reconcile
from jobs.worker import build_worker
from tests.fakes.media import make_clip
from tests.fakes.platforms import MemoryPlatforms

HOURS = 3 * 3600 * 1000  # how long ARQ keeps a forward "in progress" (its timeout), in ms


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("reconcile") / "reel.mp4")


@pytest.fixture
async def queued(runtime: Runtime, clip: Path) -> AsyncIterator[tuple[Job, MemoryPlatforms, Account]]:
    """One job, polled and queued on ARQ, over in-memory platforms."""
    memory = MemoryPlatforms(clip)
    runtime.services.polls.factory = runtime.services.forward.factory = memory
    source = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    dest = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.GRAPH_API)
    connection = await runtime.services.connections.create({
        "name": "c", "type": "youtube_to_instagram", "source_account_id": source.id,
        "destination_account_id": dest.id, "status": "active"})
    memory.world(source).add_post(published_at=datetime.now(UTC) + timedelta(seconds=1))
    await runtime.redis.flushdb()  # the poll queued on creation: this test polls by hand
    [job_id] = (await runtime.services.polls.poll(connection.id)).jobs
    assert await queue(runtime).enqueue_forward(job_id)
    yield await Job.get(id=job_id), memory, dest


def queue(runtime: Runtime) -> ArqQueue:
    made = runtime.services.queue
    assert isinstance(made, ArqQueue)
    return made


async def held_by_a_dead_worker(runtime: Runtime, arq_id: str) -> None:
    """What ARQ keeps of a job a worker had taken when it was SIGKILLed."""
    await runtime.redis.psetex(f"arq:in-progress:{arq_id}", HOURS, b"1")


async def forward(runtime: Runtime, job_id: int, *dead: str) -> Job:
    """Drain the queue with a burst worker, the dead worker's entries left out of it.

    ARQ would run those only once their "in progress" mark expires (hours later), and a burst
    worker waits for every queued entry.
    """
    if dead:
        await runtime.redis.zrem("arq:queue", *dead)
    worker = build_worker(runtime, burst=True, poll_delay=0)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return await Job.get(id=job_id)


async def test_a_queued_job_taken_by_a_worker_that_died_is_queued_again(
        runtime: Runtime, queued: tuple[Job, MemoryPlatforms, Account]) -> None:
    job, memory, dest = queued
    ctx: dict[str, Any] = {"runtime": runtime}
    await held_by_a_dead_worker(runtime, forward_id(job.id))
    assert await reconcile(ctx) == 0  # just taken: a live worker claims the row in a moment
    lease = runtime.services.forward.lease
    await Job.filter(id=job.id).update(created_at=datetime.now(UTC) - lease - timedelta(seconds=5))
    assert await reconcile(ctx) == 1  # not claimed for a whole lease: its worker is gone
    assert await reconcile(ctx) == 0  # once per lease period, not once per run
    done = await forward(runtime, job.id, forward_id(job.id))
    assert done.status is JobStatus.SUCCESS and len(memory.world(dest).published) == 1


async def test_a_takeover_whose_worker_died_too_is_queued_again(
        runtime: Runtime, queued: tuple[Job, MemoryPlatforms, Account]) -> None:
    job, memory, dest = queued
    ctx: dict[str, Any] = {"runtime": runtime}
    service = runtime.services.forward
    service.lease = timedelta(seconds=2)  # a lease that runs out while the test waits
    await held_by_a_dead_worker(runtime, forward_id(job.id))
    expired = datetime.now(UTC) - timedelta(milliseconds=100)
    await Job.filter(id=job.id).update(status=JobStatus.RUNNING, lease_owner="dead:1", lease_until=expired)
    assert await reconcile(ctx) == 1  # the first takeover, under an id made from the lease
    takeover = forward_id(job.id, f"r{int(expired.timestamp())}")
    await held_by_a_dead_worker(runtime, takeover)
    assert await reconcile(ctx) == 0  # that takeover is in progress
    later = datetime.now(UTC) + timedelta(seconds=2.2)  # reconcile's clock moves, no real wait
    runtime.services.reconcile.clock = lambda: later
    assert await reconcile(ctx) == 1  # still unclaimed a lease later: its worker died too
    runtime.services.reconcile.clock = lambda: datetime.now(UTC)
    service.lease = timedelta(seconds=120)
    done = await forward(runtime, job.id, forward_id(job.id), takeover)
    assert done.status is JobStatus.SUCCESS and len(memory.world(dest).published) == 1
    assert done.attempts == 1
