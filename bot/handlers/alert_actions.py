"""Buttons of the alerts in the channel: Retry a failed job, Mark a CAPTCHA solved, Enter a code."""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.handlers.common import delete_quietly
from core.bootstrap import Services
from core.services.jobs import CaptchaResolution


class CodeEntry(StatesGroup):
    """Waiting for the security code Instagram sent."""

    code = State()


def resolved_text(result: CaptchaResolution, alias: str) -> str:
    return (f"✅ {html.escape(alias)} is active again.\n"
            f"Connections resumed: {', '.join(map(str, result.connections_resumed)) or 'none'}\n"
            f"Jobs requeued: {', '.join(map(str, result.jobs_requeued)) or 'none'}")


async def retry(query: CallbackQuery, services: Services) -> None:
    job_id = int((query.data or "").rsplit(":", 1)[1])
    new = await services.jobs.retry_dead(job_id)
    await query.answer(f"Job {new.id} queued to retry job {job_id}")


async def solved(query: CallbackQuery, services: Services) -> None:
    account_id = int((query.data or "").rsplit(":", 1)[1])
    account = await services.accounts.get(account_id)
    result = await services.jobs.resolve_captcha(account_id, notes="marked solved from the alert")
    await query.answer("Marked solved")
    if query.from_user is not None and query.bot is not None:
        await query.bot.send_message(query.from_user.id, resolved_text(result, account.alias))


async def ask_code(query: CallbackQuery, services: Services, state: FSMContext) -> None:
    account_id = int((query.data or "").rsplit(":", 1)[1])
    account = await services.accounts.get(account_id)
    await state.set_state(CodeEntry.code)
    await state.update_data(account_id=account_id)
    await query.answer()
    if query.from_user is not None and query.bot is not None:
        await query.bot.send_message(
            query.from_user.id, f"🔢 Send the security code Instagram sent for {html.escape(account.alias)} "
            "(4 to 8 digits), or /cancel.")


async def take_code(message: Message, services: Services, state: FSMContext) -> None:
    data = await state.get_data()
    account_id = int(data["account_id"])
    code = (message.text or "").strip()
    await delete_quietly(message)  # the code is a secret: it does not stay in the chat
    account = await services.accounts.get(account_id)
    result = await services.jobs.submit_security_code(account_id, code)
    await state.clear()
    await message.answer(resolved_text(result, account.alias))


def create_router() -> Router:
    """A fresh router for alert buttons and the code dialog."""
    router = Router(name="alert_actions")
    router.callback_query.register(retry, F.data.startswith("al:retry:"))
    router.callback_query.register(solved, F.data.startswith("al:solved:"))
    router.callback_query.register(ask_code, F.data.startswith("al:code:"))
    router.message.register(take_code, StateFilter(CodeEntry.code), F.text & ~F.text.startswith("/"))
    return router
