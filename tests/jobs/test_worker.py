from __future__ import annotations

from core.bootstrap import Runtime
from jobs.worker import CRON_KEY, build_worker


async def test_a_real_worker_beats_runs_the_heartbeat_cron_and_says_goodbye(runtime: Runtime) -> None:
    seen: list[int] = []

    async def spy_startup_done(ctx: dict) -> None:
        seen.append(await runtime.services.health.live_workers())

    worker = build_worker(runtime, burst=True, poll_delay=0, on_job_end=spy_startup_done)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert seen and seen[0] == 1  # alive while the cron ran
    assert worker.jobs_complete >= 1 and worker.jobs_failed == 0
    assert await runtime.redis.get(CRON_KEY) is not None
    assert await runtime.services.health.live_workers() == 0  # forgot itself on shutdown
    assert (await runtime.services.health.check()).database
