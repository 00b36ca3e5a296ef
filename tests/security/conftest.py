"""The bot harness of tests/bot over a fake Bot API that refuses what the real one refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.badinput.support import StrictTelegram
from tests.bot.conftest import harness  # noqa: F401  (the harness runs over the ``tg`` below)
from tests.webapp.conftest import api, client  # noqa: F401  (the Mini App API as the admin)


@pytest.fixture
async def tg() -> AsyncIterator[StrictTelegram]:
    async with StrictTelegram() as fake:
        fake.long_poll_cap = 0.2
        yield fake
