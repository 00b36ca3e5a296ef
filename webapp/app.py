"""The aiohttp application factory."""

from __future__ import annotations

from aiohttp import web

from core.bootstrap import Runtime

RUNTIME = web.AppKey("runtime", Runtime)


async def health(request: web.Request) -> web.Response:
    """GET /api/health: 200 when database, Redis and a worker are alive, else 503."""
    report = await request.app[RUNTIME].services.health.check()
    return web.json_response(report.to_dict(), status=200 if report.healthy else 503)


async def index(request: web.Request) -> web.Response:
    """A plain landing line for humans who open the base URL."""
    return web.Response(text="Reels ⇄ Shorts forwarder is running. Health: /api/health\n")


def create_app(runtime: Runtime) -> web.Application:
    """The web app over the runtime's services."""
    app = web.Application()
    app[RUNTIME] = runtime
    app.router.add_get("/", index)
    app.router.add_get("/api/health", health)
    return app
