"""Logs and system settings, for both faces.

System settings are one JSON value per section in ``Setting`` rows, validated here:

* ``general``: ``instance_name``, ``timezone``
* ``retry``: the default retry policy of new connections
* ``retention``: ``logs_days``, ``job_files_days``, ``notifications_days``
* ``quota``: ``youtube_daily_units``, ``youtube_daily_uploads`` (per Google project)
* ``alerts``: managed by ``AlertService.configure``
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from core.errors import InvalidInput, NotFound
from core.models import LogEntry, LogLevel, Setting
from core.pipeline.rules import RetryPolicy, RuleError
from core.platforms.quota import DEFAULT_DAILY_UNITS, DEFAULT_DAILY_UPLOADS

LEVELS = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR, LogLevel.CRITICAL]
DEFAULTS: dict[str, dict[str, Any]] = {
    "general": {"instance_name": "Forwarder", "timezone": "UTC"},
    "retry": RetryPolicy().to_json(),
    "retention": {"logs_days": 30, "job_files_days": 7, "notifications_days": 30},
    "quota": {"youtube_daily_units": DEFAULT_DAILY_UNITS, "youtube_daily_uploads": DEFAULT_DAILY_UPLOADS},
}


def _int_in(value: Any, name: str, low: int, high: int, errors: dict[str, str]) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors[name] = f"'{value}' is not a whole number"
        return low
    if not low <= number <= high:
        errors[name] = f"choose a number from {low} to {high}"
    return number


def _validate(section: str, value: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    out = {**DEFAULTS[section], **value}
    if section == "general":
        name = str(out.get("instance_name") or "").strip()
        if not 1 <= len(name) <= 40:
            errors["general.instance_name"] = "an instance name of 1 to 40 characters"
        out["instance_name"] = name
        try:
            ZoneInfo(str(out.get("timezone")))
        except (KeyError, ValueError, OSError):  # OSError: "Europe" is a folder, a long name no file
            zone = str(out.get("timezone"))
            zone = zone if len(zone) <= 40 else zone[:40] + "…"
            errors["general.timezone"] = f"'{zone}' is not an IANA time zone such as Europe/Berlin"
    elif section == "retry":
        try:
            out = RetryPolicy.from_json(out).to_json()
        except RuleError as exc:
            errors[f"retry.{exc.field}"] = exc.message
    elif section == "retention":
        for key in DEFAULTS["retention"]:
            out[key] = _int_in(out.get(key), f"retention.{key}", 1, 3650, errors)
    elif section == "quota":
        out["youtube_daily_units"] = _int_in(out.get("youtube_daily_units"), "quota.youtube_daily_units",
                                             1, 100_000_000, errors)
        out["youtube_daily_uploads"] = _int_in(out.get("youtube_daily_uploads"),
                                               "quota.youtube_daily_uploads", 0, 1_000_000, errors)
    unknown = set(value) - set(DEFAULTS[section])
    for key in unknown:
        errors[f"{section}.{key}"] = "unknown setting"
    if errors:
        raise InvalidInput(errors)
    return out


class SystemService:
    """System settings and the log."""

    def __init__(self, *, owner_id: int = 0, on_change: Any = None) -> None:
        self.owner_id = owner_id
        self.on_change = on_change  # called with (section, value) so services pick changes up

    async def settings(self) -> dict[str, dict[str, Any]]:
        """Every section with its defaults filled in."""
        rows = {r.key: r.value for r in await Setting.filter(owner_id=self.owner_id, key__in=list(DEFAULTS))}
        return {section: {**default, **(rows.get(section) or {})} for section, default in DEFAULTS.items()}

    async def update(self, section: str, value: dict[str, Any]) -> dict[str, Any]:
        """Validate and store one section; nothing is stored when a field is wrong."""
        return (await self.update_many({section: value}))[section]

    async def update_many(self, changes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Validate every section first, then store them together: all or nothing."""
        unknown = [s for s in changes if s not in DEFAULTS]
        if unknown:
            raise NotFound(f"There is no settings section '{unknown[0]}'")
        current = await self.settings()
        errors: dict[str, str] = {}
        clean: dict[str, dict[str, Any]] = {}
        for section, value in changes.items():
            try:
                clean[section] = _validate(section, {**current[section], **value})
            except InvalidInput as exc:
                errors.update(exc.fields)
        if errors:
            raise InvalidInput(errors)
        async with in_transaction():
            for section, value in clean.items():
                await Setting.update_or_create(owner_id=self.owner_id, key=section, defaults={"value": value})
        if self.on_change is not None:
            for section, value in clean.items():
                self.on_change(section, value)
        return clean

    async def apply(self) -> None:
        """Hand every stored section to ``on_change`` (at start-up)."""
        if self.on_change is not None:
            for section, value in (await self.settings()).items():
                self.on_change(section, value)

    async def logs(self, *, min_level: LogLevel = LogLevel.INFO, connection_id: int | None = None,
                   job_id: int | None = None, account_id: int | None = None, since: datetime | None = None,
                   limit: int = 50, offset: int = 0) -> tuple[int, list[LogEntry]]:
        """Log lines at ``min_level`` or above, newest first; returns (total, page)."""
        levels = LEVELS[LEVELS.index(LogLevel(min_level)):]
        query = LogEntry.filter(level__in=levels)
        if connection_id is not None:
            query = query.filter(connection_id=connection_id)
        if job_id is not None:
            query = query.filter(job_id=job_id)
        if account_id is not None:
            query = query.filter(account_id=account_id)
        if since is not None:
            query = query.filter(created_at__gte=since)
        total = await query.count()
        return total, list(await query.order_by("-id").offset(offset).limit(min(limit, 500)))

    async def log(self, entry_id: int) -> LogEntry:
        entry = await LogEntry.get_or_none(id=entry_id)
        if entry is None:
            raise NotFound(f"Log entry {entry_id} does not exist")
        return entry
