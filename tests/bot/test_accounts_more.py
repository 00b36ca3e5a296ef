"""The account dialog's other paths: a Graph API token with its expiry, and an Instagram session file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.callbacks import AccAction, AccCB
from core.bootstrap import Runtime
from core.models import Account, AuthMethod
from tests.bot.conftest import ADMIN, BotHarness
from tests.bot.test_areas import latest
from tests.fakes.instagram_graph import FakeInstagramGraph
from tests.fakes.instagram_private import FakeInstagramPrivate


@pytest.fixture
async def fakes(runtime: Runtime) -> AsyncIterator[dict[str, Any]]:
    ig, graph = FakeInstagramPrivate(), FakeInstagramGraph()
    await ig.start()
    await graph.start()
    runtime.services.platforms.settings = runtime.settings.model_copy(update={
        "instagram_api_base": ig.base_url, "graph_api_base": graph.api_base,
        "graph_upload_base": graph.upload_base, "instagram_graph_api_base": graph.instagram_base})
    yield {"ig": ig, "graph": graph}
    await ig.stop()
    await graph.stop()


async def say(h: BotHarness, text: str, expect: str) -> dict[str, Any]:
    mark = len(h.tg.calls)
    h.tg.send_message(ADMIN, text)
    return await latest(h, mark, expect)


async def begin(h: BotHarness, kind: AccAction) -> None:
    listing = await say(h, "/accounts", "Accounts")
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, listing["message_id"], AccCB(action=AccAction.ADD).pack())
    await latest(h, mark, "Which kind")
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, listing["message_id"], AccCB(action=kind).pack())
    await latest(h, mark, "A short name")


async def press(h: BotHarness, message_id: int, data: str, expect: str) -> dict[str, Any]:
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, message_id, data)
    return await latest(h, mark, expect)


async def test_graph_account_with_facebook_login(harness: BotHarness, fakes: dict[str, Any]) -> None:
    graph: FakeInstagramGraph = fakes["graph"]
    await begin(harness, AccAction.ADD_GRAPH)
    choice = await say(harness, "biz", "Which of Meta's Instagram APIs")
    await press(harness, choice["message_id"], AccCB(action=AccAction.GRAPH_FACEBOOK).pack(), "EAA…")
    mark = len(harness.tg.calls)
    token_msg = harness.tg.send_message(ADMIN, graph.access_token)
    await latest(harness, mark, "The Instagram user id")
    await say(harness, "12ab", "An id is digits only")
    await say(harness, graph.ig_user_id, "App ID")
    await say(harness, "not digits", "digits only")
    await say(harness, graph.app_id, "App secret")
    mark = len(harness.tg.calls)
    secret_msg = harness.tg.send_message(ADMIN, graph.app_secret)
    await latest(harness, mark, "When does the token expire?")
    await say(harness, "next month", "Send the date as YYYY-MM-DD")
    await say(harness, "2031-01-31", "✅ Added <b>biz</b>")
    account = await Account.get(alias="biz")
    assert account.auth_method is AuthMethod.GRAPH_API and account.external_id == graph.ig_user_id
    assert account.credentials["login_type"] == "facebook"
    assert account.credentials["app_secret"] == graph.app_secret
    assert account.token_expiry is not None and account.token_expiry.strftime("%Y-%m-%d") == "2031-01-31"
    deleted = {c.params["message_id"] for c in harness.tg.calls_of("deleteMessage")}
    assert {token_msg["message"]["message_id"], secret_msg["message"]["message_id"]} <= deleted


async def test_graph_account_with_instagram_login_asks_for_no_page_and_no_app(
        harness: BotHarness, fakes: dict[str, Any]) -> None:
    graph: FakeInstagramGraph = fakes["graph"]
    await begin(harness, AccAction.ADD_GRAPH)
    choice = await say(harness, "ig", "Which of Meta's Instagram APIs")
    await press(harness, choice["message_id"], AccCB(action=AccAction.GRAPH_INSTAGRAM).pack(), "IGAA…")
    await say(harness, graph.ig_access_token, "When does the token expire?")
    await say(harness, "-", "✅ Added <b>ig</b>")
    account = await Account.get(alias="ig")
    assert account.credentials["login_type"] == "instagram" and account.external_id == graph.ig_user_id
    card = await say(harness, "/accounts", "Accounts")
    opened = await press(harness, card["message_id"], AccCB(action=AccAction.OPEN, id=account.id).pack(),
                         "Instagram Login")
    assert "Update credentials" in str(opened)


async def test_a_new_token_from_the_card_resumes_the_paused_connection(
        harness: BotHarness, runtime: Runtime, fakes: dict[str, Any]) -> None:
    from core.errors import ErrorCode
    from core.models import AccountStatus, Connection, ConnectionStatus, Direction, Platform
    from core.pipeline.effects import account_needs_attention

    graph: FakeInstagramGraph = fakes["graph"]
    account = await runtime.services.accounts.add_instagram_graph("ig", graph.ig_access_token,
                                                                  login_type="instagram")
    tube = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH,
                                status=AccountStatus.ACTIVE)
    conn = await Connection.create(name="reels to shorts", direction=Direction.INSTAGRAM_TO_YOUTUBE,
                                   source_account=account, destination_account=tube,
                                   status=ConnectionStatus.ACTIVE)
    graph.expire_token(graph.ig_access_token)
    await account_needs_attention(account, ErrorCode.TOKEN_EXPIRED, "Session has expired")
    listing = await say(harness, "/accounts", "Accounts")
    card = await press(harness, listing["message_id"], AccCB(action=AccAction.OPEN, id=account.id).pack(),
                       "token expired")
    await press(harness, card["message_id"], AccCB(action=AccAction.UPDATE, id=account.id).pack(),
                "Paste the new long-lived access token")
    await say(harness, graph.ig_access_token, "Instagram refused the token")  # the dead one: kept asking
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.PAUSED
    fresh = graph.new_token("instagram")
    mark = len(harness.tg.calls)
    sent = harness.tg.send_message(ADMIN, fresh)
    done = await latest(harness, mark, "checked and saved")
    assert "Resumed: reels to shorts" in done["text"]
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.ACTIVE
    assert (await Account.get(id=account.id)).credentials["access_token"] == fresh
    deleted = {c.params["message_id"] for c in harness.tg.calls_of("deleteMessage")}
    assert sent["message"]["message_id"] in deleted


async def test_instagram_account_from_a_saved_session(harness: BotHarness, runtime: Runtime,
                                                      fakes: dict[str, Any]) -> None:
    ig: FakeInstagramPrivate = fakes["ig"]
    first = await runtime.services.accounts.add_instagram_private("tmp", ig.username, ig.password)
    session = first.credentials["session"]
    await first.delete()
    logins = ig.logins
    await begin(harness, AccAction.ADD_IG)
    await say(harness, "from session", "The Instagram username")
    await say(harness, ig.username, "a saved instagrapi session")
    mark = len(harness.tg.calls)
    upload = harness.tg.send_document(ADMIN, "session.json", json.dumps(session).encode())
    await latest(harness, mark, "✅ Added <b>from session</b>")
    assert ig.logins == logins  # the session was used: no password login
    assert (await Account.get(alias="from session")).credentials["password"] == ""
    assert upload["message"]["message_id"] in {c.params["message_id"]
                                               for c in harness.tg.calls_of("deleteMessage")}
