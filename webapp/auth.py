"""Mini App authentication: ``Authorization: tma <initData>``.

aiogram checks the HMAC Telegram put on the init data (secret = HMAC_SHA256("WebAppData",
bot token)); it does not check ``auth_date``, so a captured initData would work forever:
this module refuses it once it is older than the session timeout. Then only user ids in
``ADMIN_IDS`` pass. Missing, forged or expired data is a 401; a genuine non-admin a 403
(and a log line, without the init data itself).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from webapp.context import OPTIONS, runtime
from webapp.errors import ApiError
from webapp.routes import spec_of

log = logging.getLogger("webapp.auth")

DEFAULT_SESSION_TIMEOUT = 3600.0
CLOCK_SKEW = timedelta(seconds=60)  # a client clock slightly ahead is not a forgery
SCHEME = "tma"
AIOGRAM_WEB_APP = "aiogram.utils.web_app"  # imported on first use: aiogram costs seconds to import
ADMIN = web.RequestKey("admin", object)


@dataclass(frozen=True)
class AdminSession:
    """The administrator behind a request, and until when their initData is accepted."""

    user_id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    auth_date: datetime
    expires_at: datetime

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "user": {"id": self.user_id, "first_name": self.first_name, "last_name": self.last_name,
                     "username": self.username, "language_code": self.language_code},
            "auth_date": self.auth_date.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "expires_in": max(0, int((self.expires_at - now).total_seconds())),
        }


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message,
                    hint="Open the Mini App again from the bot's menu button.")


def authenticate(header: str | None, *, bot_token: str | None, admin_ids: list[int],
                 session_timeout: float, now: datetime) -> AdminSession:
    """The admin session of an ``Authorization`` header, or ApiError 401/403."""
    if not header:
        raise unauthorized("Authorization is missing: send 'Authorization: tma <initData>'")
    scheme, _, init_data = header.strip().partition(" ")
    if scheme.lower() != SCHEME or not init_data.strip():
        raise unauthorized("Authorization must be 'tma <initData>'")
    if not bot_token:
        raise unauthorized("The server has no TELEGRAM_BOT_TOKEN, so it cannot check Mini App data")
    web_app = importlib.import_module(AIOGRAM_WEB_APP)
    try:
        data = web_app.safe_parse_webapp_init_data(bot_token, init_data.strip())
    except (ValueError, TypeError):  # a bad signature, or a payload that does not parse
        raise unauthorized("The Mini App data is not signed by this bot") from None
    auth_date = data.auth_date if data.auth_date.tzinfo else data.auth_date.replace(tzinfo=UTC)
    expires_at = auth_date + timedelta(seconds=session_timeout)
    if now >= expires_at:
        raise unauthorized("Session expired. Please reopen the Mini App.")
    if auth_date > now + CLOCK_SKEW:
        raise unauthorized("The Mini App data is dated in the future")
    if data.user is None:
        raise unauthorized("The Mini App data carries no user")
    if data.user.id not in admin_ids:
        log.warning("Mini App request from non-admin Telegram user %s refused", data.user.id)
        raise ApiError(403, "forbidden", "This Telegram account is not an administrator of this forwarder",
                       hint="Ask the owner to add your user id to ADMIN_IDS.")
    return AdminSession(user_id=data.user.id, first_name=data.user.first_name or "",
                        last_name=data.user.last_name, username=data.user.username,
                        language_code=data.user.language_code, auth_date=auth_date, expires_at=expires_at)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require an admin on every /api/ route except those declared public."""
    spec = spec_of(request)
    needs_auth = spec.auth if spec is not None else request.path.startswith("/api/")
    if needs_auth:
        settings = runtime(request).settings
        token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else None
        request[ADMIN] = authenticate(request.headers.get("Authorization"), bot_token=token,
                                      admin_ids=settings.admin_ids,
                                      session_timeout=request.app[OPTIONS].session_timeout,
                                      now=datetime.now(UTC))
    return await handler(request)


def admin(request: web.Request) -> AdminSession:
    """The authenticated admin of a request (the middleware ran)."""
    session = request[ADMIN]
    assert isinstance(session, AdminSession)
    return session


async def preload_aiogram(app: web.Application) -> AsyncIterator[None]:
    """Import aiogram's init data checker in a thread at start-up, so no request waits for it.

    (The worker imports this package too, through the process module, and never pays for it.)
    """
    loading = asyncio.create_task(asyncio.to_thread(importlib.import_module, AIOGRAM_WEB_APP))
    yield
    await loading
