"""The reconcile policy as a pure function, and the service with an injected clock and a memory queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.models import (
    Account,
    AuthMethod,
    Connection,
    ConnectionStatus,
    Direction,
    Job,
    JobStatus,
    Platform,
    SourcePost,
)
from core.services.jobs import JobService
from core.services.reconcile import ReconcileService, Requeue, decide, period_token

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=120)


def test_a_running_job_whose_lease_just_expired_is_taken_over_under_an_id_from_its_lease() -> None:
    expired = NOW - timedelta(seconds=5)
    action = decide(JobStatus.RUNNING, lease_until=expired, waiting_since=NOW, queue_state=None, now=NOW,
                    lease=LEASE)
    assert action == Requeue(f"r{int(expired.timestamp())}")


def test_a_takeover_unclaimed_for_a_whole_lease_gets_the_lease_periods_id() -> None:
    expired = NOW - LEASE - timedelta(seconds=1)
    action = decide(JobStatus.RUNNING, lease_until=expired, waiting_since=NOW, queue_state=None, now=NOW,
                    lease=LEASE)
    assert action == Requeue(period_token(NOW, LEASE))
    assert period_token(NOW + timedelta(seconds=1), LEASE) == period_token(NOW, LEASE)  # once per period


def test_queued_jobs_by_what_the_queue_knows() -> None:
    kw = {"lease_until": None, "now": NOW, "lease": LEASE}
    assert decide(JobStatus.QUEUED, waiting_since=NOW, queue_state=None, **kw) == Requeue()  # Redis lost it
    assert decide(JobStatus.QUEUED, waiting_since=NOW, queue_state="queued", **kw) is None
    assert decide(JobStatus.RETRYING, waiting_since=NOW - timedelta(seconds=10), queue_state="in_progress",
                  **kw) is None  # just taken: a live worker claims the row in a moment
    taken = decide(JobStatus.QUEUED, waiting_since=NOW - LEASE - timedelta(seconds=1),
                   queue_state="in_progress", **kw)
    assert taken == Requeue(period_token(NOW, LEASE))  # its worker died before claiming it


class MemoryQueue:
    def __init__(self) -> None:
        self.states: dict[int, str] = {}
        self.enqueued: list[tuple[int, str | None]] = []

    async def enqueue_forward(self, job_id: int, at: datetime | None = None, *,
                              token: str | None = None) -> bool:
        if (job_id, token) in self.enqueued:
            return False
        self.enqueued.append((job_id, token))
        return True

    async def state(self, job_id: int) -> str | None:
        return self.states.get(job_id)


async def test_the_service_applies_the_policy_with_its_clock(db: str) -> None:
    src = await Account.create(platform=Platform.INSTAGRAM, alias="i", auth_method=AuthMethod.GRAPH_API)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="y", auth_method=AuthMethod.OAUTH)
    conn = await Connection.create(name="c", direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=src,
                                   destination_account=dst, status=ConnectionStatus.ACTIVE)
    posts = [await SourcePost.create(connection=conn, source_post_id=f"p{i}", caption="") for i in range(3)]
    lost = await Job.create(connection=conn, source_post=posts[0], status=JobStatus.QUEUED)
    known = await Job.create(connection=conn, source_post=posts[1], status=JobStatus.QUEUED)
    dead = await Job.create(connection=conn, source_post=posts[2], status=JobStatus.RUNNING,
                            lease_owner="dead:1", lease_until=NOW - timedelta(seconds=1))
    queue = MemoryQueue()
    queue.states[known.id] = "queued"
    clock = [NOW]
    service = ReconcileService(JobService(queue), queue, lambda: LEASE, clock=lambda: clock[0])
    assert await service.run() == 2
    takeover = f"r{int((NOW - timedelta(seconds=1)).timestamp())}"
    assert set(queue.enqueued) == {(lost.id, None), (dead.id, takeover)}
    assert await service.run() == 0  # the same ids again: nothing new
    clock[0] = NOW + LEASE + timedelta(seconds=2)  # a lease later, still unclaimed: a fresh period id
    assert await service.run() == 1  # the dead worker's job; the lost one's id is still queued
    assert (dead.id, period_token(clock[0], LEASE)) in queue.enqueued
