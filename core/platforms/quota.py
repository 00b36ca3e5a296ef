"""The YouTube Data API quota ledger: units and uploads per project and Pacific day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import F

from core.errors import QuotaExceeded
from core.models import Platform, QuotaUsage

# Google resets the quota at midnight Pacific time, DST included.
PACIFIC = ZoneInfo("America/Los_Angeles")
DEFAULT_DAILY_UNITS = 10_000
DEFAULT_DAILY_UPLOADS = 100
# videos.insert has its own bucket (counted in calls); a key suffix keeps it in a separate row.
UPLOAD_SUFFIX = "#videos.insert"


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def pacific_day(now: datetime | None = None) -> date:
    """The quota day (a date in America/Los_Angeles) that ``now`` falls in."""
    return _now(now).astimezone(PACIFIC).date()


def next_reset(now: datetime | None = None) -> datetime:
    """The next Pacific midnight after ``now``, as a tz-aware UTC datetime."""
    tomorrow = pacific_day(now) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=PACIFIC).astimezone(UTC)


@dataclass(frozen=True)
class QuotaUse:
    """What one project spent on one Pacific day."""

    day: date
    units: int
    calls: int
    uploads: int


class QuotaLedger:
    """Records quota spending in ``QuotaUsage`` and refuses calls that would exceed a limit."""

    def __init__(self, platform: Platform = Platform.YOUTUBE) -> None:
        self.platform = platform

    pacific_day = staticmethod(pacific_day)
    next_reset = staticmethod(next_reset)

    async def spend(
        self, project_key: str, units: int, *, daily_limit: int = DEFAULT_DAILY_UNITS,
        now: datetime | None = None, total: bool = True,
    ) -> int | None:
        """Record ``units`` for one API call; raise QuotaExceeded first if it would pass the limit.

        Returns the day's total so far (one more query), or None with ``total=False``.
        """
        return await self._spend(project_key, units, daily_limit, _now(now), "units", total)

    async def spend_upload(
        self, project_key: str, *, daily_uploads: int = DEFAULT_DAILY_UPLOADS,
        now: datetime | None = None, total: bool = True,
    ) -> int | None:
        """Record one videos.insert in the separate uploads bucket; raise QuotaExceeded when full."""
        return await self._spend(project_key + UPLOAD_SUFFIX, 1, daily_uploads, _now(now), "uploads", total)

    async def used(self, project_key: str, now: datetime | None = None) -> QuotaUse:
        """Units, calls and uploads spent on the Pacific day of ``now``."""
        day = pacific_day(_now(now))
        rows = {
            r.project_key: r
            for r in await QuotaUsage.filter(
                platform=self.platform, day=day,
                project_key__in=[project_key, project_key + UPLOAD_SUFFIX],
            )
        }
        main = rows.get(project_key)
        up = rows.get(project_key + UPLOAD_SUFFIX)
        return QuotaUse(
            day=day,
            units=main.units if main else 0,
            calls=main.calls if main else 0,
            uploads=up.units if up else 0,
        )

    async def _spend(self, key: str, amount: int, limit: int, now: datetime, what: str,
                     total: bool = True) -> int | None:
        if amount < 0:
            raise ValueError("amount must not be negative")
        day = pacific_day(now)
        row_of_day = QuotaUsage.filter(platform=self.platform, project_key=key, day=day)
        # One conditional UPDATE: concurrent workers can never push the row past the limit.
        updated = await row_of_day.filter(units__lte=limit - amount).update(
            units=F("units") + amount, calls=F("calls") + 1)
        if not updated:
            # The day's first call (no row yet), or the limit is reached.
            # (Another worker may have created the row in between: try the update once more.)
            await QuotaUsage.get_or_create(platform=self.platform, project_key=key, day=day)
            updated = await row_of_day.filter(units__lte=limit - amount).update(
                units=F("units") + amount, calls=F("calls") + 1)
        if not updated:
            reset = next_reset(now)
            raise QuotaExceeded(
                f"YouTube daily {what} quota of project {key.removesuffix(UPLOAD_SUFFIX)} is used up "
                f"({limit} per day); it resets at {reset:%Y-%m-%d %H:%M} UTC",
                reset_at=reset,
                details={"project_key": key, "limit": limit, "requested": amount},
            )
        if not total:
            return None
        fresh = await row_of_day.get()
        return fresh.units
