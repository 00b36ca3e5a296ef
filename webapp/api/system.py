"""Health, session check, system settings, alert settings and notifications (§6.1, §6.8, §6.9)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from core.models import DeliveryStatus, Notification
from core.services.alerts import DEFAULT_ON, AlertConfig, AlertKind
from webapp import render
from webapp.auth import admin
from webapp.context import services
from webapp.parse import Fields, Query, json_body
from webapp.routes import PAGE, Param, RouteTable, arr, b, i, nullable, obj, ref, s

routes = RouteTable(tag="system")

KINDS = [k.value for k in AlertKind]
ALERTS = obj({"chat_id": nullable(s()), "enabled": arr(s(enum=KINDS)), "instance": s(), "timezone": s(),
              "available_kinds": arr(s())})


def _alerts(cfg: AlertConfig) -> dict[str, Any]:
    return {"chat_id": cfg.chat_id, "enabled": sorted(k.value for k in cfg.enabled), "instance": cfg.instance,
            "timezone": cfg.timezone, "available_kinds": KINDS}


@routes.get("/api/health", "Database, Redis and a worker alive: 200, else 503", auth=False,
            response=obj({"status": s(), "database": b(), "redis": b(), "workers": i(), "worker": b(),
                          "version": s()}), errors=(503,))
async def health(request: web.Request) -> web.Response:
    report = await services(request).health.check()
    return web.json_response(report.to_dict(), status=200 if report.healthy else 503)


@routes.get("/api/auth/check", "The admin behind the Mini App data and when the session expires",
            tag="auth", response=obj({"status": s(), "user": obj(), "auth_date": s(), "expires_at": s(),
                                      "expires_in": i()}))
async def auth_check(request: web.Request) -> web.Response:
    return web.json_response({"status": "success", **admin(request).to_dict(datetime.now(UTC))})


@routes.get("/api/settings", "Every settings section with defaults, and the alert settings",
            response=obj({"status": s(),
                          "settings": obj(description="general, retry, retention, quota, alerts")}))
async def get_settings(request: web.Request) -> web.Response:
    svc = services(request)
    values: dict[str, Any] = await svc.system.settings()
    values["alerts"] = _alerts(await svc.alerts.config())
    return web.json_response({"status": "success", "settings": values})


@routes.put("/api/settings", "Change sections: {section: {key: value}} (general, retry, retention, quota)",
            body=obj({"general": obj(), "retry": obj(), "retention": obj(), "quota": obj()}, extra=False),
            response=obj({"status": s(), "settings": obj()}))
async def put_settings(request: web.Request) -> web.Response:
    svc = services(request)
    data = await json_body(request)
    f = Fields(data)
    sections = list(await svc.system.settings())
    f.only(sections)
    changes = {name: f.mapping(name, nullable=False) for name in sections if f.has(name)}
    if not data:
        f.errors["body"] = f"send at least one section: {', '.join(sections)}"
    f.done()
    await svc.system.update_many({name: value or {} for name, value in changes.items()})
    values: dict[str, Any] = await svc.system.settings()
    values["alerts"] = _alerts(await svc.alerts.config())
    return web.json_response({"status": "success", "settings": values})


@routes.put("/api/settings/telegram", "Alert chat, enabled alert kinds, instance name", tag="notifications",
            body=obj({"chat_id": nullable(s("@channel or -100... id")), "channel_id": s("same as chat_id"),
                      "enabled": {"anyOf": [arr(s(enum=KINDS)), b("true: the default kinds, false: none")]},
                      "instance": s("1-40 characters")}),
            response=obj({"status": s(), "alerts": ALERTS}))
async def put_telegram(request: web.Request) -> web.Response:
    data = await json_body(request)
    f = Fields(data)
    f.only(("chat_id", "channel_id", "enabled", "instance", "bot_token"))
    changes: dict[str, Any] = {}
    if f.has("bot_token"):
        f.errors["bot_token"] = "the bot token is set with TELEGRAM_BOT_TOKEN, not here"
    for key in ("chat_id", "channel_id"):
        if f.has(key):
            value = data[key]
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                f.errors[key] = "an @channel name or a numeric chat id such as -1001234567890"
            else:
                changes["chat_id"] = value.strip() if isinstance(value, str) else None
    if f.has("enabled"):
        enabled = data["enabled"]
        if isinstance(enabled, bool):
            changes["enabled"] = sorted(DEFAULT_ON) if enabled else []
        elif isinstance(enabled, list) and all(isinstance(k, str) for k in enabled):
            unknown = [k for k in enabled if k not in KINDS]
            if unknown:
                f.errors["enabled"] = (f"unknown alert kind(s) {', '.join(unknown)}; "
                                       f"choose from {', '.join(KINDS)}")
            changes["enabled"] = enabled
        else:
            f.errors["enabled"] = "a list of alert kinds, or true/false"
    if f.has("instance"):
        instance = (f.text("instance") or "").strip()
        if not 1 <= len(instance) <= 40:
            f.errors["instance"] = "an instance name of 1 to 40 characters"
        changes["instance"] = instance
    f.done()
    cfg = await services(request).alerts.configure(**changes)
    return web.json_response({"status": "success", "alerts": _alerts(cfg)})


@routes.post("/api/settings/telegram/test", "Queue a test alert and deliver what is pending now",
             tag="notifications", response=obj({"status": s(), "sent": i(), "merged": i(), "failed": i(),
                                                 "waiting": i(), "errors": arr(s())}), errors=(503,))
async def test_telegram(request: web.Request) -> web.Response:
    report = await services(request).alerts.test()
    return web.json_response({"status": "success" if report.sent and not report.errors else "failed",
                              "sent": report.sent, "merged": report.merged, "failed": report.failed,
                              "waiting": report.waiting, "errors": report.errors})


@routes.get("/api/notifications", "Recent alerts with their delivery state, newest first",
            tag="notifications", query=(*PAGE, Param("status", s(enum=[d.value for d in DeliveryStatus])),
                                        Param("kind", s(enum=KINDS))),
            response=obj({"total": i(), "limit": i(), "offset": i(),
                          "notifications": arr(ref("Notification"))}))
async def notifications(request: web.Request) -> web.Response:
    q = Query(request)
    limit, offset = q.page()
    statuses = q.choices("status", DeliveryStatus)
    kinds = q.choices("kind", AlertKind)
    q.done()
    # No AlertService method lists the outbox yet (proposed as AlertService.recent).
    query = Notification.all()
    if statuses:
        query = query.filter(status__in=statuses)
    if kinds:
        query = query.filter(kind__in=[k.value for k in kinds])
    total = await query.count()
    rows = await query.order_by("-id").offset(offset).limit(limit)
    return web.json_response(render.page(total, limit, offset, "notifications",
                                         [render.notification(n) for n in rows]))
