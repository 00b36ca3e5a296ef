"""The job state machine: statuses, the moves between them, the lease, and the retry decision.

::

    queued ──claim──▶ running ──▶ success
    retrying ─claim─▶ running ──▶ retrying          (retriable error: backoff; quota: deferred)
                      running ──▶ failed            (dead letter)
                      running ──▶ captcha_pending ──▶ queued   (the admin solved the challenge)
                      running ──▶ cancelled         (filtered after the probe; or the admin)
                      running ──claim─▶ running     (takeover once the lease expired)

A worker holds a running job by its lease (``lease_owner``); every write of a run is
conditional on still holding it *and* on the job still running, so a worker that stalled
past its lease, or whose job the admin cancelled, writes nothing more. ``decide`` (what a
failure leads to) is a pure function of the error, the attempts, the policy and the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q

from core.errors import ErrorCode, ForwarderError
from core.models import Job, JobStatus, JobStep
from core.pipeline.rules import RetryPolicy

S = JobStatus
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED}),
    S.RETRYING: frozenset({S.RUNNING, S.CANCELLED}),
    S.RUNNING: frozenset({S.RUNNING, S.SUCCESS, S.RETRYING, S.FAILED, S.CAPTCHA_PENDING, S.CANCELLED}),
    S.CAPTCHA_PENDING: frozenset({S.QUEUED, S.CANCELLED}),
    S.SUCCESS: frozenset(),
    S.FAILED: frozenset(),  # a dead letter is retried as a new job
    S.CANCELLED: frozenset(),
}
CLAIMABLE = (S.QUEUED, S.RETRYING)
"""Statuses a worker may claim once due (a running job only once its lease expired)."""

STEPS = (JobStep.DOWNLOAD, JobStep.PROBE, JobStep.TRANSFORM, JobStep.METADATA, JobStep.UPLOAD,
         JobStep.VERIFY)
# Overall percent at the start and end of each step (the bar in Telegram and the Mini App).
STEP_START = {JobStep.DOWNLOAD: 0, JobStep.PROBE: 25, JobStep.TRANSFORM: 30, JobStep.METADATA: 60,
              JobStep.UPLOAD: 62, JobStep.VERIFY: 95, JobStep.DONE: 100}
STEP_END = {JobStep.DOWNLOAD: 25, JobStep.PROBE: 30, JobStep.TRANSFORM: 60, JobStep.METADATA: 62,
            JobStep.UPLOAD: 95, JobStep.VERIFY: 100}


def allowed(before: JobStatus, after: JobStatus) -> bool:
    """Whether a job may move from ``before`` to ``after``."""
    return after in TRANSITIONS[before]


def percent(step: JobStep, share: float) -> float:
    """The overall progress when ``share`` (0..1) of ``step`` is done."""
    return round(STEP_START[step] + (STEP_END[step] - STEP_START[step]) * min(max(share, 0.0), 1.0), 1)


class Filtered(ForwarderError):
    """The post failed a filter that needed the probe (its duration): the job is cancelled."""


@dataclass(frozen=True)
class Decision:
    """Where a failed run leaves its job."""

    status: JobStatus
    attempts: int
    """The attempts to record: a challenge or a quota does not spend one."""
    retry_at: datetime | None = None

    @property
    def dead_letter(self) -> bool:
        return self.status is JobStatus.FAILED

    @property
    def finished(self) -> bool:
        return not TRANSITIONS[self.status]


def decide(error: ForwarderError, attempts: int, policy: RetryPolicy, now: datetime) -> Decision:
    """Retry with backoff, defer to a quota reset, wait for the admin, or dead-letter (pure).

    ``attempts`` counts the run that just failed (a claim adds one).
    """
    if isinstance(error, Filtered):
        return Decision(JobStatus.CANCELLED, attempts)
    if error.code is ErrorCode.CAPTCHA_DETECTED:  # a challenge is not the job's fault
        return Decision(JobStatus.CAPTCHA_PENDING, max(attempts - 1, 0))
    if error.code is ErrorCode.QUOTA_EXCEEDED:  # deferred to the reset, not burned
        reset: datetime | None = getattr(error, "reset_at", None)
        return Decision(JobStatus.RETRYING, max(attempts - 1, 0), reset or now + timedelta(hours=1))
    if policy.retries(error.code) and attempts < policy.max_attempts:
        wait = max(policy.delay(attempts), error.retry_after or 0)
        return Decision(JobStatus.RETRYING, attempts, now + timedelta(seconds=wait))
    return Decision(JobStatus.FAILED, attempts)


# ---- the lease: every write of a run goes through it -----------------------------------------

class LeaseLost(Exception):  # noqa: N818 - a state, not an error of the job
    """Another worker took the job over, or the admin cancelled it: stop, write nothing."""


@dataclass(frozen=True)
class Lease:
    """``worker`` holds job ``job_id`` while the row names it and the job is running."""

    job_id: int
    worker: str

    def held(self) -> Q:
        return Q(id=self.job_id, lease_owner=self.worker, status=JobStatus.RUNNING)


async def claim(job_id: int, worker: str, now: datetime, lease: timedelta) -> Lease | None:
    """Take the job's lease if it is due and nobody holds it (one conditional UPDATE)."""
    due = Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now + timedelta(seconds=1))
    # A running job is taken over only once its lease expired, even by the same worker process:
    # one process runs many jobs at once, and a second run of the same job must wait.
    free = (Q(status__in=CLAIMABLE) & due) | Q(status=JobStatus.RUNNING, lease_until__lt=now)
    taken = await Job.filter(Q(id=job_id) & free).update(
        status=JobStatus.RUNNING, lease_owner=worker, lease_until=now + lease,
        attempts=F("attempts") + 1, next_retry_at=None)
    return Lease(job_id, worker) if taken else None


async def renew(lease: Lease, until: datetime) -> bool:
    """Extend the lease; False once it is lost."""
    return bool(await Job.filter(lease.held()).update(lease_until=until))


async def checkpoint(lease: Lease, step: JobStep, checkpoint: dict[str, Any], **fields: Any) -> None:
    """Record a step's result and the step that comes next; raises LeaseLost when not held."""
    held = await Job.filter(lease.held()).update(checkpoint=checkpoint, step=step,
                                                progress_percent=STEP_START[step], **fields)
    if not held:
        raise LeaseLost(lease.job_id)


async def move(lease: Lease, to: JobStatus, **fields: Any) -> bool:
    """End the run: the job moves to ``to`` and the lease is released; False (nothing written)
    when the lease is lost. Call it first inside the outcome's transaction."""
    if not allowed(JobStatus.RUNNING, to) or to is JobStatus.RUNNING:
        raise ValueError(f"a run cannot end in {to.value}")
    return bool(await Job.filter(lease.held()).update(status=to, lease_owner=None, lease_until=None,
                                                     **fields))
