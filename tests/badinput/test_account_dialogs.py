"""The add-account dialogs fed bad input: aliases, usernames, passwords, session files, Graph ids
and dates, client_secret.json files and pasted authorization codes.

Each wrong answer is told why, nothing is stored, and every message the bot sends is one the
Bot API accepts (``StrictTelegram``).
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.callbacks import AccAction, AccCB
from core.bootstrap import Runtime
from core.models import Account, AccountStatus, AuthMethod, OAuthState, Platform
from tests.badinput.client_secrets import ACCEPTED, BOT_SAYS, REFUSED
from tests.badinput.support import EMOJI, LONG, MARKUP, answer, check_message, say, tap, upload
from tests.bot.conftest import ADMIN, BotHarness
from tests.fakes.google_oauth import FakeGoogleOAuth
from tests.fakes.instagram_graph import FakeInstagramGraph
from tests.fakes.instagram_private import FakeInstagramPrivate
from tests.fakes.wiring import wire
from tests.fakes.youtube import FakeYouTube


@pytest.fixture
async def fakes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    """The runtime's accounts and OAuth services pointed at the platform fakes."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    ig, graph, google, yt = FakeInstagramPrivate(), FakeInstagramGraph(), FakeGoogleOAuth(), FakeYouTube()
    for fake in (ig, graph, google, yt):
        await fake.start()
    yt.trust(google)
    wire(runtime, ig=ig, graph=graph, google=google, yt=yt)
    yield {"ig": ig, "graph": graph, "google": google, "yt": yt}
    for fake in (ig, graph, google, yt):
        await fake.stop()


async def begin(h: BotHarness, kind: AccAction) -> None:
    listing = await say(h, "/accounts", "Accounts")
    await tap(h, listing, AccCB(action=AccAction.ADD).pack(), "Which kind of account?")
    await tap(h, listing, AccCB(action=kind).pack(), "A short name")


def deleted(h: BotHarness) -> set[int]:
    return {c.params["message_id"] for c in h.tg.calls_of("deleteMessage")}


async def _aliases(h: BotHarness, taken: str) -> None:
    for bad in ("a" * 65, LONG, taken):
        got = await say(h, bad, "Pick a name of 1 to 64 characters that no other account uses")
        check_message(got["text"])


async def test_instagram_dialog_refuses_bad_alias_username_session_and_password(
        harness: BotHarness, runtime: Runtime, fakes: dict[str, Any]) -> None:
    h, ig = harness, fakes["ig"]
    await Account.create(platform=Platform.YOUTUBE, alias="taken", auth_method=AuthMethod.OAUTH)
    await begin(h, AccAction.ADD_IG)
    await _aliases(h, "taken")
    await say(h, f"<i>ig</i> {EMOJI}", "The Instagram username")
    for bad in ("@", LONG, "two words"):
        await say(h, bad, "❌ Send the Instagram username (1 to 100 characters, no spaces)")
    await say(h, ig.username, "The password")
    for content, expect in ((b"not json", "the session is not a JSON object exported by instagrapi"),
                            (b"[" * 60_000, "the session is not a JSON object exported by instagrapi"),
                            (b"[1, 2]", "the session is not a JSON object exported by instagrapi"),
                            (b"{" + b" " * (600 * 1024) + b"}", "at most 512 KB")):
        sent_file = await upload(h, "session.json", content, expect)
        assert sent_file["text"].startswith("❌")
    mark = len(h.tg.calls)
    secret = h.tg.send_message(ADMIN, "wrong-password-" + EMOJI)
    refused = await _answer_from(h, mark, "Instagram refused")
    assert refused.startswith("❌ Instagram refused:")
    assert secret["message"]["message_id"] in deleted(h)  # the password does not stay in the chat
    assert await Account.filter(platform=Platform.INSTAGRAM).count() == 0
    assert h.tg.refused == []


async def _answer_from(h: BotHarness, mark: int, contains: str) -> str:
    return str((await answer(h, mark, contains))["text"])


async def test_graph_dialog_refuses_bad_ids_dates_and_a_dead_token(harness: BotHarness, runtime: Runtime,
                                                                    fakes: dict[str, Any]) -> None:
    h, graph = harness, fakes["graph"]
    await begin(h, AccAction.ADD_GRAPH)
    choice = await say(h, "biz", "Which of Meta's Instagram APIs")
    await tap(h, choice, AccCB(action=AccAction.GRAPH_FACEBOOK).pack(), "Paste the long-lived access token")
    await say(h, "EAAG-not-a-token-" + MARKUP, "The Instagram user id")
    for bad in ("12ab", "page abc", "٣٤٥٦", "-5", LONG, MARKUP, "page"):
        got = await say(h, bad, "❌ An id is digits only. Send it again, or /cancel.")
        check_message(got["text"])
    await say(h, graph.ig_user_id, "App ID")
    for bad in ("12ab", "٣٤٥٦", LONG, MARKUP):
        got = await say(h, bad, "The App ID is digits only")
        check_message(got["text"])
    await say(h, graph.app_id, "App secret")
    got = await say(h, "two words", "Paste the App secret")
    check_message(got["text"])
    await say(h, graph.app_secret, "When does the token expire?")
    for bad in ("2031-02-30", "31/01/2031", "next month", LONG, EMOJI):
        await say(h, bad, "❌ Send the date as YYYY-MM-DD, or - to skip.")
    refused = await say(h, "2031-01-31", "❌")  # the token does not work: told, not stored
    check_message(refused["text"])
    assert "Something went wrong" not in refused["text"]
    assert await Account.filter(platform=Platform.INSTAGRAM).count() == 0
    assert h.tg.refused == []


async def test_youtube_dialog_refuses_bad_client_secrets_and_pastes(harness: BotHarness, runtime: Runtime,
                                                                     fakes: dict[str, Any]) -> None:
    h = harness
    await begin(h, AccAction.ADD_YT)
    await say(h, "tube", "client_secret.json")
    await say(h, "here it is", "Send the file itself (as a document)")
    for name, (content, message) in REFUSED.items():
        got = await upload(h, "client_secret.json", content, "❌")
        expected = BOT_SAYS.get(name) or \
            f"❌ {html.escape(message, quote=False)}\nSend the file again, or /cancel."
        assert got["text"] == expected, name
        check_message(got["text"])
    assert await Account.all().count() == 0  # no account for any refused file
    consent = await upload(h, "client_secret.json", ACCEPTED["bom"], "Authorize YouTube")
    account = await Account.get(alias="tube")
    assert account.status is AccountStatus.REQUIRES_REAUTH and consent["markup"]
    for bad, expect in (("hello there", "that is not an authorization code"),
                        ("http://127.0.0.1:9/oauth2callback?error=access_denied",
                         "Google refused the authorization: access_denied"),
                        ("http://127.0.0.1:9/oauth2callback?state=forged.sig&code=4/x", "bad signature"),
                        ("http://127.0.0.1:9/oauth2callback?state=only", "has no 'code'")):
        got = await say(h, bad, expect)
        assert got["text"].startswith("❌"), got["text"]
    assert await OAuthState.filter(account_id=account.id, used_at__isnull=True).count() == 1  # still waiting
    assert (await Account.get(id=account.id)).credentials.get("refresh_token") is None
    assert h.tg.refused == []


async def test_security_code_dialog_refuses_what_is_not_4_to_8_digits(harness: BotHarness, runtime: Runtime
                                                                       ) -> None:
    h = harness
    # Were a code let through, it would go to a dead port, never to Instagram.
    runtime.services.platforms.settings = runtime.settings.model_copy(update={
        "instagram_api_base": "http://127.0.0.1:9", "graph_api_base": "http://127.0.0.1:9"})
    account = await Account.create(platform=Platform.INSTAGRAM, alias="insta",
                                   auth_method=AuthMethod.PRIVATE_API, status=AccountStatus.CAPTCHA_DETECTED)
    listing = await say(h, "/accounts", "Accounts")
    await tap(h, listing, AccCB(action=AccAction.CODE, id=account.id).pack(), "Send the security code")
    sent = []
    for bad in ("abc", "123", "123456789", "١٢٣٤٥٦", "¹²³⁴", LONG, MARKUP, "12 34 5x"):
        mark = len(h.tg.calls)
        sent.append(h.tg.send_message(ADMIN, bad)["message"]["message_id"])
        got = await answer(h, mark, "a security code is 4 to 8 digits")
        check_message(got["text"])
    assert set(sent) <= deleted(h)  # a code is a secret, even a wrong one
    assert (await Account.get(id=account.id)).status is AccountStatus.CAPTCHA_DETECTED
    assert h.tg.refused == []
