"""/start, /help, /menu, /cancel and the main menu."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.callbacks import Area, MenuCB
from bot.keyboards import back_to_menu, main_menu
from bot.texts import HELP_TEXT, MENU_TEXT
from core.settings import Settings


def webapp_url(settings: Settings) -> str | None:
    """The Mini App URL when Telegram can open it (https only)."""
    base = settings.public_base_url.rstrip("/")
    return f"{base}/app" if base.startswith("https://") else None


async def show_menu(message: Message, settings: Settings, state: FSMContext) -> None:
    """Greet the admin with the main menu."""
    await state.clear()
    await message.answer(MENU_TEXT, reply_markup=main_menu(webapp_url(settings)))


async def show_help(message: Message) -> None:
    """What the bot does and its commands."""
    await message.answer(HELP_TEXT, reply_markup=back_to_menu())


async def cancel(message: Message, state: FSMContext) -> None:
    """Leave whatever dialog is open."""
    had_state = await state.get_state() is not None
    await state.clear()
    text = "Cancelled. Nothing was saved." if had_state else "Nothing to cancel."
    await message.answer(text, reply_markup=back_to_menu())


async def menu_button(query: CallbackQuery, settings: Settings, state: FSMContext) -> None:
    """Back to the main menu (edits the message in place)."""
    await state.clear()
    await query.answer()
    if query.message is not None and hasattr(query.message, "edit_text"):
        await query.message.edit_text(MENU_TEXT, reply_markup=main_menu(webapp_url(settings)))


async def help_button(query: CallbackQuery) -> None:
    """Help, from the menu."""
    await query.answer()
    if query.message is not None and hasattr(query.message, "edit_text"):
        await query.message.edit_text(HELP_TEXT, reply_markup=back_to_menu())


def create_router() -> Router:
    """A fresh router (a router attaches to one dispatcher only)."""
    router = Router(name="start")
    router.message.register(show_menu, CommandStart())
    router.message.register(show_menu, Command("menu"))
    router.message.register(show_help, Command("help"))
    router.message.register(cancel, Command("cancel"))
    router.callback_query.register(menu_button, MenuCB.filter(F.area == Area.MENU))
    router.callback_query.register(help_button, MenuCB.filter(F.area == Area.HELP))
    return router
