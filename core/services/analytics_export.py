"""CSV export of analytics: the rows as text, with formula-like cells neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.models import JobStatus, JobStep
from core.services.analytics_figures import DailyTallies, Tally, Window

JOB_COLUMNS = ["id", "created", "connection", "source_post", "status", "attempts", "error_code",
               "duration_seconds", "step_durations", "destination_url"]
JOB_FIELDS = ("id", "created_at", "connection__name", "source_post__source_post_id", "status", "attempts",
              "error_code", "started_at", "finished_at", "step_durations", "destination_url")
DAILY_COLUMNS = ["date", "connection", "total", "succeeded", "failed", "success_rate"]
STEP_ORDER = [s.value for s in JobStep if s is not JobStep.DONE]

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def step_rank(step: str) -> tuple[int, str]:
    """Pipeline order for step names (unknown ones last, by name)."""
    return (STEP_ORDER.index(step) if step in STEP_ORDER else len(STEP_ORDER), step)


def seconds_between(started: datetime | None, finished: datetime | None) -> float | None:
    """Seconds from ``started`` to ``finished``, or None when either is missing."""
    return (finished - started).total_seconds() if started and finished else None


def _text(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return out.getvalue()


def jobs_csv(rows: Iterable[tuple[Any, ...]], tz: ZoneInfo) -> str:
    """One line per job from ``JOB_FIELDS`` tuples; times in ``tz``, durations in seconds."""

    def lines() -> Iterable[list[Any]]:
        yield JOB_COLUMNS
        for job_id, created, name, post, status, attempts, error, started, finished, steps, url in rows:
            seconds = seconds_between(started, finished)
            yield [job_id, created.astimezone(tz).isoformat(timespec="seconds"), name, post,
                   JobStatus(status).value, attempts, error or "",
                   "" if seconds is None else round(seconds, 1),
                   ";".join(f"{s}={steps[s]}" for s in sorted(steps or {}, key=step_rank)), url or ""]

    return _text(lines())


def daily_csv(window: Window, names: Mapping[int, str], per: Mapping[int, DailyTallies]) -> str:
    """One line per local day and connection (zero days included), by day then name."""
    ordered = sorted(names, key=lambda c: (names[c], c))

    def lines() -> Iterable[list[Any]]:
        yield DAILY_COLUMNS
        for day in window.days:
            for cid in ordered:
                t = per[cid].days[day] if cid in per else Tally()
                yield [day.isoformat(), names[cid], t.total, t.succeeded, t.failed,
                       "" if t.success_rate is None else t.success_rate]

    return _text(lines())
