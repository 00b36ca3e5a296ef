"""A Telegram user not in ADMIN_IDS gets nothing: every command, typed text, file and every kind
of button (each action of each callback class, aimed at real rows) is refused, logged, and
changes nothing in the database; the admin's open dialog is not touched either."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.callbacks import (
    AccAction,
    AccCB,
    AnaCB,
    Area,
    ConnAction,
    ConnCB,
    JobAction,
    JobCB,
    MenuCB,
    PolicyCB,
    ProxyAction,
    ProxyCB,
    SetCB,
    WizCB,
)
from bot.handlers.settings import EDITABLE
from bot.middlewares import REFUSAL
from bot.texts import COMMANDS
from core.bootstrap import Runtime
from core.models import (
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    Direction,
    Job,
    JobStatus,
    Platform,
    Proxy,
    ProxyType,
    SourcePost,
)
from tests.badinput.client_secrets import secret
from tests.badinput.support import say, snapshot
from tests.bot.conftest import ADMIN, STRANGER, BotHarness

GROUP = -1001234567890  # a group where the admin and the stranger both are


async def seed() -> dict[str, int]:
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API,
                               status=AccountStatus.CAPTCHA_DETECTED, credentials={"password": "pw"})
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH,
                               credentials={"refresh_token": "r", "client_secret": {"installed": {}}})
    proxy = await Proxy.create(alias="p1", type=ProxyType.HTTP, host="127.0.0.1", port=9)
    conn = await Connection.create(name="c1", direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=src,
                                   destination_account=dst, status=ConnectionStatus.ACTIVE)
    post = await SourcePost.create(connection=conn, source_post_id="p1")
    job = await Job.create(connection=conn, source_post=post, status=JobStatus.FAILED, dead_letter=True)
    return {"conn": conn.id, "src": src.id, "dst": dst.id, "proxy": proxy.id, "job": job.id}


def every_callback(ids: dict[str, int]) -> list[str]:
    """One press of each action of each callback class, aimed at existing rows."""
    data = [MenuCB(area=a).pack() for a in Area]
    data += [ConnCB(action=a, id=ids["conn"]).pack() for a in ConnAction]
    data += [JobCB(action=a, id=ids["job"], level="error").pack() for a in JobAction]
    data += [ProxyCB(action=a, id=ids["proxy"], kind="socks5").pack() for a in ProxyAction]
    data += [AccCB(action=a, id=ids["src"] if a is not AccAction.REAUTH else ids["dst"]).pack()
             for a in AccAction]
    data += [AnaCB(days=d).pack() for d in (7, 30)]
    data += [SetCB(section=s, value=v).pack() for s, v in (("kinds", ""), ("toggle", "job_failed"),
                                                           ("test", ""), ("alerts", ""))]
    data += [SetCB(section="edit", value=k).pack() for k in EDITABLE]
    data += [WizCB(step=s, value=v).pack() for s, v in (
        ("type", "instagram_to_youtube"), ("source", str(ids["src"])), ("dest", str(ids["dst"])),
        ("proxy", str(ids["proxy"])), ("filters", "all"), ("schedule", "15"), ("transforms", "upscale"),
        ("save", "active"), ("back", "type"), ("cancel", ""))]
    data += [PolicyCB(id=ids["conn"], what=w, value=v).pack() for w, v in (
        ("mode", "round_robin"), ("pool", str(ids["proxy"])), ("fallback", ""))]
    data += [f"al:retry:{ids['job']}", f"al:solved:{ids['src']}", f"al:code:{ids['src']}"]
    assert len(set(data)) == len(data)
    return data


def sent_to_anyone(h: BotHarness, mark: int) -> list[str]:
    return [f"{c.method} {c.params.get('chat_id')} {str(c.params.get('text'))[:60]}"
            for c in h.tg.calls[mark:]
            if c.method.startswith(("send", "edit", "delete", "copy", "forward", "getFile"))]


async def test_a_stranger_changes_nothing_with_any_update(harness: BotHarness, runtime: Runtime,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    h = harness
    ids = await seed()
    # The admin has a dialog open in the group, with a message carrying every button.
    menu = await say(h, "/menu", "Pick an area")
    buttons = every_callback(ids)
    assert len(buttons) >= 70
    before = await snapshot()
    caplog.set_level(logging.WARNING, logger="forwarder.bot.auth")
    mark = len(h.tg.calls)
    updates = 0
    for command, _ in COMMANDS:
        for chat in (STRANGER, GROUP):
            h.tg.send_message(STRANGER, f"/{command}", chat_id=chat)
            updates += 1
    for text in ("Travel", "socks5://u:p@127.0.0.1:1080", "2025-01-01", "123456", "-"):
        h.tg.send_message(STRANGER, text)
        updates += 1
    h.tg.send_document(STRANGER, "client_secret.json", secret())
    h.tg.send_document(STRANGER, "session.json", b'{"cookies": {}}', chat_id=GROUP)
    updates += 2
    for data in buttons:  # pressed on the admin's own message, in the admin's chat
        h.tg.press_button(STRANGER, menu["message_id"], data, chat_id=ADMIN, strict=False)
        updates += 1
    raw: list[dict[str, Any]] = [
        {"edited_message": {"message_id": 1, "date": 0, "chat": {"id": STRANGER, "type": "private"},
                            "from": {"id": STRANGER, "is_bot": False, "first_name": "M"}, "text": "/start",
                            "edit_date": 1}},
        {"inline_query": {"id": "1", "from": {"id": STRANGER, "is_bot": False, "first_name": "M"},
                          "query": "accounts", "offset": ""}},
        {"my_chat_member": {"chat": {"id": GROUP, "type": "supergroup"}, "date": 0,
                            "from": {"id": STRANGER, "is_bot": False, "first_name": "M"},
                            "old_chat_member": {"status": "left", "user": h.tg.bot_user},
                            "new_chat_member": {"status": "member", "user": h.tg.bot_user}}},
    ]
    for update in raw:
        h.tg.add_update(update)
        updates += 1
    await say(h, "/help", "/connections")  # the admin is still served, after all of the above
    for _ in range(100):  # updates of one batch run as concurrent tasks: let the last ones finish
        refused = [r for r in caplog.records if "refused" in r.getMessage()]
        if len(refused) >= updates:
            break
        await asyncio.sleep(0.05)
    assert len(refused) == updates and all(str(STRANGER) in r.getMessage() for r in refused)
    await asyncio.sleep(0.2)  # and anything a handler would have sent
    to_stranger = [c for c in h.tg.calls[mark:] if c.params.get("chat_id") == STRANGER]
    assert [c.params["text"] for c in to_stranger] == [REFUSAL]  # one refusal, in private, no menu
    others = [s for s in sent_to_anyone(h, mark)
              if not s.startswith((f"sendMessage {STRANGER}", f"sendMessage {ADMIN}"))]
    assert others == []  # nothing edited, deleted, forwarded or downloaded; nothing said in the group
    admin_texts = [c.params["text"] for c in h.tg.calls[mark:]
                   if c.method == "sendMessage" and c.params.get("chat_id") == ADMIN]
    assert len(admin_texts) == 1 and "/connections" in admin_texts[0]  # only the admin's own /help
    answers = [c.params.get("text") for c in h.tg.calls[mark:] if c.method == "answerCallbackQuery"]
    assert set(answers) <= {REFUSAL}
    assert await snapshot() == before


async def test_a_stranger_cannot_step_into_the_admins_dialog(harness: BotHarness, runtime: Runtime) -> None:
    h = harness
    await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API)
    listing = await say(h, "/connections", "Connections")
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, listing["message_id"], ConnCB(action=ConnAction.NEW).pack(), chat_id=ADMIN)
    await h.tg.wait_for("editMessageText", after=mark)
    # In the admin's chat (a group, say), the stranger answers the wizard's question first.
    h.tg.send_message(STRANGER, "Hijacked", chat_id=ADMIN)
    step = await say(h, "Mine", "Which direction?")
    assert "Mine" in step["text"] and "Hijacked" not in step["text"]
    h.tg.press_button(STRANGER, step["message_id"], WizCB(step="type", value="youtube_to_instagram").pack(),
                      chat_id=ADMIN, strict=False)
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, step["message_id"], WizCB(step="type", value="instagram_to_youtube").pack(),
                      chat_id=ADMIN)
    source = await h.tg.wait_for("editMessageText", lambda c: "Choose the source" in c.params["text"],
                                 after=mark)
    assert "(instagram)" in source.params["text"]  # the admin's choice, not the stranger's
    assert await Connection.all().count() == 0
