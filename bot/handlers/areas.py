"""Areas of the main menu whose features land in later versions."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.callbacks import Area, MenuCB
from bot.keyboards import AREA_TITLES, back_to_menu
from bot.texts import not_yet

COMMAND_AREAS: dict[str, Area] = {
    "settings": Area.SETTINGS,
}


async def area_command(message: Message) -> None:
    """An area's command."""
    command = (message.text or "/").split()[0][1:].split("@")[0].lower()
    area = COMMAND_AREAS.get(command, Area.MENU)
    await message.answer(not_yet(AREA_TITLES.get(area, command)), reply_markup=back_to_menu())


async def area_button(query: CallbackQuery, callback_data: MenuCB) -> None:
    """An area's button in the main menu."""
    await query.answer()
    if query.message is not None and hasattr(query.message, "edit_text"):
        await query.message.edit_text(
            not_yet(AREA_TITLES[callback_data.area]), reply_markup=back_to_menu()
        )


def create_router() -> Router:
    """A fresh router for the areas not yet available."""
    router = Router(name="areas")
    router.message.register(area_command, Command(*COMMAND_AREAS))
    router.callback_query.register(area_button, MenuCB.filter(F.area.in_(set(COMMAND_AREAS.values()))))
    return router
