"""``GET /metrics`` in the Prometheus text format (written by hand: no new dependency).

Access: served without credentials only to a scraper on this machine (the peer is
127.0.0.1 or ::1 **and** the request carries no X-Forwarded-For / Forwarded / X-Real-IP
header, so a reverse proxy on the same host does not make it public by accident). Any
other client needs ``Authorization: Bearer <metrics token>`` when the app was created with
one; without a token configured, remote requests get a 403.

Series (gauges, read at scrape time):

* ``forwarder_jobs{status}``, ``forwarder_jobs_dead_letter``: job rows (dry runs excluded)
* ``forwarder_queue_depth``: entries in ARQ's ``arq:queue`` sorted set
* ``forwarder_step_duration_seconds_avg{step}`` (+ ``_samples``): per pipeline step, over
  jobs that succeeded in the last 24 h
* ``forwarder_youtube_quota_units_used{project}``, ``..._calls``, ``forwarder_youtube_uploads_used``
  and the configured ``..._limit``s: the current Pacific quota day
* ``forwarder_proxies{health}``, ``forwarder_connections{status}``, ``forwarder_workers_live``,
  ``forwarder_redis_up``
"""

from __future__ import annotations

import hmac
import ipaddress
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError
from tortoise.functions import Count

from core.bootstrap import Runtime
from core.models import Connection, ConnectionStatus, Job, JobStatus, ProxyHealth
from core.services.analytics import Period
from webapp.context import OPTIONS, runtime
from webapp.errors import ApiError
from webapp.routes import RouteTable, s

ARQ_QUEUE = "arq:queue"
STEP_WINDOW = timedelta(hours=24)
STEP_SAMPLE_LIMIT = 5000
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

routes = RouteTable(tag="system")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Exposition:
    """Builds the text format: one HELP/TYPE header per metric, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def gauge(self, name: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            whole = not isinstance(value, float) or value.is_integer()
            number = str(int(value)) if whole else repr(float(value))
            self.lines.append(f"{name}{{{label_text}}} {number}" if labels else f"{name} {number}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def allowed(request: web.Request, token: str | None) -> bool:
    """Loopback without forwarding headers, or the right bearer token."""
    header = request.headers.get("Authorization", "")
    given = header[7:].strip().encode("utf-8", "surrogateescape")  # compare_digest refuses non-ASCII str
    if token and header.startswith("Bearer ") and hmac.compare_digest(given, token.encode()):
        return True
    try:
        loopback = ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        loopback = False
    return loopback and not any(h in request.headers for h in FORWARDING_HEADERS)


async def collect(rt: Runtime) -> str:
    """Every series, read now."""
    services, out = rt.services, Exposition()
    counts: dict[str, int] = {s.value: 0 for s in JobStatus}
    for status, n in await Job.filter(dry_run=False).annotate(n=Count("id")).group_by("status").values_list(
            "status", "n"):
        counts[JobStatus(status).value] = int(n)
    out.gauge("forwarder_jobs", "Jobs by status (dry runs excluded).",
              [({"status": k}, v) for k, v in counts.items()])
    out.gauge("forwarder_jobs_dead_letter", "Jobs in the dead-letter queue.",
              [({}, await Job.filter(dead_letter=True).count())])

    redis_up, depth, workers = 1, 0, 0
    try:
        depth = int(await rt.redis.zcard(ARQ_QUEUE))
        workers = await services.health.live_workers()
    except (RedisError, OSError):
        redis_up = 0
    out.gauge("forwarder_redis_up", "1 when Redis answered this scrape.", [({}, redis_up)])
    out.gauge("forwarder_queue_depth", f"Entries waiting in the ARQ queue ({ARQ_QUEUE}).", [({}, depth)])
    out.gauge("forwarder_workers_live", "Workers that sent a heartbeat recently.", [({}, workers)])

    since = datetime.now(UTC) - STEP_WINDOW
    sums: dict[str, float] = defaultdict(float)
    samples: dict[str, int] = defaultdict(int)
    recent = Job.filter(dry_run=False, status=JobStatus.SUCCESS, finished_at__gte=since)
    for (durations,) in await recent.order_by("-id").limit(STEP_SAMPLE_LIMIT).values_list("step_durations"):
        for step, seconds in (durations or {}).items():
            if isinstance(seconds, int | float):
                sums[step] += float(seconds)
                samples[step] += 1
    out.gauge("forwarder_step_duration_seconds_avg",
              "Average seconds per pipeline step, jobs that succeeded in the last 24 h.",
              [({"step": k}, round(sums[k] / samples[k], 3)) for k in sorted(sums)])
    out.gauge("forwarder_step_duration_samples", "Jobs behind each step average.",
              [({"step": k}, samples[k]) for k in sorted(samples)])

    quota = (await services.analytics.system_summary(Period.last(1)))["quota_today"]
    projects: list[dict[str, Any]] = quota["projects"]
    youtube = [p for p in projects if p["platform"] == "youtube"]
    out.gauge("forwarder_youtube_quota_units_used",
              f"YouTube Data API units spent on quota day {quota['day']} (Pacific).",
              [({"project": p["project_key"]}, p["units"]) for p in youtube])
    out.gauge("forwarder_youtube_quota_calls", "YouTube Data API calls on the quota day.",
              [({"project": p["project_key"]}, p["calls"]) for p in youtube])
    out.gauge("forwarder_youtube_uploads_used", "videos.insert calls on the quota day.",
              [({"project": p["project_key"]}, p["uploads"]) for p in youtube])
    out.gauge("forwarder_youtube_quota_units_limit", "Configured daily units per project.",
              [({}, services.platforms.youtube_daily_units)])
    out.gauge("forwarder_youtube_uploads_limit", "Configured daily uploads per project.",
              [({}, services.platforms.youtube_daily_uploads)])

    health: dict[str, int] = {h.value: 0 for h in ProxyHealth}
    for proxy in await services.proxies.list():
        health[proxy.health.value] += 1
    out.gauge("forwarder_proxies", "Proxies by health.", [({"health": k}, v) for k, v in health.items()])
    states: dict[str, int] = {c.value: 0 for c in ConnectionStatus}
    for status, n in await Connection.all().annotate(n=Count("id")).group_by("status").values_list(
            "status", "n"):
        states[ConnectionStatus(status).value] = int(n)
    out.gauge("forwarder_connections", "Connections by status.",
              [({"status": k}, v) for k, v in states.items()])
    return out.text()


@routes.get("/metrics", "Prometheus metrics (loopback, or a bearer token)", auth=False,
            content_type="text/plain", response=s("Prometheus text exposition format 0.0.4"), errors=(403,))
async def metrics(request: web.Request) -> web.Response:
    if not allowed(request, request.app[OPTIONS].metrics_token):
        raise ApiError(403, "forbidden",
                       "Metrics are served to this machine only (or with the metrics token)")
    body = await collect(runtime(request))
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
