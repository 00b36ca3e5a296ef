"""/api/connections: CRUD and the lifecycle actions (specification §4.3, §6.3)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from core.errors import ForwarderError
from core.models import ConnectionStatus
from webapp import render
from webapp.context import runtime, services
from webapp.errors import describe
from webapp.media import MEDIA, PREVIEW_TTL, new_preview_dir
from webapp.parse import Fields, Query, json_body, path_id
from webapp.routes import PAGE, Param, RouteTable, arr, i, nullable, obj, ref, s

routes = RouteTable(tag="connections")

ID = r"/api/connections/{id:\d+}"
RULES = ("filters", "schedule", "transform_options", "retry_policy", "metadata_templates", "proxy_policy")
FIELDS = ("name", "type", "direction", "source_account_id", "destination_account_id", "proxy_id", *RULES)
BODY = obj({
    "name": s("1-100 characters, unique"),
    "type": s("direction", enum=["instagram_to_youtube", "youtube_to_instagram"]),
    "source_account_id": i(), "destination_account_id": i(),
    "proxy_id": nullable(i("a proxy of its own, or null")),
    "filters": obj(description="mode, caption_keywords, include_old_posts, date_range, ..."),
    "schedule": obj(description="type (continuous/windows), check_interval_minutes, windows"),
    "transform_options": obj(description="upscale, greenscreen, quality, ..."),
    "retry_policy": obj(description="max_attempts, backoff, retry_on_errors, ..."),
    "metadata_templates": obj(description="title/description/caption templates"),
    "proxy_policy": obj(description="mode, pool, fallback_to_direct, max_retry_per_proxy"),
    "status": s("active starts it at once", enum=["active", "stopped"]),
})
RESULT = obj({"status": s(), "connection": ref("Connection")})
CREATED = obj({"status": s(), "connection": ref("Connection"),
               "start_refused": obj({"code": s(), "message": s(), "hint": s()},
                                    description="status active was asked but the start was refused: "
                                                "the connection is saved, stopped")})
ACTION = obj({"status": s(), "message": s(), "connection_id": i(), "new_status": s(), "next_check": s()})


def _check(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Types of the top-level fields; the service checks their values."""
    f = Fields(data)
    f.only((*FIELDS, "status") if creating else FIELDS)
    f.text("name", max_length=100)
    f.text("type")
    f.text("direction")
    f.number("source_account_id")
    f.number("destination_account_id")
    f.number("proxy_id", nullable=True)
    for rule in RULES:
        f.mapping(rule)
    if creating:
        status = f.text("status")
        if status is not None and status not in (ConnectionStatus.ACTIVE, ConnectionStatus.STOPPED):
            f.errors["status"] = "choose active (start at once) or stopped"
    f.done()
    return data


@routes.get("/api/connections", "List connections",
            query=(*PAGE, Param("status", s("comma-separated: active, paused, stopped"))),
            response=obj({"total": i(), "limit": i(), "offset": i(), "connections": arr(ref("Connection"))}))
async def list_connections(request: web.Request) -> web.Response:
    q = Query(request)
    limit, offset = q.page()
    status = q.choices("status", ConnectionStatus)
    q.done()
    rows = await services(request).connections.list()
    if status:
        rows = [c for c in rows if c.status in status]
    items = [render.connection(c) for c in rows[offset:offset + limit]]
    return web.json_response(render.page(len(rows), limit, offset, "connections", items))


@routes.post("/api/connections", "Create a connection (status: active also starts it)", body=BODY,
             status=201, response=CREATED)
async def create_connection(request: web.Request) -> web.Response:
    data = _check(await json_body(request), creating=True)
    activate = data.pop("status", None) == ConnectionStatus.ACTIVE
    svc = services(request).connections
    connection = await svc.create(data)
    body: dict[str, Any] = {"status": "success"}
    if activate:
        # Started here rather than by create(status=active), so a refused start still reports
        # the connection it saved (stopped) next to the reason it could not start.
        try:
            await svc.start(connection.id)
            connection = await svc.get(connection.id)
        except ForwarderError as exc:
            body["start_refused"] = describe(exc)[1]
    body["connection"] = render.connection(connection)
    return web.json_response(body, status=201)


@routes.get(ID, "A connection", response=RESULT)
async def get_connection(request: web.Request) -> web.Response:
    connection = await services(request).connections.get(path_id(request))
    return web.json_response({"status": "success", "connection": render.connection(connection)})


@routes.put(ID, "Change some fields of a connection", body=BODY, response=RESULT)
async def update_connection(request: web.Request) -> web.Response:
    data = _check(await json_body(request), creating=False)
    connection = await services(request).connections.update(path_id(request), data)
    return web.json_response({"status": "success", "connection": render.connection(connection)})


@routes.delete(ID, "Delete a connection with no job running", response=obj({"status": s(), "deleted": i()}))
async def delete_connection(request: web.Request) -> web.Response:
    connection_id = path_id(request)
    await services(request).connections.delete(connection_id)
    return web.json_response({"status": "success", "deleted": connection_id})


@routes.post(ID + "/start", "Start: refused with the reason when an account is not usable", response=ACTION)
async def start(request: web.Request) -> web.Response:
    return web.json_response(await services(request).connections.start(path_id(request)))


@routes.post(ID + "/stop", "Stop polling; running jobs complete", response=ACTION)
async def stop(request: web.Request) -> web.Response:
    return web.json_response(await services(request).connections.stop(path_id(request)))


@routes.post(ID + "/pause", "Pause (an optional reason)", body=obj({"reason": s()}), response=ACTION)
async def pause(request: web.Request) -> web.Response:
    f = Fields(await json_body(request, optional=True))
    f.only(("reason",))
    reason = f.text("reason", max_length=500)
    f.done()
    return web.json_response(await services(request).connections.pause(path_id(request), reason))


@routes.post(ID + "/resume", "Resume a paused connection", response=ACTION)
async def resume(request: web.Request) -> web.Response:
    return web.json_response(await services(request).connections.resume(path_id(request)))


@routes.post(ID + "/run", "Poll now and queue the new posts", response=obj({
    "status": s(), "message": s(), "filtered": i(),
    "jobs_created": arr(obj({"job_id": i(), "source_post_id": s(), "status": s()}))}))
async def run_now(request: web.Request) -> web.Response:
    return web.json_response(await services(request).connections.run_now(path_id(request)))


@routes.post(ID + "/dry-run", "Test the connection without publishing; previews as signed links",
             query=(Param("limit", i("posts to test", minimum=1, maximum=5, default=5)),),
             response=obj({"status": s(), "dry_run_results": obj(description="specification §4.3.4, "
                                                                   "previews are signed URLs")}))
async def dry_run(request: web.Request) -> web.Response:
    q = Query(request)
    limit = q.number("limit", 5, minimum=1, maximum=5) or 5
    q.done()
    connection_id = path_id(request)
    await services(request).connections.get(connection_id)  # 404 before any work
    folder: Path = await asyncio.to_thread(new_preview_dir, runtime(request).settings.data_dir.resolve(),
                                           f"dry-run-{connection_id}")
    report = await services(request).dry_run.run(connection_id, limit=limit, keep_dir=folder)
    results = report["dry_run_results"]
    signer = request.app[MEDIA]
    results["previews"] = [signer.sign(p, PREVIEW_TTL) for p in results.get("previews", [])]
    return web.json_response(report)

