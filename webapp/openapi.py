"""``GET /api/openapi.json``: an OpenAPI 3.1 document built from the route table."""

from __future__ import annotations

from typing import Any

from aiohttp import web

import core
from webapp.context import runtime
from webapp.routes import Route, RouteTable, Schema, b, i, nullable, obj, s

routes = RouteTable(tag="system")
ALL_ROUTES = web.AppKey("all_routes", list)

ERRORS = {400: "Bad request", 401: "Missing, forged or expired Mini App data", 403: "Not an administrator",
          404: "No such item or route", 409: "Refused in the current state", 413: "Body too large",
          422: "Invalid input: fields names each wrong field", 503: "A platform or dependency is unavailable"}
TS = nullable(s(format="date-time"))
SCHEMAS: dict[str, Schema] = {
    "Error": obj({"error": obj({"code": s(), "message": s(), "hint": s(),
                                "fields": obj(description="field -> what to type instead")},
                               required=("code", "message"))}, required=("error",)),
    "Connection": obj({"id": i(), "name": s(), "type": s(), "status": s(),
                       "source_account": obj({"id": i(), "alias": s()}),
                       "destination_account": obj({"id": i(), "alias": s()}),
                       "proxy": nullable(obj({"id": i(), "alias": s()})), "filters": obj(), "schedule": obj(),
                       "transform_options": obj(), "retry_policy": obj(), "metadata_templates": obj(),
                       "proxy_policy": obj(), "created_at": s(format="date-time"), "last_run": TS,
                       "next_check": TS, "total_forwarded": i(), "success_count": i(), "failure_count": i()}),
    "Account": obj({"id": i(), "type": s(), "alias": s(), "username": nullable(s()), "auth_method": s(),
                    "status": s(), "token_expiry": TS, "alert_before_days": i(),
                    "default_proxy_id": nullable(i()), "token_status": obj(), "created_at": s()}),
    "Proxy": obj({"id": i(), "alias": s(), "type": s(), "host": s(), "port": i(), "assignment": s(),
                  "enabled": b(), "health_status": s(), "last_health_check": TS,
                  "response_time_ms": nullable(i()), "has_credentials": b()}),
    "Job": obj({"job_id": i(), "connection_id": i(), "connection_name": s(), "source_post_id": s(),
                "status": s(), "current_step": s(), "progress_percent": {"type": "number"}, "message": s(),
                "attempts": i(), "error_code": nullable(s()), "error_message": nullable(s()),
                "dead_letter": b(), "created_at": s(), "finished_at": TS}),
    "Log": obj({"id": i(), "level": s(), "message": s(), "details": obj(), "job_id": nullable(i()),
                "connection_id": nullable(i()), "account_id": nullable(i()), "created_at": s()}),
    "Notification": obj({"id": i(), "kind": s(), "payload": obj(), "chat_id": nullable(s()), "status": s(),
                         "attempts": i(), "created_at": s(), "sent_at": TS}),
}


def _operation(route: Route, method: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{route.tag}_{route.handler.__name__}" + ("_head" if method == "HEAD" else ""),
        "summary": route.summary,
        "tags": [route.tag],
        "security": [{"tma": []}] if route.auth else [],
    }
    params = [{"name": name, "in": "path", "required": True,
               "schema": i(minimum=1) if name == "id" else s()} for name in route.path_params]
    params += [{"name": p.name, "in": "query", "required": p.required, "schema": p.schema,
                **({"description": p.description} if p.description else {})} for p in route.query]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": route.method != "POST" or bool(route.body.get("required")),
                             "content": {"application/json": {"schema": route.body}}}
    elif route.form is not None:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": route.form}}}
    ok: dict[str, Any] = {"description": "OK" if route.status == 200 else "Created"}
    if method != "HEAD":
        ok["content"] = {route.content_type: {"schema": route.response or obj()}}
    responses: dict[str, Any] = {str(route.status): ok}
    for code in route.error_statuses():
        error = {"$ref": "#/components/schemas/Error"}
        responses[str(code)] = {"description": ERRORS.get(code, "Error"),
                                "content": {"application/json": {"schema": error}}}
    op["responses"] = responses
    return op


def document(table: list[Route], server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``table``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in table:
        methods = [route.method] + (["HEAD"] if route.head else [])
        for method in methods:
            paths.setdefault(route.doc_path, {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Reels ⇄ Shorts forwarder API", "version": core.__version__,
                 "description": "The Mini App's JSON API. Authenticate with `Authorization: tma <initData>` "
                                "(Telegram Mini App init data, checked for its signature, age and an admin "
                                "user id). Errors always have the `Error` shape."},
        "servers": [{"url": server_url}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"tma": {"type": "apiKey", "in": "header", "name": "Authorization",
                                        "description": "tma <Telegram.WebApp.initData>"}},
            "schemas": SCHEMAS,
        },
    }


@routes.get("/api/openapi.json", "This OpenAPI document", response=obj(description="OpenAPI 3.1"))
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[ALL_ROUTES], runtime(request).settings.public_base_url))

