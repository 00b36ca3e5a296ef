from __future__ import annotations

import logging

import pytest

from bot.callbacks import Area, MenuCB
from bot.middlewares import REFUSAL
from tests.bot.conftest import ADMIN, STRANGER, BotHarness
from tests.fakes.telegram import button_datas, button_texts


async def _reply(h: BotHarness, chat: int, after: int) -> dict:
    call = await h.tg.wait_for("sendMessage", lambda c: c.params["chat_id"] == chat, after=after)
    return call.result


async def test_startup_registers_commands_and_menu_button(harness: BotHarness) -> None:
    await harness.tg.wait_for("setMyCommands")
    await harness.tg.wait_for("setChatMenuButton")
    names = [c["command"] for c in harness.tg.commands]
    for name in ("start", "help", "menu", "connections", "accounts", "proxies", "jobs", "dlq",
                 "logs", "analytics", "settings", "cancel"):
        assert name in names
    assert harness.tg.menu_button == {"type": "default"}  # http base URL: no Mini App button


async def test_admin_start_shows_the_main_menu(harness: BotHarness) -> None:
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/start")
    msg = await _reply(harness, ADMIN, mark)
    assert "Reels ⇄ Shorts forwarder" in msg["text"]
    texts = button_texts(msg)
    for title in ("Connections", "Accounts", "Proxies", "Jobs", "Analytics", "Settings"):
        assert any(title in t for t in texts), texts
    assert MenuCB(area=Area.CONNECTIONS).pack() in button_datas(msg)


async def test_menu_buttons_edit_in_place_and_come_back(harness: BotHarness) -> None:
    harness.tg.send_message(ADMIN, "/menu")
    menu = await _reply(harness, ADMIN, 0)
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, menu["message_id"], MenuCB(area=Area.SETTINGS).pack())
    edit = await harness.tg.wait_for("editMessageText", after=mark)
    assert edit.params["message_id"] == menu["message_id"]
    assert "Settings" in edit.params["text"] and "YouTube budget per project" in edit.params["text"]
    await harness.tg.wait_for("answerCallbackQuery", after=mark)
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, menu["message_id"], MenuCB(area=Area.MENU).pack())
    back = await harness.tg.wait_for("editMessageText", after=mark)
    assert "Pick an area" in back.params["text"]


async def test_help_and_area_commands(harness: BotHarness) -> None:
    harness.tg.send_message(ADMIN, "/help")
    msg = await _reply(harness, ADMIN, 0)
    assert "/connections" in msg["text"] and "/cancel" in msg["text"]
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/dlq")
    msg = await _reply(harness, ADMIN, mark)
    assert "Dead letter" in msg["text"]
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/settings")
    msg = await _reply(harness, ADMIN, mark)
    assert "Settings" in msg["text"] and "Alert chat: not set" in msg["text"]
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/cancel")
    assert "Nothing to cancel" in (await _reply(harness, ADMIN, mark))["text"]


async def test_a_stranger_gets_one_refusal_and_no_menu(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="forwarder.bot.auth")
    harness.tg.send_message(STRANGER, "/start", username="intruder")
    refusal = await _reply(harness, STRANGER, 0)
    assert refusal["text"] == REFUSAL and "reply_markup" not in refusal
    harness.tg.send_message(STRANGER, "/menu")
    harness.tg.send_message(STRANGER, "/help")
    # The admin's message after the stranger's is answered: the stranger's were processed.
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/help")
    await _reply(harness, ADMIN, mark)
    to_stranger = [c for c in harness.tg.calls_of("sendMessage") if c.params["chat_id"] == STRANGER]
    assert len(to_stranger) == 1
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 3 and "4242" in refused[0].getMessage()


async def test_a_stranger_pressing_a_forged_button_gets_nothing(harness: BotHarness) -> None:
    harness.tg.send_message(ADMIN, "/menu")
    menu = await _reply(harness, ADMIN, 0)
    mark = len(harness.tg.calls)
    # A stranger in the admin's chat (e.g. a group) presses a button on the admin's menu.
    harness.tg.press_button(STRANGER, menu["message_id"], MenuCB(area=Area.ACCOUNTS).pack(),
                            chat_id=ADMIN)
    answer = await harness.tg.wait_for("answerCallbackQuery", after=mark)
    assert answer.params.get("text") == REFUSAL
    assert not [c for c in harness.tg.calls[mark:] if c.method.startswith("editMessage")]
    assert harness.tg.last_message(ADMIN)["text"] == menu["text"]
