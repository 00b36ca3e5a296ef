"""Analytics (specification §4.8, §6.7): the dashboard summary, connection, account and
system figures, the series the charts draw, and CSV export.

How jobs are counted, everywhere:

* a job belongs to the period, and to the local calendar day (configured timezone), in which
  it was *created*; dry-run jobs are left out;
* ``success_rate`` = succeeded / (succeeded + failed) x 100, one decimal: jobs still queued,
  running or waiting to retry do not count against it; None when nothing finished;
* ``failed`` is the terminal state (retries used up, or not retriable); ``retrying`` waits
  for another attempt.

Each method reads only the columns it needs as plain tuples (``values_list``), or lets the
database count (``annotate(Count) .group_by``), in one to three queries, then buckets in
Python with zoneinfo, because SQL date functions differ between SQLite and PostgreSQL.
The system summary covers the most rows, so the database does all of its arithmetic: one
grouped count per local month, and an average duration (``_avg_seconds``, the one place
that spells SQL per database); so does the dashboard for the average queue wait.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.expressions import Q, RawSQL
from tortoise.functions import Count, Sum
from tortoise.queryset import QuerySet

from core.errors import InvalidInput, NotFound
from core.models import Account, AccountStatus, Connection, ConnectionStatus, Job, JobStatus, QuotaUsage
from core.platforms.quota import UPLOAD_SUFFIX, pacific_day
from core.services.analytics_export import JOB_FIELDS, daily_csv, jobs_csv, seconds_between, step_rank
from core.services.analytics_figures import (
    FINISHED,
    HEALTH_SCORE_FORMULA,
    DailyTallies,
    InvalidPeriod,
    Period,
    Tally,
    Window,
    health_score,
    local_midnight,
    mean,
    rate,
    tally,
)
from core.services.health import HealthService
from core.services.jobs import utcnow

__all__ = ["AnalyticsService", "InvalidPeriod", "Period"]

RECENT_ACTIVITY = 20
PEAK_HOURS = 3
UPTIME_GOOD = 80.0  # a day at or above this success rate is not red on the uptime calendar


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class AnalyticsService:
    """Figures over the job history; ``timezone`` decides days, hours and months."""

    def __init__(self, *, clock: Callable[[], datetime] = utcnow, timezone: str = "UTC",
                 health: HealthService | None = None, jobs_per_worker: int = 10) -> None:
        self.clock = clock
        self.tz = ZoneInfo(timezone)
        self.health = health
        self.jobs_per_worker = jobs_per_worker  # ARQ's max_jobs (10 unless the worker says otherwise)

    def window(self, period: Period) -> Window:
        """The period's UTC bounds and local days as of now."""
        return period.window(self.clock(), self.tz)

    def _jobs(self, window: Window, connection_id: int | None = None,
              connection_ids: Sequence[int] | None = None) -> QuerySet[Job]:
        query = Job.filter(dry_run=False, created_at__gte=window.start, created_at__lt=window.end)
        if connection_id is not None:
            query = query.filter(connection_id=connection_id)
        if connection_ids is not None:
            query = query.filter(connection_id__in=list(connection_ids))
        return query

    # ---- dashboard ---------------------------------------------------------------------

    async def dashboard_summary(self) -> dict[str, Any]:
        """``GET /api/dashboard/summary``: connections, the last 24 h, workers, queue, activity."""
        now = self.clock()
        since = now - timedelta(hours=24)
        connections: Counter[str] = Counter()
        by_status = Connection.all().annotate(n=Count("id")).group_by("status")
        for status, count in await by_status.values_list("status", "n"):
            connections[ConnectionStatus(status).value] += int(count)
        day = Tally()
        recent = Job.filter(dry_run=False, created_at__gte=since, created_at__lte=now)
        for status, count in await recent.annotate(n=Count("id")).group_by("status").values_list(
                "status", "n"):
            day.add(status, int(count))
        active = await self.health.live_workers() if self.health else 0
        running = await Job.filter(dry_run=False, status=JobStatus.RUNNING).count()
        capacity = active * self.jobs_per_worker
        due = Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now)
        waiting = Q(dry_run=False, status__in=[JobStatus.QUEUED, JobStatus.RETRYING])
        pending = await Job.filter(waiting & due).count()
        started = Job.filter(dry_run=False, started_at__gte=since, started_at__lte=now)
        waits = [row[0] for row in await started.annotate(
            avg=_avg_seconds("created_at", "started_at", at_least_zero=True)).values_list("avg")]
        wait = round(float(waits[0])) if waits and waits[0] is not None else None
        return {
            "connections": {"total": sum(connections.values()),
                            **{s.value: connections[s.value] for s in ConnectionStatus}},
            "jobs_24h": {"total": day.total, "succeeded": day.succeeded, "failed": day.failed,
                         "retrying": day.retrying, "success_rate": day.success_rate},
            "workers": {"active": active, "total_capacity": capacity, "running_jobs": running,
                        "utilization_percent": rate(running, capacity)},
            "queue": {"pending_jobs": pending,
                      "avg_wait_time_seconds": int(wait) if wait is not None else None},
            "recent_activity": await self._recent_activity(),
        }

    async def _recent_activity(self) -> list[dict[str, Any]]:
        """The latest finished or retrying jobs, newest first.

        A finished job is dated by ``finished_at``; one waiting to retry has no timestamp of its
        last attempt, so it is dated by when its first attempt started (or its creation).
        """
        columns = ("id", "status", "finished_at", "started_at", "created_at", "connection__name",
                   "attempts", "error_code")
        # Only finished jobs carry finished_at: filtering on it alone lets the database walk the
        # finished_at index backwards and stop at the 10th (a status filter made it sort them all).
        finished = Job.filter(dry_run=False, finished_at__isnull=False)
        retrying = Job.filter(dry_run=False, status=JobStatus.RETRYING)
        newest = await finished.order_by("-finished_at").limit(RECENT_ACTIVITY).values_list(*columns)
        latest = [
            *[row for row in newest if row[1] in FINISHED],
            *await retrying.order_by("-id").limit(RECENT_ACTIVITY).values_list(*columns)]
        entries = [{"timestamp": finished_at or started_at or created_at, "job_id": job_id,
                    "connection_name": name, "status": JobStatus(status).value, "attempts": attempts,
                    "error_code": error_code}
                   for job_id, status, finished_at, started_at, created_at, name, attempts, error_code
                   in latest]
        entries.sort(key=lambda e: (e["timestamp"], e["job_id"]), reverse=True)
        return [{**e, "timestamp": _iso(e["timestamp"])} for e in entries[:RECENT_ACTIVITY]]

    # ---- connection --------------------------------------------------------------------

    async def connection_metrics(self, connection_id: int, period: Period) -> dict[str, Any]:
        """``GET /api/analytics/connection/{id}``: totals, rates, durations, peaks, failures, days."""
        found = await Connection.filter(id=connection_id).values("id", "name", "status", "last_run_at")
        if not found:
            raise NotFound(f"Connection {connection_id} does not exist")
        connection = found[0]
        window = self.window(period)
        rows = await self._jobs(window, connection_id).values_list(
            "created_at", "status", "attempts", "error_code", "started_at", "finished_at", "step_durations")
        totals, daily = Tally(), DailyTallies(window)
        retries: list[int] = []
        durations: list[float] = []
        steps: dict[str, list[float]] = defaultdict(list)
        hours: Counter[int] = Counter()
        for created, status, attempts, _error, started, finished, step_durations in rows:
            totals.add(status)
            daily.add(created, status)
            hours[created.astimezone(self.tz).hour] += 1
            if status in FINISHED:
                retries.append(max(int(attempts) - 1, 0))
                seconds = seconds_between(started, finished)
                if seconds is not None:
                    durations.append(seconds)
                for step, value in (step_durations or {}).items():
                    if isinstance(value, int | float):
                        steps[step].append(float(value))
        newest = Job.filter(connection_id=connection_id, dry_run=False).order_by("-created_at", "-id")
        last = await newest.limit(1).values("id", "status", "created_at", "finished_at", "error_code")
        return {
            "connection_id": connection["id"],
            "connection_name": connection["name"],
            "connection_status": ConnectionStatus(connection["status"]).value,
            "period": window.to_dict(),
            "metrics": {
                "total_jobs": totals.total, "succeeded": totals.succeeded, "failed": totals.failed,
                "retrying": totals.retrying, "cancelled": totals.cancelled,
                "in_progress": totals.in_progress, "success_rate": totals.success_rate,
                "avg_retry_count": mean(retries, 2),
                "avg_job_duration_seconds": mean(durations),
                "avg_step_durations_seconds": {step: mean(steps[step]) for step in
                                               sorted(steps, key=step_rank)},
            },
            "peak_hours": [{"hour": h, "label": f"{h:02d}:00-{(h + 1) % 24:02d}:00", "jobs": n}
                           for h, n in sorted(hours.items(), key=lambda hn: (-hn[1], hn[0]))[:PEAK_HOURS]],
            "jobs_by_hour": [hours[h] for h in range(24)],
            "failure_breakdown": _breakdown(Counter(e or "unknown" for _c, s, _a, e, *_ in rows
                                                    if s == JobStatus.FAILED)),
            "daily_stats": [{"date": day.isoformat(), "total": t.total, "succeeded": t.succeeded,
                             "failed": t.failed, "retrying": t.retrying, "success_rate": t.success_rate}
                            for day, t in sorted(daily.days.items(), reverse=True)],
            "last_run": {
                "polled_at": _iso(connection["last_run_at"]),
                "job_id": last[0]["id"] if last else None,
                "status": JobStatus(last[0]["status"]).value if last else None,
                "created_at": _iso(last[0]["created_at"]) if last else None,
                "finished_at": _iso(last[0]["finished_at"]) if last else None,
                "error_code": last[0]["error_code"] if last else None,
            },
        }

    # ---- account -----------------------------------------------------------------------

    async def account_metrics(self, account_id: int, period: Period) -> dict[str, Any]:
        """``GET /api/analytics/account/{id}``: both roles, its connections, token, health score.

        Health score (0-100)::

            clamp(round(success_rate - max(status_penalty, expiry_penalty)), 0, 100)

        ``success_rate`` covers the jobs of every connection using the account in the period
        (100 when none finished); ``status_penalty`` is 0 for active, 10 expiry_warning,
        40 captcha_detected, 50 token_expired or requires_reauth, 70 suspended, 100 disabled;
        ``expiry_penalty`` is 50 once the token expired and rises from 10 to 20 through the
        last ``alert_before_days`` before expiry. The past record is the base; what blocks the
        future is subtracted once (the larger penalty: an expired token and the token_expired
        status are one problem), so an account that cannot post now is never green.
        """
        found = await Account.filter(id=account_id).values(
            "id", "alias", "platform", "status", "token_expiry", "alert_before_days")
        if not found:
            raise NotFound(f"Account {account_id} does not exist")
        account = found[0]
        now, window = self.clock(), self.window(period)
        using = Connection.filter(Q(source_account_id=account_id) | Q(destination_account_id=account_id))
        links = await using.order_by("name").values_list(
            "id", "name", "status", "source_account_id", "destination_account_id")
        rows = await self._jobs(window, connection_ids=[c[0] for c in links]).values_list(
            "connection_id", "created_at", "status", "finished_at")
        per_connection: dict[int, Tally] = defaultdict(Tally)
        daily = DailyTallies(window)
        for connection_id, created, status, _finished in rows:
            per_connection[connection_id].add(status)
            daily.add(created, status)
        roles: dict[str, Tally] = {"source": Tally(), "destination": Tally()}
        connections = []
        for connection_id, name, status, source_id, destination_id in links:
            for role, account_side in (("source", source_id), ("destination", destination_id)):
                if account_side != account_id:
                    continue
                t = per_connection[connection_id]
                roles[role].merge(t)
                connections.append({"connection_id": connection_id, "name": name, "role": role,
                                    "status": ConnectionStatus(status).value, "jobs": t.total,
                                    "success_rate": t.success_rate})
        overall = tally(s for _i, _c, s, _f in rows)
        judged = [t.success_rate for t in daily.days.values() if t.finished]
        failures = [f for _i, _c, s, f in rows if s == JobStatus.FAILED and f]
        status = AccountStatus(account["status"])
        expiry: datetime | None = account["token_expiry"]
        score, parts = health_score(overall.success_rate, status, expiry, account["alert_before_days"], now)
        days_left = int((expiry - now).total_seconds() // 86400) if expiry else None
        return {
            "account_id": account["id"],
            "account_alias": account["alias"],
            "account_type": str(account["platform"]),
            "period": window.to_dict(),
            "health_score": score,
            "health_score_formula": HEALTH_SCORE_FORMULA,
            "health_components": parts,
            "metrics": {
                "total_jobs": overall.total,
                "total_forwarded": overall.succeeded,
                "as_source": roles["source"].total,
                "as_destination": roles["destination"].total,
                "success_rate": overall.success_rate,
                "uptime_percent": rate(sum(1 for r in judged if r is not None and r >= UPTIME_GOOD),
                                       len(judged)),
                "last_failure_at": _iso(max(failures)) if failures else None,
            },
            "roles": {role: {"jobs": t.total, "succeeded": t.succeeded, "failed": t.failed,
                             "success_rate": t.success_rate} for role, t in roles.items()},
            "connections": connections,
            "token_status": {
                "valid": status not in (AccountStatus.TOKEN_EXPIRED, AccountStatus.REQUIRES_REAUTH)
                and (expiry is None or expiry > now),
                "status": status.value,
                "expires_at": _iso(expiry),
                "days_until_expiry": days_left,
                "alert_before_days": account["alert_before_days"],
                "expiring_soon": expiry is not None and now < expiry
                <= now + timedelta(days=account["alert_before_days"]),
            },
        }

    # ---- system ------------------------------------------------------------------------

    async def system_summary(self, period: Period) -> dict[str, Any]:
        """``GET /api/analytics/summary``: months, totals, bytes processed, quota used today.

        The database counts and sums: reading the period's rows instead cost about 0.5 s of
        CPU for 7,000 jobs on SQLite (three timestamps parsed per row), bench/api.py.
        """
        now, window = self.clock(), self.window(period)
        months: dict[str, Tally] = {}
        totals = Tally()
        bytes_in = bytes_out = 0
        for month, start, end in _months(window):
            months[month] = Tally()
            grouped = Job.filter(dry_run=False, created_at__gte=start, created_at__lt=end).annotate(
                n=Count("id"), got=Sum("bytes_in"), sent=Sum("bytes_out")).group_by("status")
            for status, count, got, sent in await grouped.values_list("status", "n", "got", "sent"):
                months[month].add(status, int(count))
                totals.add(status, int(count))
                bytes_in += int(got or 0)
                bytes_out += int(sent or 0)
        finished = self._jobs(window).filter(status__in=FINISHED, started_at__isnull=False,
                                             finished_at__isnull=False)
        average = [row[0] for row in await finished.annotate(
            avg=_avg_seconds("started_at", "finished_at")).values_list("avg")]
        duration = round(float(average[0]), 1) if average and average[0] is not None else None
        quota_day = pacific_day(now)
        quota: dict[tuple[str, str], dict[str, Any]] = {}
        for platform, key, units, calls in await QuotaUsage.filter(day=quota_day).values_list(
                "platform", "project_key", "units", "calls"):
            project = key.removesuffix(UPLOAD_SUFFIX)
            entry = quota.setdefault((str(platform), project), {
                "platform": str(platform), "project_key": project, "units": 0, "calls": 0, "uploads": 0})
            if key.endswith(UPLOAD_SUFFIX):
                entry["uploads"] += int(units)
            else:
                entry["units"] += int(units)
                entry["calls"] += int(calls)
        return {
            "period": window.to_dict(),
            "totals": {**totals.to_dict(), "avg_job_duration_seconds": duration},
            "monthly": [{"month": month, "jobs": t.total, "succeeded": t.succeeded, "failed": t.failed,
                         "success_rate": t.success_rate} for month, t in months.items()],
            "bytes_processed": {"bytes_in": bytes_in, "bytes_out": bytes_out},
            "quota_today": {"day": quota_day.isoformat(), "projects": [quota[k] for k in sorted(quota)]},
        }

    # ---- chart data --------------------------------------------------------------------

    async def daily_series(self, period: Period, connection_id: int | None = None
                           ) -> list[tuple[date, int, int, int]]:
        """(day, succeeded, failed, retrying) for every local day of the period, oldest first."""
        daily = DailyTallies(self.window(period))
        rows = await self._jobs(daily.window, connection_id).values_list("created_at", "status")
        for created, status in rows:
            daily.add(created, status)
        return [(day, t.succeeded, t.failed, t.retrying) for day, t in daily.days.items()]

    async def failure_counts(self, period: Period, connection_id: int | None = None) -> dict[str, int]:
        """Failed jobs per error code (``unknown`` when none was recorded), most frequent first."""
        counts: Counter[str] = Counter()
        for code, count in await self._jobs(self.window(period), connection_id).filter(
                status=JobStatus.FAILED).annotate(n=Count("id")).group_by("error_code").values_list(
                "error_code", "n"):
            counts[code or "unknown"] += int(count)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    async def top_connections(self, period: Period, limit: int = 10) -> list[tuple[str, int, float]]:
        """(name, forwarded, success rate) of the connections that forwarded most in the period."""
        per: dict[int, tuple[str, Tally]] = {}
        for connection_id, name, status, count in await self._jobs(self.window(period)).filter(
                status__in=FINISHED).annotate(n=Count("id")).group_by(
                "connection_id", "connection__name", "status").values_list(
                "connection_id", "connection__name", "status", "n"):
            per.setdefault(connection_id, (name, Tally()))[1].add(status, int(count))
        ranked = sorted(per.values(), key=lambda nt: (-nt[1].succeeded, -(nt[1].success_rate or 0), nt[0]))
        return [(name, t.succeeded, t.success_rate or 0.0) for name, t in ranked[:limit]]

    async def uptime_days(self, period: Period, connection_id: int | None = None) -> dict[date, float | None]:
        """Each local day's success rate (None when no job finished that day)."""
        return {day: rate(s, s + f) for day, s, f, _r in await self.daily_series(period, connection_id)}

    # ---- export ------------------------------------------------------------------------

    async def export_csv(self, kind: str, period: Period, connection_id: int | None = None) -> str:
        """``POST /api/analytics/export``: ``jobs`` (one row per job) or ``daily`` (per day and connection).

        Text cells that a spreadsheet would run as a formula are prefixed with a single quote.
        """
        if kind not in ("jobs", "daily"):
            raise InvalidInput({"kind": f"'{kind}' is not an export; choose jobs or daily"})
        window = self.window(period)
        if kind == "jobs":
            ordered = self._jobs(window, connection_id).order_by("created_at", "id")
            return jobs_csv(await ordered.values_list(*JOB_FIELDS), self.tz)
        names: dict[int, str] = {}
        if connection_id is not None:
            found = await Connection.filter(id=connection_id).values_list("name", flat=True)
            if not found:
                raise NotFound(f"Connection {connection_id} does not exist")
            names[connection_id] = str(found[0])
        per: dict[int, DailyTallies] = {}
        for cid, name, created, status in await self._jobs(window, connection_id).values_list(
                "connection_id", "connection__name", "created_at", "status"):
            names[cid] = name
            per.setdefault(cid, DailyTallies(window)).add(created, status)
        return daily_csv(window, names, per)


def _months(window: Window) -> list[tuple[str, datetime, datetime]]:
    """The window cut at local month starts: (YYYY-MM, UTC start, UTC end), in order."""
    firsts = [day for i, day in enumerate(window.days) if i == 0 or day.day == 1]
    bounds = [window.start, *(local_midnight(day, window.tz) for day in firsts[1:]), window.end]
    return [(day.strftime("%Y-%m"), bounds[i], bounds[i + 1]) for i, day in enumerate(firsts)]


def _avg_seconds(start: str, end: str, *, at_least_zero: bool = False) -> RawSQL:
    """AVG(end - start) in seconds over Job rows (each difference floored at 0 if asked),
    as this database spells it: timestamps are ISO text in SQLite, timestamptz in PostgreSQL."""
    if connections.get("default").capabilities.dialect == "sqlite":
        seconds = f'(julianday("{end}") - julianday("{start}")) * 86400.0'
        return RawSQL(f"AVG(MAX({seconds}, 0))" if at_least_zero else f"AVG({seconds})")
    seconds = f'EXTRACT(EPOCH FROM ("{end}" - "{start}"))'
    return RawSQL(f"AVG(GREATEST({seconds}, 0))" if at_least_zero else f"AVG({seconds})")


def _breakdown(counts: Counter[str]) -> list[dict[str, Any]]:
    """Failure reasons, most frequent first, with their share of all failures."""
    whole = sum(counts.values())
    return [{"reason": reason, "count": count, "percent": rate(count, whole)}
            for reason, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
