from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiogram import Bot, Dispatcher

from bot.app import create_bot, create_dispatcher
from core.bootstrap import Runtime
from tests.fakes.telegram import FakeTelegram

ADMIN = 1001
STRANGER = 4242


@dataclass
class BotHarness:
    """The real dispatcher polling the fake Bot API."""

    tg: FakeTelegram
    bot: Bot
    dp: Dispatcher


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.long_poll_cap = 0.2
        yield fake


@pytest.fixture
async def harness(tg: FakeTelegram, runtime: Runtime) -> AsyncIterator[BotHarness]:
    runtime.settings.telegram_api_base = tg.base_url
    bot = create_bot(runtime.settings)
    dp = create_dispatcher(runtime)
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    await tg.wait_for("getUpdates")
    yield BotHarness(tg, bot, dp)
    with contextlib.suppress(RuntimeError):
        await dp.stop_polling()
    await asyncio.wait_for(task, 10)
    await bot.session.close()
