"""Analytics against a hand-computed job history (America/New_York, across the 2025-03-09 DST change).

The clock stands at 2025-03-12 12:00 UTC (08:00 EDT). Every expected number below is worked
out by hand from the ``JOBS`` table; a comment next to each says how.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from core.errors import InvalidInput, NotFound
from core.models import (
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    Direction,
    Job,
    JobStatus,
    Platform,
    QuotaUsage,
    SourcePost,
)
from core.services.analytics import AnalyticsService, InvalidPeriod, Period
from core.services.analytics_figures import HEALTH_SCORE_FORMULA, health_score
from core.services.health import HealthService

NY = "America/New_York"
NOW = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)
S, F, R, Q, RUN = JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.RETRYING, JobStatus.QUEUED, JobStatus.RUNNING
T1, T2 = "Travel_Insta_to_TechShorts", "=Evil_Name"


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


@dataclass
class J:
    """One seeded job: started/finished are seconds after creation (None: not set)."""

    key: str
    conn: str
    created: datetime
    status: JobStatus
    attempts: int = 1
    error: str | None = None
    start: int | None = None
    finish: int | None = None
    steps: dict[str, float] | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    post: str | None = None
    url: str | None = None
    retry_at: datetime | None = None
    dry_run: bool = False


#                                                  local (New York)          hour
JOBS = [
    J("old", T1, utc(2, 20, 12), S, finish=0, bytes_in=100, bytes_out=50),    # 02-20 07:00 EST
    J("edge", T1, utc(3, 1, 3), F, 3, "proxy_error", finish=0),               # 02-28 22:00 EST
    J("j0", T1, utc(3, 5, 12), S, finish=0, bytes_in=100, bytes_out=50),      # 03-05 07:00 EST
    J("j1", T1, utc(3, 7, 14), S, 1, None, 10, 130, {"download": 30, "upload": 90},
      1000, 800, url="https://youtu.be/j1"),                                  # 03-07 09:00 EST  9
    J("j2", T1, utc(3, 8, 14), S, 2, None, 20, 260, {"download": 60, "upload": 180},
      2000, 1500),                                                            # 03-08 09:00 EST  9
    J("j3", T1, utc(3, 8, 20, 30), F, 3, "token_expired", 0, 60, {"download": 60}, 500),  # 15:30 15
    J("dry", T1, utc(3, 9, 12), S, start=0, finish=5, bytes_in=9999, bytes_out=9999,
      dry_run=True),                                                          # 03-09: left out
    J("j4", T1, utc(3, 10, 13), S, 1, None, 5, 65, {"download": 20, "upload": 40},
      3000, 2500),                                                            # 03-10 09:00 EDT  9
    J("j5", T1, utc(3, 10, 19, 15), F, 1, "api_rate_limit", None, 0),         # 03-10 15:15 EDT 15
    J("j6", T1, utc(3, 11, 3, 30), F, 2, "token_expired", 0, 30),             # 03-10 23:30 EDT 23
    J("j7", T1, utc(3, 12, 11), R, 1, "network_timeout", 1,
      retry_at=NOW + timedelta(minutes=10)),                                  # 03-12 07:00 EDT  7
    J("j8", T1, utc(3, 12, 11, 30), Q, 0),                                    # 03-12 07:30 EDT  7
    J("j9", T1, utc(3, 12, 11, 50), RUN, 1, None, 30),                        # 03-12 07:50 EDT  7
    J("k1", T2, utc(3, 11, 15), S, 1, None, 0, 100, bytes_in=400, bytes_out=300,
      post="+cmd|' /C calc'!A0", url="@SUM(1+1)"),                            # 03-11 11:00 EDT
    J("k2", T2, utc(3, 12, 9), F, 1, None, 0, 10, post="-2+3"),               # 03-12 05:00 EDT
    J("k3", T2, utc(3, 12, 10), R, 1, "proxy_error", 10, retry_at=NOW - timedelta(seconds=60)),
]


@dataclass
class World:
    insta: int
    yt: int
    spare: int
    c1: int
    c2: int
    idle: int
    jobs: dict[str, int]


async def seed() -> World:
    insta = await Account.create(platform=Platform.INSTAGRAM, alias="TravelReels_Insta",
                                 auth_method=AuthMethod.PRIVATE_API)
    yt = await Account.create(platform=Platform.YOUTUBE, alias="TechShorts_YT", auth_method=AuthMethod.OAUTH,
                              status=AccountStatus.EXPIRY_WARNING, token_expiry=NOW + timedelta(days=1),
                              alert_before_days=2)
    spare = await Account.create(platform=Platform.YOUTUBE, alias="Spare_YT", auth_method=AuthMethod.OAUTH,
                                 status=AccountStatus.TOKEN_EXPIRED, token_expiry=NOW - timedelta(days=2))
    conns = {
        T1: await Connection.create(name=T1, direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=insta,
                                    destination_account=yt, status=ConnectionStatus.ACTIVE,
                                    last_run_at=NOW - timedelta(minutes=5)),
        T2: await Connection.create(name=T2, direction=Direction.YOUTUBE_TO_INSTAGRAM, source_account=yt,
                                    destination_account=insta, status=ConnectionStatus.PAUSED),
    }
    idle = await Connection.create(name="Idle", direction=Direction.INSTAGRAM_TO_YOUTUBE,
                                   source_account=insta, destination_account=yt,
                                   status=ConnectionStatus.STOPPED)
    ids: dict[str, int] = {}
    for j in JOBS:
        post = await SourcePost.create(connection=conns[j.conn], source_post_id=j.post or f"post-{j.key}")
        job = await Job.create(
            connection=conns[j.conn], source_post=post, status=j.status, attempts=j.attempts,
            error_code=j.error, step_durations=j.steps or {}, bytes_in=j.bytes_in, bytes_out=j.bytes_out,
            destination_url=j.url, next_retry_at=j.retry_at, dry_run=j.dry_run,
            started_at=None if j.start is None else j.created + timedelta(seconds=j.start),
            finished_at=None if j.finish is None else j.created + timedelta(seconds=j.finish))
        # created_at is auto_now_add: only an UPDATE can date it.
        await Job.filter(id=job.id).update(created_at=j.created)
        ids[j.key] = job.id
    return World(insta.id, yt.id, spare.id, conns[T1].id, conns[T2].id, idle.id, ids)


@pytest.fixture
async def world(db: str) -> World:
    return await seed()


@pytest.fixture
def ny() -> AnalyticsService:
    return AnalyticsService(clock=lambda: NOW, timezone=NY)


# ---- periods (no database) -----------------------------------------------------------------


@pytest.mark.parametrize(("start", "end", "why"), [
    (date(2025, 3, 10), date(2025, 3, 10), "before"),
    (date(2025, 3, 11), date(2025, 3, 10), "before"),
    (date(2025, 1, 1), date(2026, 1, 3), "at most 366 days"),
    (datetime(2025, 3, 1), datetime(2025, 3, 2), "timezone"),
    (date(2025, 3, 1), datetime(2025, 3, 2, tzinfo=UTC), "both"),
    (date(2025, 3, 1), None, "both a start and an end"),
])
def test_invalid_custom_periods(start: Any, end: Any, why: str) -> None:
    with pytest.raises(InvalidPeriod) as caught:
        Period(start, end)
    assert isinstance(caught.value, InvalidInput) and isinstance(caught.value, ValueError)
    assert why in caught.value.fields["period"]
    assert caught.value.code.value == "invalid_input"


@pytest.mark.parametrize("days", [0, -7, 367])
def test_invalid_last_periods(days: int) -> None:
    with pytest.raises(InvalidPeriod, match="1 to 366"):
        Period.last(days)


def test_period_parse_and_limits() -> None:
    assert Period.parse("30days") == Period.parse("30d") == Period.parse("30") == Period.last(30)
    with pytest.raises(InvalidPeriod, match="7days, 30days or 90days"):
        Period.parse("monthly")
    Period.last(366)
    Period(date(2025, 1, 1), date(2026, 1, 2))  # exactly 366 days is allowed


def test_windows_follow_the_timezone_across_dst() -> None:
    service = AnalyticsService(clock=lambda: NOW, timezone=NY)
    week = service.window(Period.last(7))
    # 03-06 00:00 EST = 05:00 UTC; 03-13 00:00 EDT = 04:00 UTC (the 03-09 day is 23 hours long)
    assert (week.start, week.end) == (utc(3, 6, 5), utc(3, 13, 4))
    assert week.days == tuple(date(2025, 3, d) for d in range(6, 13))
    assert week.to_dict() == {"start": "2025-03-06", "end": "2025-03-12", "days": 7, "timezone": NY}
    custom = service.window(Period(date(2025, 3, 8), date(2025, 3, 11)))
    assert (custom.start, custom.end, len(custom.days)) == (utc(3, 8, 5), utc(3, 11, 4), 3)
    exact = service.window(Period(utc(3, 8, 4, 59), utc(3, 10, 4)))  # 03-07 23:59 EST .. 03-10 00:00 EDT
    assert exact.days == (date(2025, 3, 7), date(2025, 3, 8), date(2025, 3, 9))


def test_health_score_formula() -> None:
    def score(rate: float | None, status: AccountStatus, days_left: float | None, alert: int = 2) -> int:
        expiry = None if days_left is None else NOW + timedelta(days=days_left)
        return health_score(rate, status, expiry, alert, NOW)[0]

    assert score(None, AccountStatus.ACTIVE, None) == 100          # nothing finished, nothing wrong
    assert score(95.3, AccountStatus.ACTIVE, 30) == 95              # far from expiry: the rate itself
    assert score(95.3, AccountStatus.EXPIRY_WARNING, 30) == 85      # status penalty 10
    assert score(95.3, AccountStatus.ACTIVE, 2) == 85               # entering the window: 10
    assert score(95.3, AccountStatus.EXPIRY_WARNING, 0.5) == 78     # 10 + 10 x (1 - 0.5/2) = 17.5
    assert score(95.3, AccountStatus.TOKEN_EXPIRED, -1) == 45       # max(50, 50), not the sum
    assert score(100, AccountStatus.CAPTCHA_DETECTED, None) == 60
    assert score(100, AccountStatus.SUSPENDED, None) == 30
    assert score(100, AccountStatus.DISABLED, None) == 0
    assert score(20, AccountStatus.TOKEN_EXPIRED, None) == 0        # clamped
    assert score(90, AccountStatus.ACTIVE, 1, alert=0) == 90        # no alert window, not yet expired
    assert "max(status_penalty, expiry_penalty)" in HEALTH_SCORE_FORMULA


# ---- dashboard -----------------------------------------------------------------------------


async def test_dashboard_summary(world: World, redis: Redis) -> None:
    health = HealthService(redis)
    await health.beat("worker-a")
    await health.beat("worker-b")
    summary = await AnalyticsService(clock=lambda: NOW, timezone=NY, health=health).dashboard_summary()
    assert summary["connections"] == {"total": 3, "active": 1, "paused": 1, "stopped": 1}
    # created since 03-11 12:00 UTC: k1 k2 k3 j7 j8 j9; k1 succeeded, k2 failed, k3 j7 retrying
    assert summary["jobs_24h"] == {"total": 6, "succeeded": 1, "failed": 1, "retrying": 2,
                                   "success_rate": 50.0}
    # one running job (j9) on 2 workers x 10 slots
    assert summary["workers"] == {"active": 2, "total_capacity": 20, "running_jobs": 1,
                                  "utilization_percent": 5.0}
    # j8 queued and k3 due for its retry; j7 retries in 10 minutes. Waits of jobs started since
    # 03-11 12:00: k1 0 s, k2 0 s, k3 10 s, j7 1 s, j9 30 s -> 41 / 5 = 8.2
    assert summary["queue"] == {"pending_jobs": 2, "avg_wait_time_seconds": 8}
    activity = summary["recent_activity"]
    assert [a["job_id"] for a in activity] == [world.jobs[k] for k in (
        "j7", "k3", "k2", "k1", "j6", "j5", "j4", "j3", "j2", "j1", "j0", "edge", "old")]
    assert activity[0] == {"timestamp": "2025-03-12T11:00:01+00:00", "job_id": world.jobs["j7"],
                           "connection_name": T1, "status": "retrying", "attempts": 1,
                           "error_code": "network_timeout"}
    assert activity[2]["timestamp"] == "2025-03-12T09:00:10+00:00" and activity[2]["status"] == "failed"


async def test_dashboard_without_health_or_jobs(db: str) -> None:
    summary = await AnalyticsService(clock=lambda: NOW).dashboard_summary()
    assert summary["connections"] == {"total": 0, "active": 0, "paused": 0, "stopped": 0}
    assert summary["jobs_24h"]["success_rate"] is None
    assert summary["workers"] == {"active": 0, "total_capacity": 0, "running_jobs": 0,
                                  "utilization_percent": None}
    assert summary["queue"] == {"pending_jobs": 0, "avg_wait_time_seconds": None}
    assert summary["recent_activity"] == []


# ---- connection ----------------------------------------------------------------------------


async def test_connection_metrics(world: World, ny: AnalyticsService) -> None:
    m = await ny.connection_metrics(world.c1, Period.last(7))
    assert (m["connection_id"], m["connection_name"], m["connection_status"]) == (world.c1, T1, "active")
    assert m["period"] == {"start": "2025-03-06", "end": "2025-03-12", "days": 7, "timezone": NY}
    # j1..j9 (j0 is 03-05, the dry run is left out); finished: j1 j2 j4 succeeded, j3 j5 j6 failed
    assert m["metrics"] == {
        "total_jobs": 9, "succeeded": 3, "failed": 3, "retrying": 1, "cancelled": 0, "in_progress": 2,
        "success_rate": 50.0,
        "avg_retry_count": 0.67,               # attempts-1 of finished jobs: 0+1+2+0+0+1 = 4 / 6
        "avg_job_duration_seconds": 102.0,     # 120+240+60+60+30 = 510 / 5 (j5 never started)
        "avg_step_durations_seconds": {"download": 42.5, "upload": 103.3},  # 170/4, 310/3
    }
    # local hours: 7 (j7 j8 j9), 9 (j1 j2 EST, j4 EDT: 14, 14, 13 UTC), 15 (j3, j5), 23 (j6)
    assert m["peak_hours"] == [{"hour": 7, "label": "07:00-08:00", "jobs": 3},
                               {"hour": 9, "label": "09:00-10:00", "jobs": 3},
                               {"hour": 15, "label": "15:00-16:00", "jobs": 2}]
    assert m["jobs_by_hour"][23] == 1 and sum(m["jobs_by_hour"]) == 9
    assert m["failure_breakdown"] == [{"reason": "token_expired", "count": 2, "percent": 66.7},
                                      {"reason": "api_rate_limit", "count": 1, "percent": 33.3}]
    assert [(d["date"], d["total"], d["succeeded"], d["failed"], d["retrying"], d["success_rate"])
            for d in m["daily_stats"]] == [
        ("2025-03-12", 3, 0, 0, 1, None),
        ("2025-03-11", 0, 0, 0, 0, None),      # j6 is 03-11 03:30 UTC but 03-10 23:30 in New York
        ("2025-03-10", 3, 1, 2, 0, 33.3),
        ("2025-03-09", 0, 0, 0, 0, None),      # only the dry run
        ("2025-03-08", 2, 1, 1, 0, 50.0),
        ("2025-03-07", 1, 1, 0, 0, 100.0),
        ("2025-03-06", 0, 0, 0, 0, None),
    ]
    assert m["last_run"] == {"polled_at": "2025-03-12T11:55:00+00:00", "job_id": world.jobs["j9"],
                             "status": "running", "created_at": "2025-03-12T11:50:00+00:00",
                             "finished_at": None, "error_code": None}


async def test_peak_hours_depend_on_the_timezone(world: World) -> None:
    m = await AnalyticsService(clock=lambda: NOW).connection_metrics(world.c1, Period.last(7))
    # the UTC window 03-06..03-12 holds the same nine jobs; UTC hours 11 x3, 14 x2, then 3 13 19 20 x1
    assert [(p["hour"], p["jobs"]) for p in m["peak_hours"]] == [(11, 3), (14, 2), (3, 1)]
    assert [d["date"] for d in m["daily_stats"] if d["failed"]] == ["2025-03-11", "2025-03-10", "2025-03-08"]


async def test_connection_metrics_unknown_and_empty(world: World, ny: AnalyticsService) -> None:
    with pytest.raises(NotFound):
        await ny.connection_metrics(9999, Period.last(7))
    m = await ny.connection_metrics(world.idle, Period.last(30))
    assert m["metrics"]["total_jobs"] == 0 and m["metrics"]["success_rate"] is None
    assert m["metrics"]["avg_retry_count"] is None and m["metrics"]["avg_job_duration_seconds"] is None
    assert m["peak_hours"] == [] and m["failure_breakdown"] == []
    assert len(m["daily_stats"]) == 30 and all(d["total"] == 0 for d in m["daily_stats"])
    assert m["last_run"]["job_id"] is None


# ---- account -------------------------------------------------------------------------------


async def test_account_metrics_and_health(world: World, ny: AnalyticsService) -> None:
    m = await ny.account_metrics(world.yt, Period.last(7))
    assert (m["account_alias"], m["account_type"]) == ("TechShorts_YT", "youtube")
    # destination of T1 (9 jobs: 3 ok, 3 failed), source of T2 (k1 ok, k2 failed, k3 retrying)
    assert m["metrics"] == {"total_jobs": 12, "total_forwarded": 4, "as_source": 3, "as_destination": 9,
                            "success_rate": 50.0,
                            # days with finished jobs: 03-07 100, 03-08 50, 03-10 33.3, 03-11 100, 03-12 0
                            "uptime_percent": 40.0,
                            "last_failure_at": "2025-03-12T09:00:10+00:00"}
    assert m["roles"] == {"source": {"jobs": 3, "succeeded": 1, "failed": 1, "success_rate": 50.0},
                          "destination": {"jobs": 9, "succeeded": 3, "failed": 3, "success_rate": 50.0}}
    assert m["connections"] == [
        {"connection_id": world.c2, "name": T2, "role": "source", "status": "paused", "jobs": 3,
         "success_rate": 50.0},
        {"connection_id": world.idle, "name": "Idle", "role": "destination", "status": "stopped", "jobs": 0,
         "success_rate": None},
        {"connection_id": world.c1, "name": T1, "role": "destination", "status": "active", "jobs": 9,
         "success_rate": 50.0},
    ]
    # token 1 day from expiry in a 2-day alert window: 10 + 10 x (1 - 1/2) = 15 > status penalty 10
    assert m["health_score"] == 35 and m["health_score_formula"] == HEALTH_SCORE_FORMULA
    assert m["health_components"] == {"success_rate": 50.0, "status_penalty": 10, "expiry_penalty": 15.0}
    assert m["token_status"] == {"valid": True, "status": "expiry_warning",
                                 "expires_at": "2025-03-13T12:00:00+00:00", "days_until_expiry": 1,
                                 "alert_before_days": 2, "expiring_soon": True}


async def test_account_without_jobs_and_unknown(world: World, ny: AnalyticsService) -> None:
    insta = await ny.account_metrics(world.insta, Period.last(7))
    assert (insta["metrics"]["as_source"], insta["metrics"]["as_destination"]) == (9, 3)
    assert insta["health_score"] == 50  # active, no token expiry: the 50.0 % success rate itself
    assert insta["token_status"]["valid"] is True and insta["token_status"]["days_until_expiry"] is None
    spare = await ny.account_metrics(world.spare, Period.last(90))
    assert spare["connections"] == [] and spare["metrics"]["total_jobs"] == 0
    assert spare["metrics"]["success_rate"] is None and spare["metrics"]["uptime_percent"] is None
    assert spare["health_score"] == 50  # 100 (nothing finished) - max(50 token_expired, 50 expired)
    assert spare["token_status"] == {"valid": False, "status": "token_expired",
                                     "expires_at": "2025-03-10T12:00:00+00:00", "days_until_expiry": -2,
                                     "alert_before_days": 2, "expiring_soon": False}
    with pytest.raises(NotFound):
        await ny.account_metrics(9999, Period.last(7))


# ---- system --------------------------------------------------------------------------------


async def test_system_summary(world: World, ny: AnalyticsService) -> None:
    await QuotaUsage.create(platform=Platform.YOUTUBE, project_key="proj-a", day=date(2025, 3, 12),
                            units=1600, calls=3)
    await QuotaUsage.create(platform=Platform.YOUTUBE, project_key="proj-a#videos.insert",
                            day=date(2025, 3, 12), units=1, calls=1)
    await QuotaUsage.create(platform=Platform.YOUTUBE, project_key="proj-b", day=date(2025, 3, 11), units=50)
    s = await ny.system_summary(Period.last(30))
    assert s["period"] == {"start": "2025-02-11", "end": "2025-03-12", "days": 30, "timezone": NY}
    # all 15 jobs but the dry run; ok: old j0 j1 j2 j4 k1; failed: edge j3 j5 j6 k2 -> 6 / 11
    assert s["totals"] == {"total": 15, "succeeded": 6, "failed": 5, "retrying": 2, "cancelled": 0,
                           "in_progress": 2, "success_rate": 54.5,
                           "avg_job_duration_seconds": 88.6}  # 120+240+60+60+30+100+10 = 620 / 7
    # 'edge' is 03-01 03:00 UTC = 02-28 22:00 EST: February in New York
    assert s["monthly"] == [
        {"month": "2025-02", "jobs": 2, "succeeded": 1, "failed": 1, "success_rate": 50.0},
        {"month": "2025-03", "jobs": 13, "succeeded": 5, "failed": 4, "success_rate": 55.6},
    ]
    assert s["bytes_processed"] == {"bytes_in": 7100, "bytes_out": 5200}  # the dry run's 9999 left out
    assert s["quota_today"] == {"day": "2025-03-12", "projects": [
        {"platform": "youtube", "project_key": "proj-a", "units": 1600, "calls": 3, "uploads": 1}]}
    in_utc = await AnalyticsService(clock=lambda: NOW).system_summary(Period.last(30))
    assert [(m["month"], m["jobs"]) for m in in_utc["monthly"]] == [("2025-02", 1), ("2025-03", 14)]


# ---- chart data ----------------------------------------------------------------------------


async def test_chart_helpers(world: World, ny: AnalyticsService) -> None:
    custom = Period(date(2025, 3, 8), date(2025, 3, 11))
    assert await ny.daily_series(custom, world.c1) == [
        (date(2025, 3, 8), 1, 1, 0), (date(2025, 3, 9), 0, 0, 0), (date(2025, 3, 10), 1, 2, 0)]
    week = await ny.daily_series(Period.last(7))
    assert week[-1] == (date(2025, 3, 12), 0, 1, 2)  # k2 failed; j7 and k3 retrying
    assert await ny.failure_counts(Period.last(7)) == {"token_expired": 2, "api_rate_limit": 1, "unknown": 1}
    assert await ny.failure_counts(Period.last(30), world.c1) == {
        "token_expired": 2, "api_rate_limit": 1, "proxy_error": 1}
    assert await ny.top_connections(Period.last(7)) == [(T1, 3, 50.0), (T2, 1, 50.0)]
    # ok: old j0 j1 j2 j4; failed: edge j3 j5 j6 -> 5 / 9
    assert await ny.top_connections(Period.last(30), limit=1) == [(T1, 5, 55.6)]
    assert await ny.uptime_days(Period.last(7), world.c1) == {
        date(2025, 3, 6): None, date(2025, 3, 7): 100.0, date(2025, 3, 8): 50.0, date(2025, 3, 9): None,
        date(2025, 3, 10): 33.3, date(2025, 3, 11): None, date(2025, 3, 12): None}
    assert all(isinstance(v, int) for row in week for v in row[1:])


# ---- CSV -----------------------------------------------------------------------------------


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_jobs_csv_neutralises_formulas(world: World, ny: AnalyticsService) -> None:
    rows = parse(await ny.export_csv("jobs", Period.last(7), world.c2))
    assert rows[0] == ["id", "created", "connection", "source_post", "status", "attempts", "error_code",
                       "duration_seconds", "step_durations", "destination_url"]
    assert rows[1:] == [
        [str(world.jobs["k1"]), "2025-03-11T11:00:00-04:00", "'=Evil_Name", "'+cmd|' /C calc'!A0", "success",
         "1", "", "100.0", "", "'@SUM(1+1)"],
        [str(world.jobs["k2"]), "2025-03-12T05:00:00-04:00", "'=Evil_Name", "'-2+3", "failed", "1", "",
         "10.0", "", ""],
        [str(world.jobs["k3"]), "2025-03-12T06:00:00-04:00", "'=Evil_Name", "post-k3", "retrying", "1",
         "proxy_error", "", "", ""],
    ]
    everything = parse(await ny.export_csv("jobs", Period.last(30)))
    assert len(everything) == 1 + 15
    j1 = next(r for r in everything if r[0] == str(world.jobs["j1"]))
    assert j1[1] == "2025-03-07T09:00:00-05:00" and j1[7:] == ["120.0", "download=30;upload=90",
                                                               "https://youtu.be/j1"]


async def test_daily_csv(world: World, ny: AnalyticsService) -> None:
    rows = parse(await ny.export_csv("daily", Period.last(7)))
    assert rows[0] == ["date", "connection", "total", "succeeded", "failed", "success_rate"]
    assert len(rows) == 1 + 7 * 2  # every day for both connections with jobs, zero days included
    assert rows[1] == ["2025-03-06", "'=Evil_Name", "0", "0", "0", ""]
    assert ["2025-03-10", T1, "3", "1", "2", "33.3"] in rows
    assert rows[-2:] == [["2025-03-12", "'=Evil_Name", "2", "0", "1", "0.0"],
                         ["2025-03-12", T1, "3", "0", "0", ""]]
    idle = parse(await ny.export_csv("daily", Period(date(2025, 3, 1), date(2025, 3, 4)), world.idle))
    assert idle[1:] == [[f"2025-03-0{d}", "Idle", "0", "0", "0", ""] for d in (1, 2, 3)]
    with pytest.raises(InvalidInput) as caught:
        await ny.export_csv("pdf", Period.last(7))
    assert "kind" in caught.value.fields
    with pytest.raises(NotFound):
        await ny.export_csv("daily", Period.last(7), 9999)
