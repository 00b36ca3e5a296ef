"""What the renderers draw: plain frozen values, built by whoever queries the database."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NamedTuple

GOOD_ABOVE = 95.0
POOR_BELOW = 80.0


@dataclass(frozen=True, slots=True)
class DailyPoint:
    """One day's jobs; retried jobs are not final, so they add to volume but not to the success rate."""

    day: date
    succeeded: int = 0
    failed: int = 0
    retried: int = 0

    @property
    def total(self) -> int:
        """Every job of the day, final or not."""
        return self.succeeded + self.failed + self.retried

    @property
    def success_rate(self) -> float | None:
        """Succeeded out of finished jobs, in percent; None when no job finished that day."""
        finished = self.succeeded + self.failed
        return 100.0 * self.succeeded / finished if finished > 0 else None


class ConnectionStat(NamedTuple):
    """One bar of the top-connections chart; a plain ``(name, forwarded, success_rate)`` tuple works too."""

    name: str
    forwarded: int
    success_rate: float | None


class Band(StrEnum):
    """The uptime band of a daily success rate."""

    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"
    NO_DATA = "no_data"


def clamp_rate(value: float | None) -> float | None:
    """A percent held to 0-100; None for a missing or NaN value."""
    if value is None:
        return None
    rate = float(value)
    return None if math.isnan(rate) else min(100.0, max(0.0, rate))


def band_of(rate: float | None) -> Band:
    """Green above 95 %, yellow from 80 % to 95 %, red below 80 %, grey without data."""
    if rate is None or math.isnan(rate):
        return Band.NO_DATA
    if rate > GOOD_ABOVE:
        return Band.GOOD
    if rate >= POOR_BELOW:
        return Band.FAIR
    return Band.POOR
