"""Reconcile: the database is the truth; put back on the queue what Redis lost or a dead worker holds.

The policy, for each job that should be on the queue (due, or running with an expired lease):

* ``running`` with an expired lease: its worker vanished; queue it again under a fresh queue id
  (ARQ keeps a killed worker's entry "in progress" until the job's timeout, hours, and an id it
  holds cannot be queued again). The id is made from the expired lease, and once a whole lease has
  passed since, from the current lease period, so a takeover whose worker died too is queued
  again once per lease period, never once per run.
* queued or retrying and unknown to the queue: Redis lost it; queue it under its usual id.
* queued and "in progress" on the queue for longer than a lease without its row being claimed: a
  worker took it and died before claiming it; queue it under the lease period's id.

``decide`` is that policy as a pure function; ``ReconcileService.run`` applies it with the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from core.models import Job, JobStatus
from core.services.jobs import JobService

log = logging.getLogger("forwarder.reconcile")


class ReconcileQueue(Protocol):
    """What reconcile needs from the queue: its state for a job, and enqueueing under a token."""

    async def enqueue_forward(self, job_id: int, at: datetime | None = None, *,
                              token: str | None = None) -> bool: ...

    async def state(self, job_id: int) -> str | None: ...


@dataclass(frozen=True)
class Requeue:
    """Queue the job again; ``token`` None means under its usual queue id."""

    token: str | None = None


def period_token(now: datetime, lease: timedelta) -> str:
    """The queue-id token of the current lease period."""
    return f"s{int(now.timestamp() // lease.total_seconds())}"


def decide(status: JobStatus, *, lease_until: datetime | None, waiting_since: datetime,
           queue_state: str | None, now: datetime, lease: timedelta) -> Requeue | None:
    """What reconcile does with one candidate job (see the module docstring); None: leave it."""
    if status is JobStatus.RUNNING:
        if lease_until is None or now - lease_until > lease:
            return Requeue(period_token(now, lease))
        return Requeue(f"r{int(lease_until.timestamp())}")
    if queue_state is None:
        return Requeue()
    if queue_state == "in_progress" and now - waiting_since > lease:
        return Requeue(period_token(now, lease))
    return None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReconcileService:
    """Applies ``decide`` to every job that should be on the queue."""

    def __init__(self, jobs: JobService, queue: ReconcileQueue, lease: Callable[[], timedelta], *,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.jobs = jobs
        self.queue = queue
        self.lease = lease  # read at each run: the forward service's lease, which settings decide
        self.clock = clock

    async def run(self) -> int:
        """Queue again what should be queued; return how many were."""
        now = self.clock()
        lease = self.lease()
        requeued = 0
        for job_id in await self.jobs.reconcile_candidates(now):
            job = await Job.get_or_none(id=job_id)
            if job is None:
                continue
            state = None if job.status is JobStatus.RUNNING else await self.queue.state(job_id)
            action = decide(job.status, lease_until=job.lease_until, queue_state=state, now=now, lease=lease,
                            waiting_since=job.next_retry_at or job.created_at)
            if action is not None:
                requeued += await self.queue.enqueue_forward(job_id, token=action.token)
        if requeued:
            log.info("reconcile re-enqueued %d job(s)", requeued)
        return requeued
