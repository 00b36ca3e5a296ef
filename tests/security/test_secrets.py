"""Known secrets run through the real flows, with every logger at DEBUG, then looked for in the
log output and in the bytes of the database: none may appear.

The secrets: the bot token, a proxy password, an Instagram password (and the session id
Instagram answers with), a Graph API token and app secret, a Google client secret, and the
OAuth access and refresh tokens Google issues. The flows: the admin adds a proxy (tested
through a real proxy, with a wrong and a right password), an Instagram account (a wrong
password first), a Graph account and a YouTube account from the chat, then the YouTube token
is refreshed, and refreshed again after Google revoked it.

Logging is the product's own set-up (``forwarder.logs.setup_logging``, as ``LOG_LEVEL=DEBUG``
gives) with every logger, those it quiets too, opened to DEBUG.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from tortoise import Tortoise, connections

from bot.callbacks import AccAction, AccCB, ProxyAction, ProxyCB
from core.bootstrap import Runtime
from core.models import Account, AccountStatus, Proxy
from forwarder.logs import setup_logging
from tests.badinput.support import say, tap, upload
from tests.bot.conftest import BotHarness
from tests.fakes.google_oauth import FakeGoogleOAuth
from tests.fakes.instagram_graph import FakeInstagramGraph
from tests.fakes.instagram_private import FakeInstagramPrivate
from tests.fakes.proxies import PASSWORD, USERNAME, ProxyServers, TargetServer
from tests.fakes.wiring import wire
from tests.fakes.youtube import FakeYouTube
from tests.webapp.conftest import BOT_TOKEN


def _secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The product's log set-up at DEBUG, every logger opened, written to a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    loggers = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    levels = {lg: lg.level for lg in loggers}
    setup_logging("DEBUG", [BOT_TOKEN])
    buffer = io.StringIO()
    assert isinstance(root.handlers[0], logging.StreamHandler)
    root.handlers[0].setStream(buffer)
    for lg in loggers:
        lg.setLevel(logging.NOTSET)  # inherit DEBUG, the quieted ones too
    for name in ("aiogram.event", "arq.worker", "aiohttp.access", "tortoise"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for lg in [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]:
        lg.setLevel(levels.get(lg, logging.NOTSET))


@pytest.fixture
async def world(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    client_secret = _secret("GOCSPX-")
    ig = FakeInstagramPrivate(password=_secret("ig-pass-"))
    graph = FakeInstagramGraph(app_secret=_secret("app-secret-"))
    google, yt = FakeGoogleOAuth(client_secret=client_secret), FakeYouTube()
    target = await TargetServer().start()
    proxies = ProxyServers(modes=("http_auth",)).start()
    for fake in (ig, graph, google, yt):
        await fake.start()
    yt.trust(google)
    services = runtime.services
    wire(runtime, ig=ig, graph=graph, google=google, yt=yt)
    services.proxies.check_urls = [target.url()]
    yield {"ig": ig, "graph": graph, "google": google, "yt": yt, "proxies": proxies,
           "client_secret": client_secret}
    for fake in (ig, graph, google, yt):
        await fake.stop()
    await target.close()
    proxies.close()


async def _add_account(h: BotHarness, kind: AccAction, answers: list[tuple[str, str]]) -> None:
    listing = await say(h, "/accounts", "Accounts")
    await tap(h, listing, AccCB(action=AccAction.ADD).pack(), "Which kind of account?")
    await tap(h, listing, AccCB(action=kind).pack(), "A short name")
    for text, expect in answers:
        await say(h, text, expect)


async def _database_text() -> str:
    """Every value of every table as stored (encrypted columns as their ciphertext)."""
    conn = connections.get("default")
    out = []
    for model in Tortoise.apps["models"].values():
        rows = await conn.execute_query_dict(f'SELECT * FROM "{model._meta.db_table}"')
        out.append(json.dumps(rows, default=str, ensure_ascii=False))
    return "\n".join(out)


async def test_no_secret_reaches_the_logs_or_the_database(
        harness: BotHarness, runtime: Runtime, db: str, world: dict[str, Any], debug_log: io.StringIO
) -> None:
    h, ig, graph, google = harness, world["ig"], world["graph"], world["google"]
    proxy_password = _secret("proxy-pass-")
    port = world["proxies"].ports["http_auth"]
    # A proxy with a password the proxy refuses, then the right one.
    listing = await say(h, "/proxies", "Proxies")
    await tap(h, listing, ProxyCB(action=ProxyAction.ADD).pack(), "Send the proxy on one line")
    await say(h, f"p1 http://{USERNAME}:{quote(proxy_password, safe='')}@127.0.0.1:{port}",
              "the test failed")
    proxy = await Proxy.get(alias="p1")
    assert proxy.password == proxy_password
    await runtime.services.proxies.update(proxy.id, password=PASSWORD)
    assert (await runtime.services.proxies.health_check(proxy.id)).ok
    await runtime.services.proxies.update(proxy.id, password=proxy_password)
    # Instagram: a wrong password, then the right one.
    start = [("insta", "The Instagram username"), (ig.username, "The password")]
    await _add_account(h, AccAction.ADD_IG, [*start, ("wrong-" + ig.password, "Instagram refused")])
    await _add_account(h, AccAction.ADD_IG, [*start, (ig.password, "✅ Added")])
    # A Graph account with its token.
    await _add_account(h, AccAction.ADD_GRAPH, [])
    choice = await say(h, "biz", "Which of Meta's Instagram APIs")
    await tap(h, choice, AccCB(action=AccAction.GRAPH_FACEBOOK).pack(), "Paste the long-lived access token")
    for text, expect in ((graph.access_token, "The Instagram user id"), (graph.ig_user_id, "App ID"),
                         (graph.app_id, "App secret"), (graph.app_secret, "When does the token expire?"),
                         ("-", "✅ Added")):
        await say(h, text, expect)
    # YouTube: client_secret.json, consent, the redirected address pasted back, refreshes.
    await _add_account(h, AccAction.ADD_YT, [("tube", "client_secret.json")])
    secret_json = json.dumps({"installed": {"client_id": google.client_id,
                                            "client_secret": world["client_secret"],
                                            "redirect_uris": ["http://localhost"]}}).encode()
    consent = await upload(h, "client_secret.json", secret_json, "Authorize YouTube")
    url = consent["markup"]["inline_keyboard"][0][0]["url"]
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as resp:
        redirected = resp.headers["Location"]
    await say(h, redirected, "YouTube connected")
    tube = await Account.get(alias="tube")
    await runtime.services.accounts.refresh_token(tube.id)
    google.revoke((await Account.get(id=tube.id)).credentials["refresh_token"])
    with pytest.raises(Exception):  # noqa: B017 - the failure's kind is tested elsewhere; its trace matters here
        await runtime.services.accounts.refresh_token(tube.id)
    assert (await Account.get(id=tube.id)).status is AccountStatus.REQUIRES_REAUTH

    known = {"bot token": BOT_TOKEN, "proxy password": proxy_password, "fake proxy password": PASSWORD,
             "instagram password": ig.password, "graph token": graph.access_token,
             "graph app secret": graph.app_secret, "google client secret": world["client_secret"],
             **{f"instagram session {i}": s for i, s in enumerate(ig.sessions)},
             **{f"access token {i}": t for i, t in enumerate(google.access_tokens)},
             **{f"refresh token {i}": t for i, t in enumerate(google.refresh_tokens)}}
    assert len(google.refresh_tokens) >= 1 and len(google.access_tokens) >= 2 and ig.sessions
    logs = debug_log.getvalue()
    assert len(logs.splitlines()) > 100  # DEBUG really was on: the flows logged plenty
    leaked = {name for name, value in known.items() if value in logs or quote(value, safe="") in logs}
    assert not leaked, [line for line in logs.splitlines() if any(known[n] in line for n in leaked)][:5]

    stored = await _database_text()
    assert "gAAAA" in stored  # the credentials are there, encrypted
    assert not {name for name, value in known.items() if value in stored}
    if db.startswith("sqlite://"):
        await connections.get("default").execute_script("PRAGMA wal_checkpoint(FULL);")
        path = Path(db.removeprefix("sqlite://"))
        raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        assert not {name for name, value in known.items() if value.encode() in raw}
