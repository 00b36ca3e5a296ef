"""System health: database, Redis, worker heartbeats, version."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

import core
from core.db import ping_db

WORKERS_KEY = "forwarder:workers"
HEARTBEAT_TTL = 90.0


@dataclass(frozen=True)
class Health:
    """The system's state as /api/health and `forwarder check` show it."""

    database: bool
    redis: bool
    workers: int
    version: str

    @property
    def healthy(self) -> bool:
        """Database and Redis answer and at least one worker beat recently."""
        return self.database and self.redis and self.workers > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of /api/health."""
        data = asdict(self)
        data["status"] = "healthy" if self.healthy else "unhealthy"
        data["worker"] = self.workers > 0
        return data


class HealthService:
    """Reports health and records worker heartbeats in Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def beat(self, worker_id: str) -> None:
        """Record that ``worker_id`` is alive now."""
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(WORKERS_KEY, {worker_id: now})
            pipe.zremrangebyscore(WORKERS_KEY, 0, now - HEARTBEAT_TTL)
            await pipe.execute()

    async def forget(self, worker_id: str) -> None:
        """Remove a worker that stops cleanly."""
        await self.redis.zrem(WORKERS_KEY, worker_id)

    async def live_workers(self) -> int:
        """How many workers beat within the TTL."""
        return int(await self.redis.zcount(WORKERS_KEY, time.time() - HEARTBEAT_TTL, "+inf"))

    async def check(self) -> Health:
        """Probe every dependency; never raises."""
        database = await ping_db()
        try:
            redis_ok = bool(await self.redis.ping())
            workers = await self.live_workers() if redis_ok else 0
        except Exception:  # noqa: BLE001 - health reports, never raises
            redis_ok, workers = False, 0
        return Health(database=database, redis=redis_ok, workers=workers, version=core.__version__)
