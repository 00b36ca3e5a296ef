"""The pipeline on a real ARQ worker (burst mode) and Redis, with in-memory adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.bootstrap import Runtime
from core.errors import ErrorCode, TransientError
from core.models import Account, AuthMethod, Job, JobStatus, Platform
from jobs.queue import ArqQueue
from jobs.worker import build_worker
from tests.fakes.media import make_clip
from tests.fakes.platforms import MemoryPlatforms


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("worker") / "reel.mp4")


@pytest.fixture
async def memory(runtime: Runtime, clip: Path) -> AsyncIterator[MemoryPlatforms]:
    platforms = MemoryPlatforms(clip)
    runtime.services.polls.factory = platforms
    runtime.services.forward.factory = platforms
    yield platforms


async def drain(runtime: Runtime) -> Any:
    worker = build_worker(runtime, burst=True, poll_delay=0)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return worker


async def setup_connection(runtime: Runtime, **extra: Any) -> tuple[int, Account, Account]:
    source = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    dest = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.GRAPH_API)
    connection = await runtime.services.connections.create({
        "name": "tube to insta", "type": "youtube_to_instagram", "source_account_id": source.id,
        "destination_account_id": dest.id, "status": "active", **extra})
    return connection.id, source, dest


async def test_cron_polls_and_the_worker_forwards(runtime: Runtime, memory: MemoryPlatforms) -> None:
    connection_id, source, dest = await setup_connection(runtime)
    for _ in range(3):
        memory.world(source).add_post(published_at=datetime.now(UTC) + timedelta(seconds=1))
    worker = await drain(runtime)  # schedule_polls runs at start-up, the poll queues the forwards
    assert await Job.filter(status=JobStatus.SUCCESS).count() == 3
    assert len(memory.world(dest).published) == 3
    assert worker.jobs_failed == 0
    # The same slot is never polled twice: a second drain creates nothing.
    await drain(runtime)
    assert await Job.all().count() == 3


async def test_retry_is_deferred_on_arq_until_due(runtime: Runtime, memory: MemoryPlatforms) -> None:
    connection_id, source, dest = await setup_connection(
        runtime, retry_policy={"initial_delay_seconds": 0.3, "backoff_multiplier": 2})
    memory.world(source).add_post(published_at=datetime.now(UTC) + timedelta(seconds=1))
    unavailable = TransientError("503", code=ErrorCode.API_TEMPORARY_ERROR)
    memory.world(dest).fail("upload_start", unavailable, times=2)
    await drain(runtime)
    [job] = await Job.all()
    assert job.status is JobStatus.SUCCESS and job.attempts == 3
    assert len(memory.world(dest).published) == 1


async def test_flushed_redis_loses_nothing(runtime: Runtime, memory: MemoryPlatforms) -> None:
    connection_id, source, dest = await setup_connection(runtime)
    for _ in range(4):
        memory.world(source).add_post(published_at=datetime.now(UTC) + timedelta(seconds=1))
    result = await runtime.services.polls.poll(connection_id)
    queue = runtime.services.queue
    assert isinstance(queue, ArqQueue)
    for job_id in result.jobs:
        await queue.enqueue_forward(job_id)
    await runtime.redis.flushdb()  # Redis lost every queued forward
    await drain(runtime)  # reconcile runs at start-up and puts them back
    assert await Job.filter(status=JobStatus.SUCCESS).count() == 4
    assert len(memory.world(dest).published) == 4
