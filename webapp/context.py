"""What handlers reach through the app: the runtime and the web options."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from core.bootstrap import Runtime, Services


@dataclass(frozen=True)
class WebOptions:
    """Options of one web app (not environment settings: ``create_app`` takes them)."""

    session_timeout: float = 3600.0
    metrics_token: str | None = None


RUNTIME = web.AppKey("runtime", Runtime)
OPTIONS = web.AppKey("options", WebOptions)


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def services(request: web.Request) -> Services:
    return request.app[RUNTIME].services
