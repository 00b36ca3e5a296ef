"""Deterministic example data for benchmarks and the Mini App docs: 30 days unless asked otherwise."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from charts.model import ConnectionStat, DailyPoint

SAMPLE_END = date(2025, 10, 17)

_REASONS = (
    ("Token expired", 24),
    ("API rate limit", 15),
    ("Network timeout", 10),
    ("Proxy error", 6),
    ("CAPTCHA", 3),
    ("Video too long", 2),
    ("Unsupported codec", 1),
    ("Caption too long", 1),
)

_CONNECTIONS = (
    ("Travel_Insta_to_TechShorts", 412, 97.8),
    ("FoodReels_to_YT", 288, 91.3),
    ("TechNews_YT_to_Insta", 251, 99.2),
    ("Cats \N{CAT FACE} & Dogs \N{DOG FACE} daily compilation for the whole family", 174, 76.4),
    ("Fitness_Motivation", 96, 88.0),
    ("Кулинария_Reels", 61, 100.0),
    ("Archive_backfill", 12, 50.0),
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One set of inputs for every chart, covering the same period."""

    points: tuple[DailyPoint, ...]
    failures: dict[str, int]
    connections: tuple[ConnectionStat, ...]
    uptime: dict[date, float | None]


def daily_points(days: int = 30, *, end: date = SAMPLE_END, seed: int = 21) -> tuple[DailyPoint, ...]:
    """Busy weekdays, quieter weekends, some bad days and now and then a day with no jobs."""
    rng = random.Random(seed)  # a private generator: the same data every run, global random untouched
    points = []
    for offset in range(days):
        day = end - timedelta(days=days - 1 - offset)
        roll = rng.random()
        if roll < 0.07:
            points.append(DailyPoint(day))
            continue
        volume = rng.randint(25, 45) if day.weekday() < 5 else rng.randint(8, 18)
        failure_share = 0.28 if roll < 0.15 else 0.1 if roll < 0.3 else 0.02
        failed = round(volume * failure_share)
        points.append(DailyPoint(day, succeeded=volume - failed, failed=failed, retried=rng.randint(0, 3)))
    return tuple(points)


def failure_counts() -> dict[str, int]:
    """Failure reasons as the spec's example lists them, plus a small tail that folds into "other"."""
    return dict(_REASONS)


def top_connections() -> tuple[ConnectionStat, ...]:
    """Seven connections spanning the three bands, one long name with emoji, one in Cyrillic."""
    return tuple(ConnectionStat(*row) for row in _CONNECTIONS)


def build_sample(days: int = 30, *, end: date = SAMPLE_END) -> Sample:
    """Every chart's input for ``days`` days ending on ``end``."""
    points = daily_points(days, end=end)
    return Sample(
        points=points,
        failures=failure_counts(),
        connections=top_connections(),
        uptime={point.day: point.success_rate for point in points},
    )


SAMPLE = build_sample()
