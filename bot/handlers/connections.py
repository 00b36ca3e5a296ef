"""Connections: list, card, start/stop/pause/resume, run now, dry run, delete."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot import views
from bot.callbacks import Area, ConnAction, ConnCB, MenuCB
from bot.handlers.common import reply, show
from core.bootstrap import Services
from core.settings import Settings


async def list_command(message: Message, services: Services) -> None:
    text, markup = views.connection_list(await services.connections.list(), 0)
    await show(message, text, markup)


async def list_button(query: CallbackQuery, services: Services) -> None:
    text, markup = views.connection_list(await services.connections.list(), 0)
    await show(query, text, markup)


async def action(query: CallbackQuery, callback_data: ConnCB, services: Services, settings: Settings) -> None:
    """Every button of the list and the card."""
    act, cid, page = callback_data.action, callback_data.id, callback_data.page
    connections = services.connections
    if act is ConnAction.LIST:
        text, markup = views.connection_list(await connections.list(), page)
        await show(query, text, markup)
        return
    if act is ConnAction.DELETE:
        text, markup = views.confirm_delete(await connections.get(cid), page)
        await show(query, text, markup)
        return
    if act is ConnAction.DELETE_YES:
        name = (await connections.get(cid)).name
        await connections.delete(cid)
        text, markup = views.connection_list(await connections.list(), page)
        await show(query, f"🗑 Deleted <b>{views.e(name)}</b>.\n\n" + text, markup)
        return
    if act is ConnAction.DRY:
        await dry_run(query, cid, services)
        return
    toast = ""
    if act is ConnAction.RUN:
        result = await connections.run_now(cid)
        if isinstance(query.message, Message):
            await query.message.answer(views.run_now_result(result))
        toast = "Run started"
    elif act is not ConnAction.OPEN:
        result = await {
            ConnAction.START: connections.start, ConnAction.RESUME: connections.resume,
            ConnAction.STOP: connections.stop, ConnAction.PAUSE: connections.pause,
        }[act](cid)
        toast = str(result.get("message", "Done"))
    text, markup = views.connection_card(await connections.get(cid), settings.timezone, page)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)
    await query.answer(toast[:190] or None)


async def dry_run(query: CallbackQuery, connection_id: int, services: Services) -> None:
    """Run the dry run, then send its report and the before/after previews."""
    note = await reply(query, "🧪 Dry run started: downloading and transforming up to 5 posts…")
    folder = Path(tempfile.mkdtemp(prefix="dry-previews-"))
    try:
        report = await services.dry_run.run(connection_id, keep_dir=folder)
        text = views.dry_run_report(report)
        if note is not None:
            await note.edit_text(text)
        for path in report["dry_run_results"]["previews"][:5]:
            data = await asyncio.to_thread(Path(path).read_bytes)
            if note is not None:
                await note.answer_photo(BufferedInputFile(data, filename=Path(path).name),
                                        caption=f"before | after — {views.e(Path(path).stem.split('-')[0])}")
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


def create_router() -> Router:
    """A fresh router for the connections area."""
    router = Router(name="connections")
    router.message.register(list_command, Command("connections"))
    router.callback_query.register(list_button, MenuCB.filter(F.area == Area.CONNECTIONS))
    router.callback_query.register(action, ConnCB.filter())
    return router
