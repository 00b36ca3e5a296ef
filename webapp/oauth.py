"""``GET /oauth2callback``: where Google sends the admin after the consent screen.

The state is checked and spent by ``OAuthService.complete`` (signed, single use, expiring),
the tokens are stored, ``AccountService.finish_youtube`` finds the channel; the browser
gets a plain HTML page saying what happened and the admin's chat (the ``chat_id`` saved
with the state) gets the same news. A replayed, expired or forged state changes nothing;
a replay or a forgery is not reported to the chat (whoever sends it is not the admin).
"""

from __future__ import annotations

import html
import logging

from aiohttp import web

from core.errors import ForwarderError
from core.models import OAuthState
from core.platforms.telegram import TelegramSender
from core.platforms.youtube_oauth import ALREADY_USED
from webapp.context import runtime, services
from webapp.routes import Param, RouteTable, s

log = logging.getLogger("webapp.oauth")
routes = RouteTable(tag="oauth")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, sans-serif; max-width: 32rem; margin: 3rem auto;
       padding: 0 1rem; color: #1c1c1e; line-height: 1.5; }}
h1 {{ font-size: 1.4rem; }} .ok {{ color: #1b7f3b; }} .fail {{ color: #b3261e; }}
p.small {{ color: #666; font-size: .9rem; }}
</style></head>
<body><h1 class="{css}">{title}</h1>{body}
<p class="small">You can close this tab and return to Telegram.</p></body></html>
"""


def page(ok: bool, title: str, lines: list[str], status: int = 200) -> web.Response:
    """A small self-contained HTML page (every value escaped)."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    text = PAGE.format(title=html.escape(title), css="ok" if ok else "fail", body=body)
    return web.Response(text=text, content_type="text/html", status=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def _tell(request: web.Request, chat_id: int | None, text: str) -> None:
    """Message the admin's chat; a failure is logged, never shown to the browser."""
    settings = runtime(request).settings
    if chat_id is None or settings.telegram_bot_token is None:
        return
    sender = TelegramSender(settings.telegram_api_base, settings.telegram_bot_token.get_secret_value(),
                            timeout=10.0)
    try:
        await sender.send_message(chat_id, text)
    except ForwarderError as exc:
        log.warning("could not tell chat %s about the OAuth result: %s", chat_id, exc.message)


async def _waiting_state(request: web.Request, state: str) -> OAuthState | None:
    """The state row, if this is one we issued (looked up by its hash, as the service stores it)."""
    oauth = services(request).oauth
    # OAuthService keeps the hashing private; proposed: a public OAuthService.pending(state).
    return await oauth.pending(state)


@routes.get("/oauth2callback", "Google's redirect after consent: an HTML result page", auth=False,
            content_type="text/html", response=s("HTML page"), errors=(400, 503), query=(
                Param("state", s("the signed state from the consent URL")),
                Param("code", s("the authorization code")),
                Param("error", s("Google's error, e.g. access_denied")),
            ))
async def callback(request: web.Request) -> web.Response:
    state = request.query.get("state", "")
    code = request.query.get("code", "")
    error = request.query.get("error", "")
    row = await _waiting_state(request, state) if state else None
    first_use = row is not None and row.used_at is None
    chat = row.chat_id if first_use and row is not None else None
    alias = row.account.alias if row is not None else "YouTube"
    if error:
        description = request.query.get("error_description", "")
        reason = f"Google reported: {error}" + (f" ({description})" if description else "")
        await _tell(request, chat, f"❌ YouTube authorization for '{html.escape(alias)}' was not completed. "
                                   f"{html.escape(reason)}")
        return page(False, "Authorization not completed", [reason, "Press Authorize again in the bot or "
                                                                   "the Mini App to retry."], status=400)
    if not state or not code:
        return page(False, "Authorization failed", ["This address is missing its state or code. "
                                                    "Open the authorization link from the bot again."], 400)
    try:
        account = await services(request).oauth.complete(state, code)
    except ForwarderError as exc:
        # A replay that raced the first use (a double request) is no news either.
        told = None if exc.message == ALREADY_USED else chat
        await _tell(request, told, f"❌ YouTube authorization for '{html.escape(alias)}' failed: "
                                   f"{html.escape(exc.message)}")
        return page(False, "Authorization failed", [exc.message[:1].upper() + exc.message[1:]],
                    status=503 if exc.retriable else 400)
    try:
        done = await services(request).accounts.finish_youtube(account)
    except ForwarderError as exc:
        await _tell(request, chat, f"⚠️ YouTube account '{html.escape(account.alias)}' is authorized, but its "
                                   f"channel could not be read: {html.escape(exc.message)}")
        return page(False, "Authorized, channel not found",
                    [f"The tokens for {account.alias} are saved, but the channel could not be read: "
                     f"{exc.message}"], status=503 if exc.retriable else 400)
    account = done.account
    resumed = f" Resumed: {html.escape(', '.join(done.resumed))}." if done.resumed else ""
    title = str((account.profile or {}).get("channel_title") or account.username or account.external_id)
    expiry = account.token_expiry.isoformat(timespec="minutes") if account.token_expiry else "unknown"
    await _tell(request, chat, f"✅ YouTube account '{html.escape(account.alias)}' authorized: channel "
                               f"<b>{html.escape(title)}</b>. Token expires {expiry} "
                               f"(refreshed automatically).{resumed}")
    return page(True, "YouTube account authorized",
                [f"Channel: {title}", f"Account: {account.alias}",
                 "The forwarder can now upload to this channel."])
