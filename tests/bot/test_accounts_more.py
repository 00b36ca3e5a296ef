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


async def test_graph_account_with_token_expiry(harness: BotHarness, fakes: dict[str, Any]) -> None:
    graph: FakeInstagramGraph = fakes["graph"]
    await begin(harness, AccAction.ADD_GRAPH)
    await say(harness, "biz", "Paste the long-lived access token")
    mark = len(harness.tg.calls)
    token_msg = harness.tg.send_message(ADMIN, graph.credentials()["access_token"])
    await latest(harness, mark, "The Instagram user id")
    await say(harness, "12ab", "An id is digits only")
    await say(harness, graph.ig_user_id, "When does the token expire?")
    await say(harness, "next month", "Send the date as YYYY-MM-DD")
    await say(harness, "2031-01-31", "✅ Added <b>biz</b>")
    account = await Account.get(alias="biz")
    assert account.auth_method is AuthMethod.GRAPH_API and account.external_id == graph.ig_user_id
    assert account.token_expiry is not None and account.token_expiry.strftime("%Y-%m-%d") == "2031-01-31"
    assert token_msg["message"]["message_id"] in {c.params["message_id"]
                                                  for c in harness.tg.calls_of("deleteMessage")}


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
