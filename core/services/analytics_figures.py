"""The pure half of analytics: periods, local-day windows, outcome tallies, rates, the account
health score and CSV cell neutralisation. Nothing here touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import InvalidInput
from core.models import AccountStatus, JobStatus

MAX_DAYS = 366
FINISHED = (JobStatus.SUCCESS, JobStatus.FAILED)


class InvalidPeriod(InvalidInput, ValueError):
    """A period the admin typed is wrong (``fields["period"]`` says why)."""

    def __init__(self, why: str) -> None:
        super().__init__({"period": why})


@dataclass(frozen=True)
class Window:
    """A period resolved in one timezone: UTC bounds [start, end) and its local calendar days."""

    start: datetime
    end: datetime
    days: tuple[date, ...]
    tz: ZoneInfo

    def day_of(self, moment: datetime) -> date:
        """The local calendar day a UTC timestamp falls on."""
        return moment.astimezone(self.tz).date()

    def to_dict(self) -> dict[str, Any]:
        """The specification's ``period`` shape (first and last local day, both included)."""
        return {"start": self.days[0].isoformat(), "end": self.days[-1].isoformat(),
                "days": len(self.days), "timezone": self.tz.key}


@dataclass(frozen=True)
class Period:
    """A reporting period: ``Period.last(30)`` or ``Period(start, end)``.

    ``last(n)`` is the last n local calendar days, today included, resolved with the service's
    clock and timezone. A custom period is half-open [start, end): two dates (local midnights,
    so ``Period(date(2025, 10, 1), date(2025, 10, 8))`` is the 7 days Oct 1-7) or two
    timezone-aware datetimes. Either way at most 366 days.
    """

    start: date | datetime | None = None
    end: date | datetime | None = None
    last_days: int | None = None

    def __post_init__(self) -> None:
        if self.last_days is not None:
            if self.start is not None or self.end is not None:
                raise InvalidPeriod("give either the last N days or a start and an end, not both")
            if not 1 <= self.last_days <= MAX_DAYS:
                raise InvalidPeriod(f"the last 1 to {MAX_DAYS} days, not {self.last_days}")
            return
        if self.start is None or self.end is None:
            raise InvalidPeriod("a custom period needs both a start and an end")
        kinds = {isinstance(self.start, datetime), isinstance(self.end, datetime)}
        if len(kinds) != 1:
            raise InvalidPeriod("start and end must both be dates or both be date-times")
        if isinstance(self.start, datetime) and isinstance(self.end, datetime):
            if self.start.tzinfo is None or self.end.tzinfo is None:
                raise InvalidPeriod("date-times must carry a timezone (or give plain dates)")
        if not self.start < self.end:
            raise InvalidPeriod(f"the start ({self.start.isoformat()}) must be before "
                                f"the end ({self.end.isoformat()})")
        span = self.end - self.start
        if span > timedelta(days=MAX_DAYS):
            raise InvalidPeriod(f"at most {MAX_DAYS} days; this one spans {span.days} days "
                                f"(split the report)")

    @classmethod
    def last(cls, days: int) -> Period:
        """The last ``days`` local calendar days, today included (7, 30 and 90 in the faces)."""
        return cls(last_days=days)

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"7days"``, ``"30d"`` or ``"90"`` (the API's ``?period=`` values) as ``last(n)``."""
        found = re.fullmatch(r"\s*(\d{1,4})\s*(days?|d)?\s*", text or "")
        if not found:
            raise InvalidPeriod(f"'{text}' is not a period; use 7days, 30days or 90days")
        return cls.last(int(found.group(1)))

    def window(self, now: datetime, tz: ZoneInfo) -> Window:
        """UTC bounds and local days of this period as seen at ``now`` in ``tz``."""
        if self.last_days is not None:
            today = now.astimezone(tz).date()
            first = today - timedelta(days=self.last_days - 1)
            return Window(local_midnight(first, tz), local_midnight(today + timedelta(days=1), tz),
                          day_range(first, today), tz)
        assert self.start is not None and self.end is not None  # __post_init__ made sure
        if isinstance(self.start, datetime) and isinstance(self.end, datetime):
            start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
            last = (end - timedelta(microseconds=1)).astimezone(tz).date()
            return Window(start, end, day_range(start.astimezone(tz).date(), last), tz)
        return Window(local_midnight(self.start, tz), local_midnight(self.end, tz),
                      day_range(self.start, self.end - timedelta(days=1)), tz)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``tz``."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def day_range(first: date, last: date) -> tuple[date, ...]:
    """Every date from ``first`` to ``last``, both included."""
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def rate(part: int, whole: int) -> float | None:
    """``part`` as a percentage of ``whole``, one decimal; None when ``whole`` is 0."""
    return round(part * 100 / whole, 1) if whole else None


def mean(values: Iterable[float], digits: int = 1) -> float | None:
    """The rounded average, or None for no values."""
    items = list(values)
    return round(sum(items) / len(items), digits) if items else None


@dataclass
class Tally:
    """Job counts by outcome; the success rate counts finished jobs only."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    retrying: int = 0
    cancelled: int = 0

    def add(self, status: str, count: int = 1) -> None:
        """Count ``count`` jobs of ``status``."""
        self.total += count
        if status == JobStatus.SUCCESS:
            self.succeeded += count
        elif status == JobStatus.FAILED:
            self.failed += count
        elif status == JobStatus.RETRYING:
            self.retrying += count
        elif status == JobStatus.CANCELLED:
            self.cancelled += count

    def merge(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        self.total += other.total
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.retrying += other.retrying
        self.cancelled += other.cancelled

    @property
    def finished(self) -> int:
        """Jobs with a final outcome (succeeded or failed)."""
        return self.succeeded + self.failed

    @property
    def in_progress(self) -> int:
        """Queued, running or CAPTCHA-held jobs."""
        return self.total - self.finished - self.retrying - self.cancelled

    @property
    def success_rate(self) -> float | None:
        """succeeded / (succeeded + failed) x 100, or None with nothing finished."""
        return rate(self.succeeded, self.finished)

    def to_dict(self) -> dict[str, Any]:
        """The counts and the rate as the API shows them."""
        return {"total": self.total, "succeeded": self.succeeded, "failed": self.failed,
                "retrying": self.retrying, "cancelled": self.cancelled,
                "in_progress": self.in_progress, "success_rate": self.success_rate}


def tally(statuses: Iterable[str]) -> Tally:
    """A tally of one status per job."""
    result = Tally()
    for status in statuses:
        result.add(status)
    return result


@dataclass
class DailyTallies:
    """One tally per local day of a window, zero days included."""

    window: Window
    days: dict[date, Tally] = field(init=False)

    def __post_init__(self) -> None:
        self.days = {day: Tally() for day in self.window.days}

    def add(self, created_at: datetime, status: str) -> None:
        """Count a job on the local day it was created (jobs outside the window are ignored)."""
        day = self.window.day_of(created_at)
        if day in self.days:
            self.days[day].add(status)


# ---- account health ----------------------------------------------------------------------

STATUS_PENALTY: dict[AccountStatus, int] = {
    AccountStatus.ACTIVE: 0,
    AccountStatus.EXPIRY_WARNING: 10,
    AccountStatus.CAPTCHA_DETECTED: 40,
    AccountStatus.TOKEN_EXPIRED: 50,
    AccountStatus.REQUIRES_REAUTH: 50,
    AccountStatus.SUSPENDED: 70,
    AccountStatus.DISABLED: 100,
}
EXPIRED_PENALTY = 50
HEALTH_SCORE_FORMULA = (
    "health = clamp(round(success_rate - max(status_penalty, expiry_penalty)), 0, 100); "
    "success_rate = succeeded / (succeeded + failed) x 100 over the account's jobs in the period "
    "(100 when none finished); status_penalty: active 0, expiry_warning 10, captcha_detected 40, "
    "token_expired 50, requires_reauth 50, suspended 70, disabled 100; expiry_penalty: 50 once "
    "token_expiry has passed, 10 rising linearly to 20 while it is within alert_before_days, else 0"
)


def expiry_penalty(token_expiry: datetime | None, alert_before_days: int, now: datetime) -> float:
    """0 far from expiry, 10 -> 20 across the alert window, 50 once expired."""
    if token_expiry is None:
        return 0.0
    left = (token_expiry - now).total_seconds() / 86400
    if left <= 0:
        return float(EXPIRED_PENALTY)
    window = max(alert_before_days, 0)
    if window == 0 or left > window:
        return 0.0
    return 10 + 10 * (1 - left / window)


def health_score(success_rate: float | None, status: AccountStatus, token_expiry: datetime | None,
                 alert_before_days: int, now: datetime) -> tuple[int, dict[str, Any]]:
    """The account health score 0-100 and its inputs (see ``HEALTH_SCORE_FORMULA``).

    The success rate is the record of the past; the penalty is what blocks the future. The
    larger penalty is taken, not the sum, because an expired token and the ``token_expired``
    status are one problem seen twice. A disabled account forwards nothing and scores 0.
    """
    base = 100.0 if success_rate is None else success_rate
    by_status = STATUS_PENALTY.get(status, 0)
    by_expiry = round(expiry_penalty(token_expiry, alert_before_days, now), 1)
    score = max(0, min(100, round(base - max(by_status, by_expiry))))
    return score, {"success_rate": base, "status_penalty": by_status, "expiry_penalty": by_expiry}

