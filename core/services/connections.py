"""Connections: create/update/delete with validation, start/stop/pause/resume, run now.

The bot's wizard and the Mini App's form both end in ``create``/``update`` with the
specification's request shape (§4.3.1); every rule is checked here, and a refusal names
each wrong field (``InvalidInput.fields``) so both faces can ask again in place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from core.errors import ForwarderError, InvalidInput, NotFound
from core.models import (
    Account,
    AccountStatus,
    Connection,
    ConnectionStatus,
    Direction,
    Job,
    JobStatus,
    LogEntry,
    LogLevel,
    Platform,
    Proxy,
)
from core.pipeline.metadata import Templates
from core.pipeline.proxy_choice import check_policy
from core.pipeline.rules import Filters, RetryPolicy, RuleError, Schedule, aware
from core.pipeline.transform import transform_json, transform_options
from core.services.jobs import JobQueue, NoQueue
from core.services.polls import PollResult, PollService

SOURCE_PLATFORM = {Direction.INSTAGRAM_TO_YOUTUBE: Platform.INSTAGRAM,
                   Direction.YOUTUBE_TO_INSTAGRAM: Platform.YOUTUBE}
DEST_PLATFORM = {Direction.INSTAGRAM_TO_YOUTUBE: Platform.YOUTUBE,
                 Direction.YOUTUBE_TO_INSTAGRAM: Platform.INSTAGRAM}
USABLE = (AccountStatus.ACTIVE, AccountStatus.EXPIRY_WARNING)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _label(direction: Direction) -> str:
    return "Instagram -> YouTube" if direction is Direction.INSTAGRAM_TO_YOUTUBE else "YouTube -> Instagram"


class ConnectionService:
    """Every connection action of the specification (§4.3)."""

    def __init__(self, polls: PollService, queue: JobQueue | None = None, *, owner_id: int = 0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.polls = polls
        self.queue: JobQueue = queue or NoQueue()
        self.owner_id = owner_id
        self.clock = clock

    async def get(self, connection_id: int) -> Connection:
        connection = await Connection.get_or_none(id=connection_id, owner_id=self.owner_id).prefetch_related(
            "source_account", "destination_account", "proxy")
        if connection is None:
            raise NotFound(f"Connection {connection_id} does not exist")
        return connection

    async def list(self) -> list[Connection]:
        return list(await Connection.filter(owner_id=self.owner_id).order_by("name").prefetch_related(
            "source_account", "destination_account", "proxy"))

    # ---- validation ------------------------------------------------------------------

    async def _validate(self, data: dict[str, Any], current: Connection | None) -> dict[str, Any]:
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        if current is None or "name" in data:
            name = str(data.get("name") or "").strip()
            if not 1 <= len(name) <= 100:
                errors["name"] = "give the connection a name of 1 to 100 characters"
            elif await Connection.filter(owner_id=self.owner_id, name=name).exclude(
                    id=current.id if current else 0).exists():
                errors["name"] = f"a connection named '{name}' already exists; pick another name"
            values["name"] = name
        direction = current.direction if current else None
        if current is None or "type" in data or "direction" in data:
            raw = data.get("type", data.get("direction"))
            try:
                direction = Direction(str(raw))
            except ValueError:
                errors["type"] = "choose instagram_to_youtube or youtube_to_instagram"
            values["direction"] = direction
        for key, role, table in (("source_account_id", "source", SOURCE_PLATFORM),
                                 ("destination_account_id", "destination", DEST_PLATFORM)):
            if current is not None and key not in data and "type" not in data:
                continue
            account_id = data.get(key, getattr(current, key, None) if current else None)
            account = await Account.get_or_none(id=account_id, owner_id=self.owner_id) \
                if isinstance(account_id, int) else None
            if account is None:
                errors[key] = f"choose an existing {role} account"
            elif direction is not None and account.platform != table[direction]:
                errors[key] = (f"{account.alias} is a {account.platform.value} account; "
                               f"a {_label(direction)} connection needs a {table[direction].value} {role}")
            values[key] = account_id
        if "proxy_id" in data:
            if data["proxy_id"] is not None and not await Proxy.filter(
                    id=data["proxy_id"], owner_id=self.owner_id).exists():
                errors["proxy_id"] = "choose an existing proxy or none"
            values["proxy_id"] = data["proxy_id"]
        dest = DEST_PLATFORM.get(direction) if direction else None  # type: ignore[arg-type]
        parsers: dict[str, Callable[[Any], Any]] = {
            "filters": lambda v: Filters.from_json(v).to_json(),
            "schedule": lambda v: Schedule.from_json(v).to_json(),
            "transform_options": lambda v: transform_json(transform_options(v)),
            "retry_policy": lambda v: RetryPolicy.from_json(v).to_json(),
            "metadata_templates": lambda v: Templates.from_json(v, dest).to_json(),
            "proxy_policy": check_policy,
        }
        for column, parse in parsers.items():
            if current is None or column in data:
                try:
                    values[column] = parse(data.get(column))
                except RuleError as exc:
                    errors[f"{column}.{exc.field}" if not exc.field.startswith(column) else exc.field] = \
                        exc.message
        pool = (values.get("proxy_policy") or {}).get("pool") or []
        if pool:
            found = set(await Proxy.filter(id__in=pool, owner_id=self.owner_id).values_list("id", flat=True))
            missing = [p for p in pool if p not in found]
            if missing:
                errors["proxy_policy.pool"] = f"unknown proxy id(s): {', '.join(map(str, missing))}"
        if errors:
            raise InvalidInput(errors)
        return values

    # ---- create / update / delete ------------------------------------------------------

    async def create(self, data: dict[str, Any]) -> Connection:
        """Validate and save; ``status: active`` also starts it (refused with the reason if it cannot)."""
        values = await self._validate(data, None)
        async with in_transaction():
            connection = await Connection.create(owner_id=self.owner_id, status=ConnectionStatus.STOPPED,
                                                 **values)
        await LogEntry.create(level=LogLevel.INFO, connection=connection,
                              message=f"Connection {connection.name} created")
        if data.get("status") == ConnectionStatus.ACTIVE.value:
            await self.start(connection.id)
        return await self.get(connection.id)

    async def update(self, connection_id: int, data: dict[str, Any]) -> Connection:
        """Change some fields; the same rules as ``create``."""
        connection = await self.get(connection_id)
        values = await self._validate(data, connection)
        if values:
            await Connection.filter(id=connection.id).update(**values)
        return await self.get(connection.id)

    async def delete(self, connection_id: int) -> None:
        """Delete a connection with no job in flight (its history goes with it)."""
        connection = await self.get(connection_id)
        if await Job.filter(connection_id=connection.id, status=JobStatus.RUNNING).exists():
            raise ForwarderError(f"Connection {connection.name} has a job running; stop it and wait for "
                                 "the job to finish, then delete")
        await connection.delete()

    # ---- lifecycle -------------------------------------------------------------------

    async def blocking_reason(self, connection: Connection) -> str | None:
        """Why the connection cannot run now (the specification's "Cannot start: ..."), or None."""
        now = self.clock()
        for account in (connection.source_account, connection.destination_account):
            label = f"{account.platform.value.capitalize()} account {account.alias}"
            if account.status not in USABLE:
                why = account.status_reason or account.status.value.replace("_", " ")
                return f"Cannot start: {label} needs attention ({why})"
            expiry = aware(account.token_expiry)
            if expiry is not None and expiry <= now and not (account.credentials or {}).get("refresh_token"):
                platform = account.platform.value.capitalize()
                return f"Cannot start: {platform} token expired for {account.alias}"
        return None

    async def start(self, connection_id: int) -> dict[str, Any]:
        """Activate; refuse with the precise reason when an account is not usable.

        A compare-and-set on the status: a start of an active connection, or the loser of two
        starts at once, changes nothing (no log entry, no schedule reset, no poll) and says so.
        """
        connection = await self.get(connection_id)
        if connection.status is ConnectionStatus.ACTIVE:
            return self._already(connection, "active")
        reason = await self.blocking_reason(connection)
        if reason:
            raise ForwarderError(reason, code=None, hint="Fix the account under Accounts, then start again.")
        now = self.clock()
        cursor = dict(connection.cursor or {})
        cursor.setdefault("since", now.isoformat())
        if not await Connection.filter(id=connection.id, status=connection.status).update(
                status=ConnectionStatus.ACTIVE, pause_reason=None, cursor=cursor, next_check_at=now):
            return self._already(await self.get(connection_id), "active")
        await self.queue.enqueue_poll(connection.id, None)
        interval = Schedule.from_json(connection.schedule).interval_minutes
        await LogEntry.create(level=LogLevel.INFO, connection=connection,
                              message=f"Connection {connection.name} started")
        return {"status": "success", "message": f"Connection '{connection.name}' started",
                "connection_id": connection.id, "new_status": ConnectionStatus.ACTIVE.value, "changed": True,
                "next_check": (now + timedelta(minutes=interval)).isoformat()}

    @staticmethod
    def _already(connection: Connection, state: str) -> dict[str, Any]:
        return {"status": "success", "message": f"Connection '{connection.name}' is already {state}",
                "connection_id": connection.id, "new_status": connection.status.value, "changed": False}

    async def stop(self, connection_id: int) -> dict[str, Any]:
        """No further polls; jobs already queued or running finish."""
        connection = await self.get(connection_id)
        if not await Connection.filter(id=connection.id).exclude(status=ConnectionStatus.STOPPED).update(
                status=ConnectionStatus.STOPPED, next_check_at=None):
            return self._already(connection, "stopped")
        await LogEntry.create(level=LogLevel.INFO, connection=connection,
                              message=f"Connection {connection.name} stopped")
        return {"status": "success", "message": "Connection stopped. Running jobs will complete.",
                "connection_id": connection.id, "new_status": ConnectionStatus.STOPPED.value, "changed": True}

    async def pause(self, connection_id: int, reason: str | None = None) -> dict[str, Any]:
        """Pause an active connection (a paused one stays as it is; a stopped one is not running)."""
        connection = await self.get(connection_id)
        if connection.status is ConnectionStatus.STOPPED:
            raise ForwarderError(f"Connection {connection.name} is stopped, not running: nothing to pause")
        if not await Connection.filter(id=connection.id, status=ConnectionStatus.ACTIVE).update(
                status=ConnectionStatus.PAUSED, pause_reason=reason or "paused by the admin"):
            return self._already(await self.get(connection_id), "paused")
        await LogEntry.create(level=LogLevel.INFO, connection=connection,
                              message=f"Connection {connection.name} paused")
        return {"status": "success", "message": "Connection paused. Click Resume to continue.",
                "connection_id": connection.id, "new_status": ConnectionStatus.PAUSED.value, "changed": True}

    async def resume(self, connection_id: int) -> dict[str, Any]:
        return await self.start(connection_id)

    async def run_now(self, connection_id: int) -> dict[str, Any]:
        """Poll at once (whatever the schedule) and queue the jobs; the result lists them."""
        connection = await self.get(connection_id)
        reason = await self.blocking_reason(connection)
        if reason:
            raise ForwarderError(reason.replace("Cannot start", "Cannot run"))
        result: PollResult = await self.polls.poll(connection.id, manual=True)
        for job_id in result.jobs:
            await self.queue.enqueue_forward(job_id)
        jobs = [{"job_id": job_id, "source_post_id": post_id, "status": JobStatus.QUEUED.value}
                for post_id, job_id in result.posts if job_id is not None]
        return {"status": "success",
                "message": f"{len(jobs)} new post(s) found. Jobs queued for processing." if jobs
                else "No new posts found.",
                "jobs_created": jobs, "filtered": result.filtered}
