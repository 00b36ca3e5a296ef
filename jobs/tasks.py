"""ARQ task and cron functions: thin wrappers over the services of the runtime in ``ctx``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from arq import Retry

from core.bootstrap import Runtime
from core.errors import ForwarderError
from core.models import JobStatus
from jobs.queue import ArqQueue

log = logging.getLogger("forwarder.jobs")


def _runtime(ctx: dict[str, Any]) -> Runtime:
    runtime: Runtime = ctx["runtime"]
    return runtime


def _queue(ctx: dict[str, Any]) -> ArqQueue:
    queue = _runtime(ctx).services.queue
    assert isinstance(queue, ArqQueue)
    return queue


async def poll_connection(ctx: dict[str, Any], connection_id: int) -> dict[str, Any]:
    """Poll one connection and queue the forwards it created."""
    services = _runtime(ctx).services
    try:
        result = await services.polls.poll(connection_id)
    except ForwarderError as exc:  # recorded by the service; the next slot polls again
        return {"connection_id": connection_id, "error": exc.to_dict()}
    for job_id in result.jobs:
        await _queue(ctx).enqueue_forward(job_id)
    return result.to_dict()


async def forward_job(ctx: dict[str, Any], job_id: int) -> str | None:
    """Run one job; a retry is deferred on ARQ to the row's ``next_retry_at``."""
    outcome = await _runtime(ctx).services.forward.run(job_id, ctx["worker_id"])
    if outcome.status is JobStatus.RETRYING and outcome.next_retry_at is not None:
        delay = (outcome.next_retry_at - datetime.now(UTC)).total_seconds()
        raise Retry(defer=max(delay, 0.0))
    return outcome.status.value if outcome.status else outcome.skipped


async def schedule_polls(ctx: dict[str, Any]) -> int:
    """Cron, each minute: queue a poll for every active connection that is due (one per slot)."""
    services = _runtime(ctx).services
    queued = 0
    for connection_id, slot in await services.polls.due_connections():
        queued += await _queue(ctx).enqueue_poll(connection_id, slot)
    return queued


async def reconcile(ctx: dict[str, Any]) -> int:
    """Cron, each minute: the database is the truth; put back on the queue what Redis lost."""
    return await _runtime(ctx).services.reconcile.run()


async def deliver_alerts(ctx: dict[str, Any]) -> int:
    """Cron: send pending alerts from the outbox, within Telegram's limits."""
    report = await _runtime(ctx).services.alerts.deliver()
    return report.sent


async def check_tokens(ctx: dict[str, Any]) -> list[str]:
    """Cron, every 6 h: token expiry warnings and expiries."""
    return (await _runtime(ctx).services.monitors.check_tokens()).changed


async def refresh_tokens(ctx: dict[str, Any]) -> list[str]:
    """Cron, hourly: refresh tokens that are due."""
    return (await _runtime(ctx).services.monitors.refresh_tokens()).changed


async def check_proxies(ctx: dict[str, Any]) -> list[str]:
    """Cron, every 30 min: proxy health, pauses and recoveries."""
    return (await _runtime(ctx).services.monitors.check_proxies()).changed


async def retention(ctx: dict[str, Any]) -> int:
    """Cron, daily: delete what is past its retention; return the freed bytes."""
    return (await _runtime(ctx).services.monitors.retention()).freed_bytes
