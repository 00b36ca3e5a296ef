"""Helpers shared by the area handlers."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message


async def show(target: Message | CallbackQuery, text: str,
               markup: InlineKeyboardMarkup | None = None) -> None:
    """Answer a command with a new message, or a button by editing its message in place."""
    if isinstance(target, CallbackQuery):
        await target.answer()
        message = target.message
        if isinstance(message, Message):
            try:
                await message.edit_text(text, reply_markup=markup)
            except TelegramBadRequest as exc:
                # Pressing the same button twice asks for the same content: nothing to change.
                if "message is not modified" not in str(exc):
                    raise
        return
    await target.answer(text, reply_markup=markup)


async def reply(target: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
                ) -> Message | None:
    """Send a new message in the chat of ``target``."""
    if isinstance(target, CallbackQuery):
        await target.answer()
        if isinstance(target.message, Message):
            return await target.message.answer(text, reply_markup=markup)
        return None
    return await target.answer(text, reply_markup=markup)


async def delete_quietly(message: Message) -> None:
    """Delete a message that carried a secret; best effort (old messages cannot be deleted)."""
    try:
        await message.delete()
    except Exception:  # noqa: BLE001 - never let a failed delete stop the dialog
        pass
