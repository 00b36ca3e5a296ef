"""Jobs for the faces: lists, detail, dead letter (retry, delete), cancel, CAPTCHA resolution,
and what the reconcile cron must re-enqueue. Enqueueing itself goes through ``JobQueue``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from core.errors import ForwarderError, InvalidInput, NotFound
from core.models import (
    Account,
    AccountStatus,
    Connection,
    ConnectionStatus,
    Job,
    JobStatus,
    LogEntry,
    LogLevel,
    PostOutcome,
    SourcePost,
)
from core.pipeline.effects import other_account_blocked, uses

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING, JobStatus.CAPTCHA_PENDING)


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobQueue(Protocol):
    """Puts work on the queue (ARQ in production); ids make every enqueue idempotent.

    ``token`` makes a fresh queue id for a takeover (reconcile); ``state`` is ``in_progress`` (a
    worker took it), ``queued`` (waiting or deferred) or None (the queue does not know the job).
    """

    async def enqueue_forward(self, job_id: int, at: datetime | None = None, *,
                              token: str | None = None) -> bool: ...

    async def enqueue_poll(self, connection_id: int, slot: int | None = None, *,
                           manual: bool = False) -> bool: ...

    async def state(self, job_id: int) -> str | None: ...


class NoQueue:
    """For faces without a queue connection: the reconcile cron picks the rows up within a minute."""

    async def enqueue_forward(self, job_id: int, at: datetime | None = None, *,
                              token: str | None = None) -> bool:
        return False

    async def enqueue_poll(self, connection_id: int, slot: int | None = None, *,
                           manual: bool = False) -> bool:
        return False

    async def state(self, job_id: int) -> str | None:
        return None


@dataclass
class CaptchaResolution:
    """What resolving a CAPTCHA resumed (specification §4.11.2)."""

    account_id: int
    account_status: str
    connections_resumed: list[int] = field(default_factory=list)
    jobs_requeued: list[int] = field(default_factory=list)

    def to_dict(self, alias: str) -> dict[str, Any]:
        return {"status": "success", "message": f"CAPTCHA marked as solved for {alias}",
                "account_status": self.account_status, "connections_resumed": self.connections_resumed,
                "jobs_requeued": self.jobs_requeued}


class JobService:
    """Job queries and admin actions."""

    def __init__(self, queue: JobQueue | None = None, *, factory: Any = None, alerts: Any = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.queue: JobQueue = queue or NoQueue()
        self.alerts = alerts  # an AlertService
        self.factory = factory  # a PlatformFactory, for security codes
        self.clock = clock

    async def get(self, job_id: int) -> Job:
        job = await Job.get_or_none(id=job_id).prefetch_related("connection", "source_post")
        if job is None:
            raise NotFound(f"Job {job_id} does not exist")
        return job

    async def list_jobs(self, *, connection_id: int | None = None, statuses: list[JobStatus] | None = None,
                   since: datetime | None = None, dead_letter: bool | None = None,
                   limit: int = 50, offset: int = 0) -> tuple[int, list[Job]]:
        """Jobs newest first, filtered; returns (total, page)."""
        query = Job.all()
        if connection_id is not None:
            query = query.filter(connection_id=connection_id)
        if statuses:
            query = query.filter(status__in=statuses)
        if since is not None:
            query = query.filter(created_at__gte=since)
        if dead_letter is not None:
            query = query.filter(dead_letter=dead_letter)
        total = await query.count()
        page = await query.order_by("-id").offset(offset).limit(limit).prefetch_related(
            "connection", "source_post")
        return total, list(page)

    async def retry_dead(self, job_id: int) -> Job:
        """A new job for the same post, linked to the failed one, with attempts 0 — once.

        Taking the job out of the dead letter is a compare-and-set inside the transaction that
        creates the new job, so of two requests at once (a double tap, the bot and the Mini App)
        one creates the job and the other is told which job already retries it.
        """
        old = await self.get(job_id)
        if not old.dead_letter:
            raise await self._not_dead(old)
        async with in_transaction():
            if not await Job.filter(id=old.id, dead_letter=True).update(dead_letter=False):
                raise await self._not_dead(old)
            new = await Job.create(connection_id=old.connection_id, source_post_id=old.source_post_id,
                                   parent_id=old.id, status=JobStatus.QUEUED,
                                   checkpoint=_reusable(old.checkpoint))
            await SourcePost.filter(id=old.source_post_id).update(outcome=PostOutcome.QUEUED, reason=None)
            await LogEntry.create(level=LogLevel.INFO, job_id=new.id, connection_id=old.connection_id,
                                  message=f"Job {new.id} created to retry dead-lettered job {old.id}")
        await self.queue.enqueue_forward(new.id)
        return new

    async def _not_dead(self, old: Job) -> ForwarderError:
        """Why a job cannot be retried: already retried (by which job), or never dead-lettered."""
        child = await Job.filter(parent_id=old.id).order_by("-id").first()
        if child is not None:
            return ForwarderError(f"Job {old.id} was already retried as job {child.id}",
                                  details={"retried_as": child.id})
        return NotFound(f"Job {old.id} is not in the dead-letter queue")

    async def delete(self, job_id: int) -> None:
        """Delete a job that is not running."""
        job = await self.get(job_id)
        # Conditional on the status, so a job a worker claimed meanwhile is not deleted under it.
        if job.status is JobStatus.RUNNING or not await Job.filter(id=job.id).exclude(
                status=JobStatus.RUNNING).delete():
            raise ForwarderError(f"Job {job_id} is running; cancel it or wait for it to finish")

    async def cancel(self, job_id: int) -> Job:
        """Cancel a job that has not finished (a running one stops at its next step)."""
        job = await self.get(job_id)
        if job.status not in ACTIVE:
            raise ForwarderError(f"Job {job_id} already ended ({job.status.value})")
        await Job.filter(id=job_id, status__in=ACTIVE).update(status=JobStatus.CANCELLED,
                                                               finished_at=self.clock())
        return await self.get(job_id)

    async def reconcile_candidates(self, now: datetime | None = None) -> list[int]:
        """Jobs that should be on the queue: due ones, and running ones whose lease expired."""
        now = now or self.clock()
        due = Q(status__in=[JobStatus.QUEUED, JobStatus.RETRYING]) & (
            Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now))
        stale = Q(status=JobStatus.RUNNING) & (Q(lease_until__lt=now) | Q(lease_until__isnull=True))
        ids: list[Any] = await Job.filter(due | stale).order_by("id").values_list("id", flat=True)
        return [int(i) for i in ids]

    async def resolve_captcha(self, account_id: int, notes: str | None = None,
                              resume_connections: bool = True) -> CaptchaResolution:
        """Account active again, its paused connections resumed, its CAPTCHA-held jobs requeued."""
        account = await Account.get_or_none(id=account_id)
        if account is None:
            raise NotFound(f"Account {account_id} does not exist")
        if account.status is not AccountStatus.CAPTCHA_DETECTED:
            raise ForwarderError(f"Account {account.alias} has no CAPTCHA to resolve "
                                 f"(status: {account.status.value})")
        result = CaptchaResolution(account_id=account.id, account_status=AccountStatus.ACTIVE.value)
        async with in_transaction():
            # Compare-and-set: of two presses at once, one resolves; the other is told it is done.
            if not await Account.filter(id=account.id, status=AccountStatus.CAPTCHA_DETECTED).update(
                    status=AccountStatus.ACTIVE, status_reason=None):
                raise ForwarderError(f"The CAPTCHA of {account.alias} was already marked solved")
            if resume_connections:
                paused = await Connection.filter(uses(account.id), status=ConnectionStatus.PAUSED)
                for connection in paused:
                    if await other_account_blocked(connection, account.id):
                        continue
                    await Connection.filter(id=connection.id).update(status=ConnectionStatus.ACTIVE,
                                                                     pause_reason=None)
                    result.connections_resumed.append(connection.id)
            ids: list[Any] = await Job.filter(status=JobStatus.CAPTCHA_PENDING).filter(
                Q(connection__source_account_id=account.id) | Q(connection__destination_account_id=account.id)
            ).values_list("id", flat=True)
            result.jobs_requeued = sorted(int(i) for i in ids)
            if ids:
                await Job.filter(id__in=ids).update(status=JobStatus.QUEUED, next_retry_at=None,
                                                    error_code=None, error_message=None)
        await LogEntry.create(level=LogLevel.INFO, account=account,
                              message=f"CAPTCHA marked solved for {account.alias}: "
                                      f"{len(result.connections_resumed)} connection(s) resumed, "
                                      f"{len(result.jobs_requeued)} job(s) requeued",
                              details={"notes": notes, **result.to_dict(account.alias)})
        for job_id in result.jobs_requeued:
            await self.queue.enqueue_forward(job_id)
        if self.alerts is not None:
            from core.services.alerts import AlertKind

            await self.alerts.notify(
                AlertKind.CAPTCHA_RESOLVED, account=f"{account.alias} ({account.platform.value})",
                account_id=account.id, details=notes or "Marked solved by the admin",
                status=f"{len(result.jobs_requeued)} job(s) requeued, "
                       f"{len(result.connections_resumed)} connection(s) resumed (monitoring resumed)")
        return result

    async def submit_security_code(self, account_id: int, code: str) -> CaptchaResolution:
        """Send the security code Instagram asked for, then resume as after a solved CAPTCHA."""
        account = await Account.get_or_none(id=account_id)
        if account is None:
            raise NotFound(f"Account {account_id} does not exist")
        code = code.strip().replace(" ", "")
        if not (code.isascii() and code.isdigit()) or not 4 <= len(code) <= 8:  # not ١٢٣٤ nor ¹²³⁴
            raise InvalidInput({"code": "a security code is 4 to 8 digits, as Instagram sent it by e-mail "
                                        "or SMS"})
        async with self.factory.source(account) as adapter:
            submit = getattr(adapter, "submit_security_code", None)
            if submit is None:
                raise ForwarderError(f"Account {account.alias} does not use security codes; "
                                     "solve the challenge in the app, then mark it solved")
            await submit(code)
        return await self.resolve_captcha(account_id, notes="security code accepted")


def _reusable(checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    """What a manual retry keeps: files, and any upload state, so a retry never posts twice.

    An unfinished upload session is resumed; a finished upload is only verified again.
    """
    checkpoint = dict(checkpoint or {})
    return {k: checkpoint[k] for k in ("download", "probe", "transform", "upload") if k in checkpoint}
