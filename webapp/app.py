"""The aiohttp application factory: the Mini App, JSON API, OAuth callback, signed media, metrics."""

from __future__ import annotations

from aiohttp import web

from core.bootstrap import Runtime
from webapp import media, metrics, miniapp, oauth, openapi
from webapp.api import ROUTES as API_ROUTES
from webapp.auth import DEFAULT_SESSION_TIMEOUT, auth_middleware, preload_aiogram
from webapp.context import OPTIONS, RUNTIME, WebOptions
from webapp.errors import error_middleware
from webapp.routes import Route, RouteTable, register, s

__all__ = ["RUNTIME", "create_app", "routes_of"]

pages = RouteTable(tag="system")


@pages.get("/", "A plain landing line", auth=False, content_type="text/plain", response=s())
async def index(request: web.Request) -> web.Response:
    """A plain landing line for humans who open the base URL."""
    return web.Response(text="Reels ⇄ Shorts forwarder is running. Mini App: /app  Health: /api/health\n")


def routes_of() -> list[Route]:
    """Every route the app serves, in registration order."""
    return [*pages.routes, *miniapp.routes.routes, *API_ROUTES, *openapi.routes.routes, *oauth.routes.routes,
            *media.routes.routes, *metrics.routes.routes]


def create_app(runtime: Runtime, *, session_timeout: float = DEFAULT_SESSION_TIMEOUT,
               metrics_token: str | None = None) -> web.Application:
    """The web app over the runtime's services.

    ``session_timeout``: seconds a Mini App's initData is accepted after Telegram signed it.
    ``metrics_token``: lets non-loopback scrapers read /metrics with ``Authorization: Bearer``.
    """
    app = web.Application(middlewares=[error_middleware, auth_middleware])
    app[RUNTIME] = runtime
    app[OPTIONS] = WebOptions(session_timeout=session_timeout, metrics_token=metrics_token)
    app[media.MEDIA] = media.signer_for(runtime)
    table = routes_of()
    app[openapi.ALL_ROUTES] = table
    register(app, table)
    app.cleanup_ctx.append(preload_aiogram)
    return app
