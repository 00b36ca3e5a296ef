"""A worker process killed with SIGKILL during download, transform and upload; a new worker
finishes the job from its checkpoint, and the fake holds exactly one video."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from core import crypto
from core.bootstrap import Runtime, build_services
from core.models import Job, JobStatus
from core.settings import Settings
from jobs.queue import ArqQueue
from tests.e2e.test_forward_wire import accounts, drain
from tests.fakes.instagram_private import FakeInstagramPrivate, FakeReel
from tests.fakes.media import make_clip
from tests.fakes.youtube import FakeYouTube

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL semantics")


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A clip whose upscale takes a few seconds, so the transform can be caught in the act."""
    return make_clip(tmp_path_factory.mktemp("kill") / "reel.mp4", size="540x960").read_bytes()


@pytest.fixture
async def world(db: str, redis: Redis, settings: Settings, keyring: crypto.KeyRing, database_url: str,
                redis_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    yt, ig = FakeYouTube(), FakeInstagramPrivate()
    await yt.start()
    await ig.start()
    custom = settings.model_copy(update={
        "youtube_api_base": yt.base_url + "/", "youtube_web_base": yt.base_url,
        "instagram_api_base": ig.base_url, "data_dir": tmp_path / "data"})
    runtime = Runtime(custom, keyring, redis_url, redis,
                      build_services(custom, keyring, redis, ArqQueue(redis)))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "ADMIN_", "DATABASE_", "REDIS_", "SECRET_", "WEB_"))}
    env.update(DATA_DIR=str(tmp_path / "data"), DATABASE_URL=database_url, REDIS_URL=redis_url,
               SECRET_KEYS=keyring.keys[0], YOUTUBE_API_BASE=yt.base_url + "/",
               YOUTUBE_WEB_BASE=yt.base_url, INSTAGRAM_API_BASE=ig.base_url, LOG_LEVEL="WARNING",
               PYTHONUNBUFFERED="1")
    yield {"yt": yt, "ig": ig, "runtime": runtime, "env": env, "cwd": tmp_path}
    await yt.stop()
    await ig.stop()


async def kill_when(world: dict[str, Any], reached: Any, timeout: float = 60) -> Job:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "forwarder", "worker", env=world["env"], cwd=world["cwd"],
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            job = await Job.first()
            if job is not None and reached(job):
                break
            if proc.returncode is not None or asyncio.get_running_loop().time() > deadline:
                err = (await proc.stderr.read()).decode()[-2000:] if proc.stderr else ""
                pytest.fail(f"the worker never reached the point (job: {job and job.step}): {err}")
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    job = await Job.get(id=job.id)
    assert job.status is JobStatus.RUNNING  # the dead worker's lease is still on the row
    # Time passes: the lease on the row expires, and so does ARQ's in-progress mark of the dead
    # worker's job (after its timeout). A new worker takes the job over.
    await Job.filter(id=job.id).update(lease_until=datetime.now(UTC) - timedelta(seconds=1))
    redis = world["runtime"].redis
    await redis.delete(*[k async for k in redis.scan_iter("arq:in-progress:*")])
    return job


@pytest.mark.parametrize("point", ["download", "transform", "upload"])
async def test_sigkill_then_a_new_worker_finishes_once(world: dict[str, Any], slow_clip: bytes,
                                                       point: str) -> None:
    yt, ig, runtime = world["yt"], world["ig"], world["runtime"]
    insta, tube = await accounts(yt, ig)
    await runtime.services.connections.create({
        "name": "kill", "type": "instagram_to_youtube", "source_account_id": insta.id,
        "destination_account_id": tube.id, "status": "active",
        # Only the transform case needs a slow (upscaling) encode to be caught in the act.
        "transform_options": {"upscale": point == "transform"}})
    ig.reels.append(FakeReel(pk=77, caption="survive #kill", taken_at=int(datetime.now(UTC).timestamp()) + 5,
                             video=slow_clip))
    if point == "download":
        ig.slow_seconds = 60
        ig.fail_next("/cdn/", "slow")
    elif point == "upload":
        yt.put_delay = 60

    def reached(job: Job) -> bool:
        if point == "download":
            return job.step.value == "download" and job.status is JobStatus.RUNNING
        if point == "transform":
            return job.step.value == "transform"
        return "state" in (job.checkpoint.get("upload") or {})

    killed = await kill_when(world, reached)
    yt.put_delay = 0
    ig.slow_seconds = 0
    await drain(runtime)
    job = await Job.get(id=killed.id)
    assert job.status is JobStatus.SUCCESS, (job.error_code, job.error_message)
    assert len(yt.uploaded()) == 1 and job.destination_post_id == yt.uploaded()[0].id
    if point == "upload":
        assert len(yt.sessions) == 1  # the same resumable session, continued
    assert job.attempts == 2
