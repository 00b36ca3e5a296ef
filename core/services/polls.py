"""Polls: list the source, record each post once per connection, filter, create jobs.

The unique ``(connection, source_post_id)`` row is the dedupe: a post seen by two pollers,
two workers or after a restart is recorded once, and only the poll that inserted it
creates its job. On a connection's first poll, posts published before it was started are
recorded as filtered (the one-time backfill is how older posts are forwarded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from core.errors import ForwarderError, storable
from core.models import (
    Connection,
    ConnectionStatus,
    Job,
    JobStatus,
    LogEntry,
    LogLevel,
    PostOutcome,
    SourcePost,
)
from core.pipeline.proxy_choice import choose_proxy
from core.pipeline.rules import Filters, Schedule, aware
from core.platforms.base import ListResult, RemotePost
from core.platforms.factory import PlatformFactory
from core.platforms.proxy import ProxySpec


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class PollResult:
    """What one poll found and did."""

    connection_id: int
    found: int = 0
    new: int = 0
    filtered: int = 0
    jobs: list[int] = field(default_factory=list)
    units_spent: int = 0
    method: str = ""
    skipped: str | None = None
    error: ForwarderError | None = None
    posts: list[tuple[str, int | None]] = field(default_factory=list)  # (source post id, job id)

    def to_dict(self) -> dict[str, Any]:
        return {"connection_id": self.connection_id, "found": self.found, "new": self.new,
                "filtered": self.filtered, "jobs": self.jobs, "units_spent": self.units_spent,
                "method": self.method, "skipped": self.skipped,
                "error": self.error.to_dict() if self.error else None}


class PollService:
    """Turns source listings into recorded posts and queued jobs."""

    def __init__(self, factory: PlatformFactory, *, timezone: str = "UTC",
                 clock: Callable[[], datetime] = utcnow, list_limit: int = 20) -> None:
        self.factory = factory
        self.timezone = timezone
        self.clock = clock
        self.list_limit = list_limit

    async def due_connections(self, now: datetime | None = None) -> list[tuple[int, int]]:
        """(connection id, slot) of every active connection that should poll now."""
        now = now or self.clock()
        due = []
        for connection in await Connection.filter(status=ConnectionStatus.ACTIVE):
            schedule = Schedule.from_json(connection.schedule)
            if schedule.due(aware(connection.last_run_at), now, self.timezone):
                due.append((connection.id, schedule.slot(now)))
        return due

    async def poll(self, connection_id: int, *, manual: bool = False) -> PollResult:
        """List new posts, record them, create jobs for those that pass the filters."""
        result = PollResult(connection_id)
        connection = await Connection.get_or_none(id=connection_id).prefetch_related("source_account")
        if connection is None:
            result.skipped = "the connection no longer exists"
            return result
        if connection.status != ConnectionStatus.ACTIVE and not manual:
            result.skipped = f"the connection is {connection.status.value}"
            return result
        now = self.clock()
        account = connection.source_account
        proxy = await choose_proxy(connection, account)
        spec = ProxySpec.from_model(proxy) if proxy else None
        filters = Filters.from_json(connection.filters)
        cursor = dict(connection.cursor or {})
        try:
            async with self.factory.source(account, spec) as source:
                listing = await source.list_new(cursor, self.list_limit)
                backfill = None
                pending = filters.include_old_posts and not connection.backfill_done and filters.date_from
                if pending and filters.date_from:
                    # Each run goes further back from where the last one stopped, at most the cap.
                    end = datetime.combine(filters.date_to, datetime.max.time(), UTC) if filters.date_to \
                        else now
                    until = datetime.fromisoformat(cursor["backfill_until"]) if cursor.get("backfill_until") \
                        else end
                    start = datetime.combine(filters.date_from, datetime.min.time(), UTC)
                    backfill = await source.list_range(start, until, filters.backfill_cap)
        except ForwarderError as exc:
            result.error = exc
            await Connection.filter(id=connection.id).update(last_run_at=now)
            await LogEntry.create(level=LogLevel.WARNING, connection_id=connection.id,
                                  message=f"Poll of {connection.name} failed: "
                                          f"{exc.code.value}: {exc.message}",
                                  details=exc.to_dict())
            raise
        started = aware(datetime.fromisoformat(cursor["since"])) if cursor.get("since") \
            else aware(connection.created_at)
        first = "polled" not in cursor
        if backfill is not None:
            await self._record(connection, backfill, filters, result, check_dates=True)
        await self._record(connection, listing, filters, result, baseline=started if first else None,
                           leave_to_backfill=filters if backfill is not None else None)
        new_cursor = {**cursor, **listing.cursor, "polled": True}
        if backfill is not None and backfill.posts:
            oldest = min(p.published_at for p in backfill.posts if p.published_at) \
                if any(p.published_at for p in backfill.posts) else None
            if oldest is not None:
                new_cursor["backfill_until"] = (oldest - timedelta(microseconds=1)).isoformat()
        fields: dict[str, Any] = {"cursor": new_cursor, "last_run_at": now,
                                  "filtered_count": F("filtered_count") + result.filtered}
        if backfill is not None and len(backfill.posts) < filters.backfill_cap:
            fields["backfill_done"] = True
        schedule = Schedule.from_json(connection.schedule)
        fields["next_check_at"] = now + timedelta(minutes=schedule.interval_minutes)
        await Connection.filter(id=connection.id).update(**fields)
        result.units_spent = listing.units_spent + (backfill.units_spent if backfill else 0)
        result.method = listing.method
        if result.new or manual:
            await LogEntry.create(
                level=LogLevel.INFO, connection_id=connection.id,
                message=f"Poll of {connection.name}: {result.new} new post(s), {len(result.jobs)} job(s) "
                        f"queued, {result.filtered} filtered", details=result.to_dict())
        return result

    async def _record(self, connection: Connection, listing: ListResult, filters: Filters,
                      result: PollResult, *, baseline: datetime | None = None,
                      check_dates: bool = False, leave_to_backfill: Filters | None = None) -> None:
        result.found += len(listing.posts)
        ids = [p.id for p in listing.posts]
        known: set[Any] = set(await SourcePost.filter(connection_id=connection.id, source_post_id__in=ids)
                    .values_list("source_post_id", flat=True))
        # Oldest first, so jobs run in the order the source published them.
        for post in reversed(listing.posts):
            if post.id in known:
                continue
            reason = self._reason(post, filters, baseline, check_dates)
            if reason and leave_to_backfill is not None and baseline is not None and post.published_at \
                    and post.published_at < baseline and leave_to_backfill.reject_reason(
                        "", None, post.published_at, check_dates=True) is None and not post.skip_reason:
                continue  # an old post inside the backfill range: the backfill records it
            job_id = await self._insert(connection, post, reason)
            if job_id is False:
                continue  # another poller recorded it first
            known.add(post.id)
            result.new += 1
            if reason:
                result.filtered += 1
            else:
                assert isinstance(job_id, int)
                result.jobs.append(job_id)
            result.posts.append((post.id, job_id if isinstance(job_id, int) else None))

    @staticmethod
    def _reason(post: RemotePost, filters: Filters, baseline: datetime | None,
                check_dates: bool) -> str | None:
        if post.skip_reason:
            return post.skip_reason
        if baseline is not None and post.published_at is not None and post.published_at < baseline:
            return "published before the connection started (use backfill to forward older posts)"
        return filters.reject_reason(post.caption, post.duration, post.published_at, check_dates=check_dates)

    @staticmethod
    async def _insert(connection: Connection, post: RemotePost, reason: str | None) -> int | bool | None:
        """Record the post (and its job); False when it was already recorded."""
        try:
            async with in_transaction():
                row = await SourcePost.create(
                    connection_id=connection.id, source_post_id=post.id,
                    caption=storable(post.caption or ""),
                    title=storable(str(post.extra.get("title") or "")[:1000]),
                    media_url=post.media_url, permalink=post.permalink, published_at=post.published_at,
                    duration=post.duration,
                    outcome=PostOutcome.FILTERED if reason else PostOutcome.QUEUED, reason=reason)
                if reason:
                    return None
                job = await Job.create(connection_id=connection.id, source_post_id=row.id,
                                       status=JobStatus.QUEUED)
                return int(job.id)
        except IntegrityError:
            return False
