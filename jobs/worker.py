"""ARQ WorkerSettings: startup/shutdown open and close the runtime; a heartbeat cron."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import Worker

from core.bootstrap import Runtime, open_runtime, redis_retry, worker_id
from core.settings import load_settings
from jobs.queue import ArqQueue
from jobs.tasks import (
    check_proxies,
    check_tokens,
    deliver_alerts,
    forward_job,
    poll_connection,
    reconcile,
    refresh_tokens,
    retention,
    schedule_polls,
)

log = logging.getLogger("forwarder.worker")

HEARTBEAT_EVERY = 15.0
FORWARD_TIMEOUT = 3 * 3600
CRON_KEY = "forwarder:cron:last"


async def heartbeat(ctx: dict[str, Any]) -> float:
    """Cron: prove the queue is consumed (health shows when a cron last ran)."""
    runtime: Runtime = ctx["runtime"]
    now = time.time()
    await runtime.redis.set(CRON_KEY, str(now))
    await runtime.services.health.beat(ctx["worker_id"])
    return now


async def _beat_forever(runtime: Runtime, wid: str) -> None:
    while True:
        try:
            await runtime.services.health.beat(wid)
        except Exception:  # noqa: BLE001 - a missed beat must not kill the worker
            log.warning("heartbeat failed", exc_info=True)
        await asyncio.sleep(HEARTBEAT_EVERY)


async def startup(ctx: dict[str, Any]) -> None:
    """Open the runtime (unless the caller gave one) and start beating."""
    if "runtime" not in ctx:
        ctx["runtime"] = await open_runtime(load_settings(), start_embedded_redis=False,
                                            queue_factory=ArqQueue)
        ctx["owns_runtime"] = True
    ctx["worker_id"] = worker_id()
    runtime: Runtime = ctx["runtime"]
    await runtime.services.health.beat(ctx["worker_id"])
    ctx["beat_task"] = asyncio.create_task(_beat_forever(runtime, ctx["worker_id"]))
    log.info("worker %s started", ctx["worker_id"])


async def shutdown(ctx: dict[str, Any]) -> None:
    """Stop beating, say goodbye, close what startup opened."""
    task: asyncio.Task[None] | None = ctx.pop("beat_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    runtime: Runtime | None = ctx.get("runtime")
    if runtime is not None:
        with contextlib.suppress(Exception):
            await runtime.services.health.forget(ctx["worker_id"])
        if ctx.pop("owns_runtime", False):
            await runtime.close()
    log.info("worker %s stopped", ctx.get("worker_id"))


def cron_jobs(reconcile_seconds: int = 60) -> list[Any]:
    """Fresh cron objects: ARQ keeps each one's next run on it, so workers must not share them."""
    reconcile_at = {35} if reconcile_seconds >= 60 else set(range(0, 60, reconcile_seconds))
    return [
        cron(heartbeat, second={0, 15, 30, 45}, run_at_startup=True, timeout=30),
        cron(schedule_polls, second=5, run_at_startup=True, timeout=60),
        cron(reconcile, second=reconcile_at, run_at_startup=True, timeout=120),
        cron(deliver_alerts, second=set(range(0, 60, 5)), run_at_startup=True, timeout=60),
        cron(check_tokens, hour={0, 6, 12, 18}, minute=7, second=0, timeout=300),
        cron(refresh_tokens, minute=17, second=0, timeout=600),
        cron(check_proxies, minute={3, 33}, second=0, timeout=600),
        cron(retention, hour=4, minute=11, second=0, timeout=1800),
    ]


class WorkerSettings:
    """What every worker runs; `build_worker` adds the Redis of the runtime."""

    # A forward may download, encode and upload for a long time; its retries are ours (Retry with a
    # defer), so ARQ's own try limit is only a backstop. keep_result=0 frees its id when it ends.
    functions: list[Any] = [
        func(forward_job, timeout=FORWARD_TIMEOUT, max_tries=1000, keep_result=0),
        func(poll_connection, timeout=300, max_tries=1),
    ]
    cron_jobs = cron_jobs()
    on_startup = startup
    on_shutdown = shutdown
    job_timeout = 300
    max_tries = 5
    keep_result = 3600


def build_worker(runtime: Runtime, **overrides: Any) -> Worker:
    """A Worker on the runtime's Redis sharing the runtime (used by `up`, `worker`, tests)."""
    options: dict[str, Any] = {
        "functions": WorkerSettings.functions,
        "cron_jobs": cron_jobs(runtime.settings.reconcile_seconds),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": dataclasses.replace(RedisSettings.from_dsn(runtime.redis_url), **redis_retry()),
        "job_timeout": WorkerSettings.job_timeout,
        "max_tries": WorkerSettings.max_tries,
        "keep_result": WorkerSettings.keep_result,
        "handle_signals": False,
        "ctx": {"runtime": runtime},
    }
    options.update(overrides)
    return Worker(**options)
