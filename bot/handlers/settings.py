"""Settings: alert channel and kinds, test alert, retry defaults, retention, quota budgets,
time zone and instance name, workers and queue."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import Area, MenuCB, SetCB
from bot.handlers.common import reply, show
from bot.views import e, menu_button
from core.bootstrap import Services
from core.errors import InvalidInput
from core.services.alerts import AlertKind

# What a typed value changes: prompt, section, key, how to read the text.
EDITABLE: dict[str, tuple[str, str, str, Any]] = {
    "instance": ("the instance name shown in alerts", "general", "instance_name", str),
    "timezone": ("the IANA time zone, e.g. Europe/Berlin", "general", "timezone", str),
    "attempts": ("the default number of attempts (1-20)", "retry", "max_attempts", int),
    "logs_days": ("how many days logs are kept", "retention", "logs_days", int),
    "files_days": ("how many days a failed job's files are kept", "retention", "job_files_days", int),
    "units": ("the YouTube units per day per Google project", "quota", "youtube_daily_units", int),
    "uploads": ("the YouTube uploads per day per Google project", "quota", "youtube_daily_uploads", int),
    "chat": ("the alert chat: @channel or its numeric id", "alerts", "chat_id", str),
}


class EditSetting(StatesGroup):
    """Waiting for a typed value."""

    value = State()


def _b(text: str, section: str, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=SetCB(section=section, value=value).pack())


async def overview(services: Services) -> tuple[str, InlineKeyboardMarkup]:
    s = await services.system.settings()
    cfg = await services.alerts.config()
    health = await services.health.check()
    queue = (await services.analytics.dashboard_summary())["queue"]["pending_jobs"]
    lines = ["🔧 <b>Settings</b>", "",
             f"Instance: <b>{e(s['general']['instance_name'])}</b> · time zone {e(s['general']['timezone'])}",
             f"Alert chat: {e(cfg.chat_id or 'not set')} · "
             f"{len(cfg.enabled)} of {len(AlertKind) - 1} kinds on",
             f"Retry: {s['retry']['max_attempts']} attempts, {s['retry']['initial_delay_seconds']:g} s × "
             f"{s['retry']['backoff_multiplier']:g}, at most {s['retry']['max_delay_seconds']:g} s",
             f"Retention: logs {s['retention']['logs_days']} d, failed job files "
             f"{s['retention']['job_files_days']} d, alerts {s['retention']['notifications_days']} d",
             f"YouTube budget per project: {s['quota']['youtube_daily_units']} units, "
             f"{s['quota']['youtube_daily_uploads']} uploads a day",
             f"Workers alive: {health.workers} · jobs waiting: {queue}"]
    rows = [[_b("🏷 Instance name", "edit", "instance"), _b("🌍 Time zone", "edit", "timezone")],
            [_b("🔔 Alert chat", "edit", "chat"), _b("🔔 Alert kinds", "kinds"), _b("📨 Test alert", "test")],
            [_b("🔁 Attempts", "edit", "attempts"), _b("🧹 Log days", "edit", "logs_days"),
             _b("🧹 File days", "edit", "files_days")],
            [_b("📉 Units/day", "edit", "units"), _b("📤 Uploads/day", "edit", "uploads")],
            [menu_button()]]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def kinds_view(services: Services) -> tuple[str, InlineKeyboardMarkup]:
    cfg = await services.alerts.config()
    rows = [[_b(("✅ " if kind in cfg.enabled else "⬜ ") + kind.value.replace("_", " "), "toggle",
                kind.value)] for kind in AlertKind if kind is not AlertKind.TEST]
    rows.append([_b("⬅️ Settings", "home")])
    return "🔔 <b>Which alerts go out</b> (tap to switch)", InlineKeyboardMarkup(inline_keyboard=rows)


async def command(message: Message, services: Services) -> None:
    text, markup = await overview(services)
    await show(message, text, markup)


async def menu(query: CallbackQuery, services: Services) -> None:
    text, markup = await overview(services)
    await show(query, text, markup)


async def action(query: CallbackQuery, callback_data: SetCB, services: Services, state: FSMContext) -> None:
    section, value = callback_data.section, callback_data.value
    if section == "kinds":
        text, markup = await kinds_view(services)
        await show(query, text, markup)
    elif section == "toggle":
        enabled = set((await services.alerts.config()).enabled) ^ {AlertKind(value)}
        await services.alerts.configure(enabled=enabled)
        text, markup = await kinds_view(services)
        await show(query, text, markup)
    elif section == "test":
        report = await services.alerts.test()
        await query.answer("Test alert sent" if report.sent else
                           f"Not sent: {'; '.join(report.errors) or 'no bot token'}"[:190], show_alert=True)
    elif section == "edit" and value in EDITABLE:
        await state.set_state(EditSetting.value)
        await state.update_data(key=value)
        await reply(query, f"✏️ Send {EDITABLE[value][0]}, or /cancel.")
    else:
        text, markup = await overview(services)
        await show(query, text, markup)


async def take_value(message: Message, services: Services, state: FSMContext) -> None:
    key = (await state.get_data()).get("key", "")
    prompt, section, field, kind = EDITABLE[key]
    raw = (message.text or "").strip()
    try:
        value = kind(raw)
    except ValueError:
        await message.answer(f"❌ '{e(raw)}' is not a whole number. Send {prompt}, or /cancel.")
        return
    try:
        if section == "alerts":
            await services.alerts.configure(**{field: value})
        else:
            await services.system.update(section, {field: value})
    except InvalidInput as exc:
        await message.answer("❌ " + e("; ".join(exc.fields.values())) + f"\nSend {prompt}, or /cancel.")
        return
    await state.clear()
    text, markup = await overview(services)
    await message.answer("✅ Saved.\n\n" + text, reply_markup=markup)


def create_router() -> Router:
    """A fresh router for the settings area."""
    router = Router(name="settings")
    router.message.register(command, Command("settings"))
    router.callback_query.register(menu, MenuCB.filter(F.area == Area.SETTINGS))
    router.callback_query.register(action, SetCB.filter())
    router.message.register(take_value, StateFilter(EditSetting.value), F.text & ~F.text.startswith("/"))
    return router
