"""Which alert a job outcome raises, with the fields of the specification's messages (§4.7)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from core.alert_kinds import AlertKind
from core.errors import ErrorCode, ForwarderError
from core.models import Account, AccountStatus, Connection, Direction, Job, JobStatus, Notification


class Notifier(Protocol):
    """Where the pipeline queues an alert (``AlertService`` in the composition root)."""

    async def notify(self, kind: AlertKind, **payload: Any) -> object: ...


ARROW = {Direction.INSTAGRAM_TO_YOUTUBE: "Insta→YouTube", Direction.YOUTUBE_TO_INSTAGRAM: "YouTube→Insta"}


def _connection_fields(connection: Connection) -> dict[str, Any]:
    src, dst = connection.source_account, connection.destination_account
    return {"connection": f'{ARROW[connection.direction]} - "{connection.name}"',
            "source": f"{src.alias} ({src.platform.value.capitalize()})",
            "destination": f"{dst.alias} ({dst.platform.value.capitalize()})"}


async def job_outcome(alerts: Notifier | None, job: Job, connection: Connection, status: JobStatus,
                      exc: ForwarderError, account: Account, previous_status: AccountStatus,
                      max_attempts: int, retry_at: datetime | None) -> None:
    """Queue the alert a failed run calls for (nothing when alerts are off)."""
    if alerts is None:
        return
    base = {**_connection_fields(connection), "job_id": job.id, "error": f"{exc.code.value}: {exc.message}"}
    if exc.code is ErrorCode.CAPTCHA_DETECTED:
        if previous_status is AccountStatus.CAPTCHA_DETECTED:
            return  # already alerted for this account
        await alerts.notify(
            AlertKind.CAPTCHA_DETECTED, **base, account=f"{account.alias} ({account.platform.value})",
            account_id=account.id, details=exc.details.get("checkpoint_url") or exc.message,
            instructions="1. Open the account in the Instagram app or a browser\n2. Complete the challenge\n"
                         "3. Press 'Mark solved' (or 'Enter code' if Instagram sent one)\n"
                         "4. Its connections resume automatically")
        return
    if exc.code is ErrorCode.QUOTA_EXCEEDED:
        since = job.updated_at - timedelta(hours=12) if job.updated_at else None
        recent = Notification.filter(kind=AlertKind.QUOTA_EXHAUSTED.value)
        if since is not None and await recent.filter(created_at__gte=since).exists():
            return  # one quota alert per half day is enough
        await alerts.notify(AlertKind.QUOTA_EXHAUSTED, **base, reset_at=retry_at, action=exc.hint,
                            status="Jobs wait for the reset; nothing is lost")
        return
    if previous_status not in (AccountStatus.ACTIVE, AccountStatus.EXPIRY_WARNING):
        return  # the account was already known to need attention
    if account.status in (AccountStatus.TOKEN_EXPIRED, AccountStatus.REQUIRES_REAUTH):
        kind = AlertKind.TOKEN_EXPIRED
        await alerts.notify(kind, **base, account=account.alias, account_id=account.id,
                            status=account.status.value.replace("_", " ").upper(), action=exc.hint)
    elif account.status is AccountStatus.SUSPENDED:
        await alerts.notify(AlertKind.CONNECTION_PAUSED, **base, account=account.alias, account_id=account.id,
                            status="ACCOUNT BLOCKED", action=exc.hint)
    if status is JobStatus.FAILED:
        await alerts.notify(AlertKind.JOB_FAILED, **base, details=exc.hint,
                            attempts=f"{job.attempts}/{max_attempts} (exhausted)"
                            if exc.retriable else f"{job.attempts} (not retriable)",
                            status="MOVED TO DEAD-LETTER QUEUE", action=exc.hint)
    elif status is JobStatus.RETRYING:
        await alerts.notify(AlertKind.JOB_RETRY, **base, attempts=f"{job.attempts}/{max_attempts}",
                            next_retry=retry_at)


async def job_succeeded(alerts: Notifier | None, job: Job, connection: Connection, url: str | None,
                        first_error: str | None) -> None:
    """A success after one or more failures is worth telling."""
    if alerts is None or job.attempts <= 1:
        return
    await alerts.notify(AlertKind.SUCCESS_AFTER_RETRY, **_connection_fields(connection), job_id=job.id,
                        error=first_error, attempts=str(job.attempts - 1), status="SUCCESS",
                        source_post=job.source_post.source_post_id, destination_url=url)
