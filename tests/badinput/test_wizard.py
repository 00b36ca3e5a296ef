"""The connection wizard fed bad typed input at every step, through the real dispatcher.

Each wrong answer gets its own message and leaves the wizard on the same step (the next,
right answer is taken there); nothing wrong reaches the saved connection; every message
the bot sends is one the Bot API accepts (``StrictTelegram``).
"""

from __future__ import annotations

import html
from typing import Any

from bot.callbacks import ConnAction, ConnCB, WizCB
from core.bootstrap import Runtime
from core.models import Account, AuthMethod, Connection, Platform
from tests.badinput.support import EMOJI, LONG, MARKUP, RTL, check_message, say, tap, upload
from tests.bot.conftest import ADMIN, BotHarness

KEYWORDS_5000 = ", ".join(f"k{i}" for i in range(900))  # ~5,000 characters of distinct keywords
WINDOWS_5000 = ", ".join(["09:00-10:00"] * 400)
NAME = f"{EMOJI} {RTL[:14]} <b>&amp;</b>"  # <= 100 characters, shown as typed

# step -> (typed answer, what the bot says), all refused on that step
WRONG: dict[str, list[tuple[str, str]]] = {
    "name": [("n" * 101, "the name must be 1 to 100 characters"),
             (LONG, "the name must be 1 to 100 characters")],
    "keywords": [("k" * 101, "is longer than 100 characters"),
                 (" , ,", "the keyword filter needs at least one keyword"),
                 (KEYWORDS_5000, "keywords add up to")],
    "exclude": [(KEYWORDS_5000, "keywords add up to"),
                ("x" * 300, "is longer than 100 characters")],
    "backfill": [("2025-13-01", "'2025-13-01' is not a date; use YYYY-MM-DD"),
                 ("yesterday", "'yesterday' is not a date"),
                 ("2025-01-01 2025-02-01 2025-03-01", "send one or two dates"),
                 ("2025-02-01 2025-01-01", "the end date is before the start date"),
                 (LONG, "is not a date"),
                 (MARKUP, "send one or two dates")],
    "windows": [("9-12", "'9' is not a time; use HH:MM"),
                ("25:00-26:00", "'25:00' is not a time"),
                ("09:00-09:00", "a window must not start and end at the same time"),
                ("0900", "'0900' is not a window; use HH:MM-HH:MM"),
                (LONG, "is not a window"),
                (WINDOWS_5000, "at most 24 daily windows"),
                (f"{EMOJI}-{RTL}", "is not a time")],
}


async def _new_wizard(h: BotHarness) -> dict[str, Any]:
    listing = await say(h, "/connections", "Connections")
    return await tap(h, listing, ConnCB(action=ConnAction.NEW).pack(), "step 1/7: basic")


async def _wrong(h: BotHarness, step: str) -> None:
    for text, expect in WRONG[step]:
        got = await say(h, text, expect)
        check_message(got["text"])
        assert "Send it again" in got["text"] or step == "name", got["text"]


async def test_every_typed_step_refuses_bad_input_and_stays(harness: BotHarness, runtime: Runtime) -> None:
    h = harness
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    await _new_wizard(h)
    await _wrong(h, "name")
    await upload(h, "notes.txt", b"a file, not a name", "as a text message")  # not silence
    step = await say(h, NAME, "Which direction?")
    assert html.escape(NAME, quote=False) in step["text"]
    assert NAME in check_message(step["text"])  # shown exactly as typed, markup and all
    for text in (LONG, MARKUP, EMOJI):  # typed where a button is wanted
        await say(h, text, "Choose with the buttons above")
    step = await tap(h, step, WizCB(step="type", value="instagram_to_youtube").pack(), "Choose the source")
    step = await tap(h, step, WizCB(step="source", value=str(src.id)).pack(), "Choose the destination")
    step = await tap(h, step, WizCB(step="dest", value=str(dst.id)).pack(), "Which proxy")
    step = await tap(h, step, WizCB(step="proxy", value="0").pack(), "step 4/7: filters")

    await tap(h, step, WizCB(step="filters", value="keywords").pack(), "Send the keywords")
    await _wrong(h, "keywords")
    step = await say(h, f"{EMOJI}, <b>tag</b>, שלום", "keywords: ")
    assert f"keywords: {EMOJI}, <b>tag</b>, שלום" in check_message(step["text"])
    await tap(h, step, WizCB(step="filters", value="exclude").pack(), "keywords to exclude")
    await _wrong(h, "exclude")
    step = await say(h, "spam", "not: spam")
    await tap(h, step, WizCB(step="filters", value="backfill").pack(), "date range of old posts")
    await _wrong(h, "backfill")
    step = await say(h, "2025-01-01", "backfill 2025-01-01")

    step = await tap(h, step, WizCB(step="filters", value="next").pack(), "step 5/7: schedule")
    await tap(h, step, WizCB(step="schedule", value="windows").pack(), "Send the daily windows")
    await _wrong(h, "windows")
    step = await say(h, "22:00-02:00", "within 22:00-02:00")
    step = await tap(h, step, WizCB(step="schedule", value="next").pack(), "step 6/7: video")
    step = await tap(h, step, WizCB(step="transforms", value="next").pack(), "step 7/7: review")
    check_message(step["text"])
    assert await Connection.all().count() == 0  # nothing is saved before Save
    await tap(h, step, WizCB(step="save", value="stopped").pack(), "Saved.")

    conn = await Connection.get()
    assert conn.name == NAME
    assert conn.filters["caption_keywords"] == [EMOJI, "<b>tag</b>", "שלום"]
    assert conn.filters["exclude_keywords"] == ["spam"]
    assert conn.filters["date_range"] == {"from": "2025-01-01", "to": None}
    assert conn.schedule["windows"] == [{"start": "22:00", "end": "02:00"}]
    assert h.tg.refused == []  # every message the bot sent was one Telegram accepts


async def test_stale_and_forged_wizard_buttons_explain_themselves(harness: BotHarness, runtime: Runtime
                                                                 ) -> None:
    h = harness
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API)
    await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    step = await _new_wizard(h)
    step = await say(h, "Stale", "Which direction?")
    step = await tap(h, step, WizCB(step="type", value="instagram_to_youtube").pack(), "Choose the source")
    gone = await Account.create(platform=Platform.INSTAGRAM, alias="gone", auth_method=AuthMethod.PRIVATE_API)
    await gone.delete()  # deleted elsewhere (the Mini App) while its button is on screen
    reply = await tap(h, step, WizCB(step="source", value=str(gone.id)).pack(), "does not exist")
    assert reply["text"].startswith(f"❌ Account {gone.id} does not exist")
    await tap(h, step, WizCB(step="source", value=str(src.id)).pack(), "Choose the destination")
    cancelled = await tap(h, step, WizCB(step="cancel").pack(), "Wizard cancelled")
    # The old message still has buttons in some clients' caches; the wizard is closed.
    for data in (WizCB(step="transforms", value="next").pack(), WizCB(step="save", value="active").pack(),
                 WizCB(step="filters", value="next").pack()):
        reply = await tap(h, cancelled, data, "no longer open")
        check_message(reply["text"])
    assert await Connection.all().count() == 0
    assert h.tg.refused == []
    assert not [c for c in h.tg.calls if c.method == "sendMessage" and c.params.get("chat_id") == ADMIN
                and "Something went wrong" in str(c.params.get("text"))]
