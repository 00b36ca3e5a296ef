"""Drive a real aiogram Bot (and Dispatcher) against the wire-level fake Telegram server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from tests.fakes.telegram import FakeTelegram, button_datas, button_texts

ADMIN = 4242
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go:1"),
                      InlineKeyboardButton(text="Stop", callback_data="stop")]]
)


def make_bot(fake: FakeTelegram, token: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    return Bot(token or fake.token, session=session)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(fake)
    yield bot
    await bot.session.close()


async def test_get_me_returns_the_bot_user(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456789, "forwarder_test_bot", True)
    assert [c.method for c in fake.calls] == ["getMe"]


async def test_send_message_with_inline_keyboard_is_stored(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(ADMIN, "Pick one", reply_markup=KEYBOARD)
    assert sent.reply_markup and sent.reply_markup.inline_keyboard[0][1].callback_data == "stop"
    assert sent.from_user and sent.from_user.is_bot
    stored = fake.last_message(ADMIN)
    assert stored["message_id"] == sent.message_id and stored["text"] == "Pick one"
    assert stored["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "go:1"
    assert (button_datas(stored), button_texts(stored)) == (["go:1", "stop"], ["Go", "Stop"])
    assert fake.calls_of("sendMessage")[0].params["chat_id"] == ADMIN
    assert fake.messages(ADMIN + 1) == []


async def test_edit_text_and_not_modified(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(ADMIN, "v1", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("v2", chat_id=ADMIN, message_id=sent.message_id,
                                         reply_markup=KEYBOARD)
    assert isinstance(edited, Message) and edited.text == "v2"
    assert fake.last_message(ADMIN)["text"] == "v2"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("v2", chat_id=ADMIN, message_id=sent.message_id,
                                    reply_markup=KEYBOARD)
    await bot.edit_message_reply_markup(chat_id=ADMIN, message_id=sent.message_id)
    assert "reply_markup" not in fake.last_message(ADMIN)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=ADMIN, message_id=999)
    assert await bot.delete_message(ADMIN, sent.message_id) is True
    assert fake.messages(ADMIN) == []
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ADMIN, sent.message_id)


async def test_fail_next_429_carries_retry_after(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ADMIN, "hi")
    assert caught.value.retry_after == 7
    assert fake.calls[-1].error_code == 429 and fake.messages(ADMIN) == []
    await bot.send_message(ADMIN, "hi")  # only the next call failed
    assert fake.last_message(ADMIN)["text"] == "hi"


async def test_blocked_chat_is_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    fake.block_chat(ADMIN)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ADMIN, "hello?")
    await bot.send_message(ADMIN + 1, "others still work")
    fake.fail_next("sendChatAction", error_code=403)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(ADMIN + 1, "typing")


async def test_send_photo_multipart_lands_in_files(fake: FakeTelegram, bot: Bot) -> None:
    photo = BufferedInputFile(b"\x89PNG fake bytes", filename="chart.png")
    sent = await bot.send_photo(ADMIN, photo, caption="Stats", reply_markup=KEYBOARD)
    call = fake.calls_of("sendPhoto")[0]
    assert call.files == {"photo": b"\x89PNG fake bytes"}
    assert call.params["caption"] == "Stats" and call.params["reply_markup"] == KEYBOARD.model_dump(
        exclude_none=True)
    assert sent.photo and sent.photo[-1].file_size == len(b"\x89PNG fake bytes")
    assert fake.last_message(ADMIN)["caption"] == "Stats"
    video = await bot.send_video(ADMIN, sent.photo[-1].file_id)  # re-send by file_id
    assert video.video and video.video.file_id == sent.photo[-1].file_id


async def test_user_document_can_be_downloaded(fake: FakeTelegram, bot: Bot) -> None:
    content = bytes(range(256)) * 100
    update = fake.send_document(ADMIN, "cookies.txt", content, mime_type="text/plain")
    document = update["message"]["document"]
    file = await bot.get_file(document["file_id"])
    assert file.file_size == len(content) and file.file_path
    downloaded = await bot.download(file)
    assert downloaded is not None and downloaded.read() == content
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")


async def test_get_updates_long_poll_wakes_on_new_update(fake: FakeTelegram, bot: Bot) -> None:
    fake.long_poll_cap = 5.0
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for("getUpdates")
    fake.send_message(ADMIN, "/queue https://example.com/reel/1")
    updates = await poll
    assert time.monotonic() - started < 2.0
    assert len(updates) == 1 and updates[0].message and updates[0].message.entities
    assert updates[0].message.entities[0].type == "bot_command"
    # Re-polling without an offset returns it again; an offset confirms it.
    assert len(await bot.get_updates()) == 1
    assert await bot.get_updates(offset=updates[0].update_id + 1) == []


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    bot = make_bot(fake, token="42:WrongToken")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await bot.get_me()
    finally:
        await bot.session.close()
    assert fake.calls == []


async def test_wait_for_times_out_listing_calls(fake: FakeTelegram, bot: Bot) -> None:
    await bot.get_me()
    with pytest.raises(AssertionError, match=r"getMe"):
        await fake.wait_for("sendMessage", timeout=0.05)


async def test_dispatcher_polling_answers_start_and_buttons(fake: FakeTelegram, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(f"Hi {message.from_user.first_name}", reply_markup=KEYBOARD)

    @dp.callback_query(F.data == "go:1")
    async def go(query: CallbackQuery) -> None:
        await query.answer("Going")
        await query.message.edit_text("Gone")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    try:
        fake.send_message(ADMIN, "/start", first_name="Ann")
        sent = await fake.wait_for("sendMessage", timeout=3)
        assert sent.params["text"] == "Hi Ann" and sent.params["chat_id"] == ADMIN
        fake.press_button(ADMIN, sent.result["message_id"], "go:1")
        await fake.wait_for("editMessageText", timeout=3)
        assert fake.answered_callbacks[0]["text"] == "Going"
        assert fake.last_message(ADMIN)["text"] == "Gone"
        with pytest.raises(AssertionError, match="no button"):
            fake.press_button(ADMIN, sent.result["message_id"], "forged")
    finally:
        await dp.stop_polling()
        await polling
