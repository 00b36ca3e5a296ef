"""The outcome step: how a run's end is written, in one transaction.

The job's move (conditional on the lease, ``machine.move``), the source post, the
connection's counters, the log line, the effects on accounts, connections and proxies, and
the alert (an outbox row) commit together or not at all. When the lease is lost nothing is
written: the worker that holds the job now writes its own outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from core.errors import ErrorCode, ForwarderError
from core.models import (
    Account,
    AccountStatus,
    Connection,
    Job,
    JobStatus,
    JobStep,
    LogEntry,
    LogLevel,
    PostOutcome,
    SourcePost,
)
from core.pipeline import effects, job_alerts, machine
from core.pipeline.job_alerts import Notifier
from core.pipeline.rules import RetryPolicy


async def succeeded(lease: machine.Lease, job: Job, checkpoint: dict[str, Any], now: datetime,
                    alerts: Notifier | None) -> bool:
    """Record a published post; False (nothing written) when the lease is lost."""
    connection, post = job.connection, job.source_post
    result = checkpoint["upload"]["result"]
    verify = checkpoint.get("verify", {})
    message = f"Job {job.id}: forwarded {post.source_post_id} -> {result['url'] or result['post_id']}"
    if verify.get("locked_private"):
        message += f" (warning: {verify.get('detail')})"
    async with in_transaction():
        if not await machine.move(
                lease, JobStatus.SUCCESS, step=JobStep.DONE, progress_percent=100, progress_message="Done",
                finished_at=now, error_code=None, error_message=None, checkpoint=checkpoint,
                destination_post_id=result["post_id"], destination_url=result["url"],
                step_durations=job.step_durations):
            return False
        await SourcePost.filter(id=post.id).update(outcome=PostOutcome.FORWARDED, reason=None)
        await Connection.filter(id=connection.id).update(
            success_count=F("success_count") + 1, total_forwarded=F("total_forwarded") + 1)
        await LogEntry.create(level=LogLevel.WARNING if verify.get("locked_private") else LogLevel.INFO,
                              job_id=job.id, connection_id=connection.id, message=message,
                              details={"attempts": job.attempts, "durations": job.step_durations})
        await job_alerts.job_succeeded(alerts, job, connection, result["url"], job.error_message)
    return True


@dataclass(frozen=True)
class Failure:
    """What a failed run left behind."""

    decision: machine.Decision
    paused_connections: tuple[int, ...] = ()


async def failed(lease: machine.Lease, job: Job, checkpoint: dict[str, Any] | None, error: ForwarderError,
                 account: Account, now: datetime, alerts: Notifier | None) -> Failure | None:
    """Record a failed run (``account`` is the one the error belongs to); None when the lease is lost."""
    connection = job.connection
    policy = RetryPolicy.from_json(connection.retry_policy)
    decision = machine.decide(error, job.attempts, policy, now)
    fields: dict[str, Any] = {"error_code": error.code.value, "error_message": error.message[:2000],
                              "attempts": decision.attempts, "next_retry_at": decision.retry_at}
    if checkpoint is not None:
        fields["checkpoint"] = checkpoint
    if decision.finished:
        fields["finished_at"] = now
    if decision.dead_letter:
        fields["dead_letter"] = True
    if decision.status is JobStatus.CANCELLED:  # filtered: not an error of the job
        fields.update(error_code=None, error_message=f"filtered: {error.message}")
    async with in_transaction():
        if not await machine.move(lease, decision.status, **fields):
            return None
        if decision.status is JobStatus.CANCELLED:
            await SourcePost.filter(id=job.source_post_id).update(outcome=PostOutcome.FILTERED,
                                                                  reason=error.message)
            await Connection.filter(id=connection.id).update(filtered_count=F("filtered_count") + 1)
            return Failure(decision)
        paused = await _effects(job, connection, checkpoint, error, account, decision)
        await LogEntry.create(
            level=LogLevel.ERROR if decision.dead_letter else LogLevel.WARNING, job_id=job.id,
            connection_id=connection.id,
            message=f"Job {job.id}: {decision.status.value} after attempt {job.attempts}: "
                    f"{error.code.value}: {error.message}"[:2000],
            details={**error.to_dict(),
                     "next_retry_at": decision.retry_at.isoformat() if decision.retry_at else None})
        await job_alerts.job_outcome(alerts, job, connection, decision.status, error, account,
                                     paused.previous, policy.max_attempts, decision.retry_at)
    return Failure(decision, paused.ids)


@dataclass(frozen=True)
class _Paused:
    ids: tuple[int, ...]
    previous: AccountStatus  # before this failure: an alert is raised once per change


async def _effects(job: Job, connection: Connection, checkpoint: dict[str, Any] | None,
                   error: ForwarderError, account: Account, decision: machine.Decision) -> _Paused:
    """The post and counters of a dead letter, and what the error does to proxy, account, connection."""
    if decision.dead_letter:
        await SourcePost.filter(id=job.source_post_id).update(
            outcome=PostOutcome.FAILED, reason=f"{error.code.value}: {error.message}"[:1000])
        await Connection.filter(id=connection.id).update(failure_count=F("failure_count") + 1)
    proxy_id = checkpoint.get("proxy_id") if checkpoint else None
    if error.code is ErrorCode.PROXY_ERROR and proxy_id:
        await effects.proxy_failed(proxy_id, error.message)
    previous = account.status
    paused: list[int] = []
    if error.code in effects.ACCOUNT_STATUS_FOR:
        paused = await effects.account_needs_attention(account, error.code, error.message)
    elif error.code in effects.PAUSE_CONNECTION_FOR and decision.dead_letter:
        await effects.pause_connection(connection, f"{error.code.value}: {error.message}")
        paused = [connection.id]
    return _Paused(tuple(paused), previous)
