"""/api/analytics and /api/dashboard (specification §4.8, §6.7), with PNG charts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any

from aiohttp import web

from core.errors import InvalidInput, NotFound
from core.services.analytics import Period
from webapp.context import services
from webapp.parse import Fields, Query, json_body, path_id
from webapp.routes import PERIOD, Param, RouteTable, i, obj, s

try:  # charts/ is optional for the API: without it the chart routes answer 404
    import charts as _charts

    CHARTS: ModuleType | None = _charts
except ImportError:  # pragma: no cover - depends on the build
    CHARTS = None

routes = RouteTable(tag="analytics")

CHART_NAMES = ("success_trend", "job_volume", "failure_breakdown", "top_connections", "uptime_calendar")
THEMES = ("light", "dark")


@routes.get("/api/dashboard/summary", "Dashboard: connections, last 24 h, workers, queue, recent activity",
            tag="system", response=obj(description="specification §4.8.1"))
async def dashboard(request: web.Request) -> web.Response:
    return web.json_response(await services(request).analytics.dashboard_summary())


@routes.get("/api/analytics/summary", "System summary: totals, months, bytes, quota used today",
            query=(PERIOD,), response=obj(description="specification §4.8.4"))
async def summary(request: web.Request) -> web.Response:
    q = Query(request)
    period = q.period()
    q.done()
    return web.json_response(await services(request).analytics.system_summary(period))


@routes.get(r"/api/analytics/connection/{id:\d+}/metrics", "Connection metrics", query=(PERIOD,),
            response=obj(description="specification §4.8.2"))
async def connection_metrics(request: web.Request) -> web.Response:
    q = Query(request)
    period = q.period()
    q.done()
    return web.json_response(await services(request).analytics.connection_metrics(path_id(request), period))


@routes.get(r"/api/analytics/account/{id:\d+}/metrics", "Account metrics", query=(PERIOD,),
            response=obj(description="specification §4.8.3"))
async def account_metrics(request: web.Request) -> web.Response:
    q = Query(request)
    period = q.period()
    q.done()
    return web.json_response(await services(request).analytics.account_metrics(path_id(request), period))


@routes.post("/api/analytics/export", "Export jobs (one row each) or daily totals as CSV",
             body=obj({"kind": s(enum=["jobs", "daily"], default="jobs"),
                       "period": s("as ?period=", default="30days"), "connection_id": i()}),
             content_type="text/csv", response=s("CSV, as an attachment"))
async def export(request: web.Request) -> web.Response:
    f = Fields(await json_body(request, optional=True))
    f.only(("kind", "period", "connection_id"))
    kind = f.text("kind", default="jobs") or "jobs"
    period_text = f.text("period", default="30days") or "30days"
    connection_id = f.number("connection_id", nullable=True, minimum=1)
    period: Period | None = None
    try:
        period = Period.parse(period_text)
    except InvalidInput as exc:
        f.errors.update(exc.fields)
    f.done()
    assert period is not None
    analytics = services(request).analytics
    text = await analytics.export_csv(kind, period, connection_id)
    window = analytics.window(period).to_dict()
    name = f"forwarder-{kind}-{window['start']}-{window['end']}.csv"
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _chart(request: web.Request, name: str, period: Period, connection_id: int | None,
                 theme: str) -> bytes:
    """Fetch the chart's data from AnalyticsService and render it off the event loop."""
    assert CHARTS is not None
    analytics = services(request).analytics
    window = analytics.window(period)
    span = {"start": window.days[0], "end": window.days[-1]}
    render: Callable[[], Any]
    if name in ("success_trend", "job_volume"):
        points = [CHARTS.DailyPoint(day, ok, failed, retrying)
                  for day, ok, failed, retrying in await analytics.daily_series(period, connection_id)]
        fn = CHARTS.render_success_trend if name == "success_trend" else CHARTS.render_job_volume
        render = partial(fn, points, theme=theme, **span)
    elif name == "failure_breakdown":
        counts = await analytics.failure_counts(period, connection_id)
        render = partial(CHARTS.render_failure_breakdown, counts, theme=theme)
    elif name == "top_connections":
        render = partial(CHARTS.render_top_connections, await analytics.top_connections(period), theme=theme)
    else:
        render = partial(CHARTS.render_uptime_calendar, await analytics.uptime_days(period, connection_id),
                         theme=theme, **span)
    return bytes(await asyncio.to_thread(render))


@routes.get("/api/analytics/charts/{name}.png", "A chart as PNG: " + ", ".join(CHART_NAMES),
            content_type="image/png", response=s("PNG image", format="binary"), query=(
                PERIOD,
                Param("connection_id", i("one connection (not for top_connections)")),
                Param("theme", s(enum=list(THEMES), default="light")),
            ))
async def chart(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if CHARTS is None:
        raise NotFound("Charts are not available in this build (the charts package is missing)")
    if name not in CHART_NAMES:
        raise NotFound(f"There is no chart '{name}'; choose one of {', '.join(CHART_NAMES)}")
    q = Query(request)
    period = q.period()
    connection_id = q.number("connection_id", minimum=1)
    theme = q.text("theme", "light") or "light"
    if theme not in THEMES:
        q.errors["theme"] = "choose light or dark"
    q.done()
    if connection_id is not None:
        await services(request).connections.get(connection_id)  # 404 for an unknown connection
    png = await _chart(request, name, period, connection_id, theme)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=60"})

