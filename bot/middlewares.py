"""Outer middlewares: only the administrators in ADMIN_IDS are served."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User

log = logging.getLogger("forwarder.bot.auth")

REFUSAL = "⛔ This is a private bot. Nothing here is available to you."


class AdminOnly(BaseMiddleware):
    """Drop every update not from an admin; refuse each stranger once, log every attempt."""

    def __init__(self, admin_ids: list[int], *, max_remembered: int = 10_000) -> None:
        self.admin_ids = frozenset(admin_ids)
        self.refused: set[int] = set()
        self.max_remembered = max_remembered

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None and user.id in self.admin_ids:
            return await handler(event, data)
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        log.warning(
            "refused %s from non-admin user id=%s username=%s",
            kind, getattr(user, "id", None), getattr(user, "username", None),
        )
        if user is not None and user.id not in self.refused and isinstance(event, Update):
            if len(self.refused) < self.max_remembered:
                self.refused.add(user.id)
            await self._refuse(event)
        return None

    @staticmethod
    async def _refuse(update: Update) -> None:
        # One short answer, and only where the stranger talked to the bot privately.
        if update.message and update.message.chat.type == "private":
            await update.message.answer(REFUSAL)
        elif update.callback_query:
            await update.callback_query.answer(REFUSAL, show_alert=False)
