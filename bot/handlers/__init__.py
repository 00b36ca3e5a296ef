"""Routers in the order the dispatcher tries them; the error router comes last.

Each module exposes ``create_router()``: aiogram attaches a router to one dispatcher only,
and tests (like a webhook and a polling deployment) build more than one.
"""

from __future__ import annotations

from aiogram import Router

from bot.handlers import (
    accounts,
    alert_actions,
    analytics,
    connections,
    errors,
    jobs,
    proxies,
    proxy_policy,
    settings,
    start,
    wizard,
)


def get_routers() -> list[Router]:
    """Fresh routers of every area, error router last (one set per dispatcher)."""
    return [start.create_router(), wizard.create_router(), proxy_policy.create_router(),
            connections.create_router(),
            jobs.create_router(), analytics.create_router(), proxies.create_router(),
            accounts.create_router(), alert_actions.create_router(), settings.create_router(),
            errors.create_router()]
