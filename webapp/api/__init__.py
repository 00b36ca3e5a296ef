"""The JSON API for the Mini App, one module per area; ``ROUTES`` is every route they declare."""

from __future__ import annotations

from webapp.api import accounts, analytics, connections, jobs, proxies, system
from webapp.routes import Route

ROUTES: list[Route] = [
    *system.routes.routes,
    *connections.routes.routes,
    *accounts.routes.routes,
    *proxies.routes.routes,
    *jobs.routes.routes,
    *analytics.routes.routes,
]
