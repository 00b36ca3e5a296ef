"""``JobQueue`` on ARQ: deterministic job ids make every enqueue idempotent.

* ``forward:{job}`` — one ARQ job per Job row at a time (kept results are off for it, so
  a job can be enqueued again once it ends, e.g. after a CAPTCHA is solved);
  ``forward:{job}:{token}`` takes over a job whose worker vanished.
* ``poll:{connection}:{slot}`` — one poll per schedule slot, even with several workers.
"""

from __future__ import annotations

from datetime import datetime

from arq.connections import ArqRedis
from redis.asyncio import Redis

FORWARD = "forward_job"
POLL = "poll_connection"


def forward_id(job_id: int, token: str | None = None) -> str:
    return f"forward:{job_id}" + (f":{token}" if token else "")


def poll_id(connection_id: int, slot: int | str) -> str:
    return f"poll:{connection_id}:{slot}"


class ArqQueue:
    """Enqueues onto the ARQ queue of the runtime's Redis."""

    def __init__(self, redis: Redis) -> None:
        # Shares the runtime's connection pool; the runtime closes it.
        self.arq = ArqRedis(connection_pool=redis.connection_pool)

    async def enqueue_forward(self, job_id: int, at: datetime | None = None, *,
                              token: str | None = None) -> bool:
        """Queue a forward (deferred to ``at``); False when that id is already queued or running."""
        job = await self.arq.enqueue_job(FORWARD, job_id, _job_id=forward_id(job_id, token),
                                         _defer_until=at)
        return job is not None

    async def enqueue_poll(self, connection_id: int, slot: int | None = None, *,
                           manual: bool = False) -> bool:
        """Queue a poll for a slot (None: right now, once per minute at most)."""
        key = slot if slot is not None else f"now{int(datetime.now().timestamp() // 60)}"
        job = await self.arq.enqueue_job(POLL, connection_id, _job_id=poll_id(connection_id, key))
        return job is not None

    async def state(self, job_id: int) -> str | None:
        """``in_progress`` (a worker took it), ``queued`` (waiting or deferred), or None (ARQ lost it)."""
        key = forward_id(job_id)
        if await self.arq.exists(f"arq:in-progress:{key}"):
            return "in_progress"
        return "queued" if await self.arq.exists(f"arq:job:{key}") else None
