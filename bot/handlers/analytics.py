"""Analytics: the period's figures and its five charts, sent as photos."""

from __future__ import annotations

import asyncio

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.callbacks import AnaCB, Area, MenuCB
from bot.handlers.common import show
from bot.views import e, menu_button
from charts import (
    DailyPoint,
    render_failure_breakdown,
    render_job_volume,
    render_success_trend,
    render_top_connections,
    render_uptime_calendar,
)
from core.bootstrap import Services
from core.services.analytics_figures import Period

PERIODS = (7, 30, 90)


def periods_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=f"📊 {d} days", callback_data=AnaCB(days=d).pack()) for d in PERIODS],
        [menu_button()]])


async def summary(services: Services, days: int) -> str:
    data = await services.analytics.system_summary(Period.last(days))
    totals = data["totals"]
    rate = totals.get("success_rate")
    mb_in = data["bytes_processed"]["bytes_in"] / 1e6
    lines = [f"📊 <b>Last {days} days</b>",
             f"Jobs: {totals.get('total', 0)} · succeeded {totals.get('succeeded', 0)} · "
             f"failed {totals.get('failed', 0)}",
             f"Success rate: {f'{rate:.1f}%' if rate is not None else '—'}",
             f"Processed: {mb_in:.1f} MB downloaded"]
    for project in data["quota_today"]["projects"]:
        lines.append(f"YouTube quota today ({e(project.get('project_key', '?'))}): "
                     f"{project.get('units', 0)} units, {project.get('uploads', 0)} uploads")
    return "\n".join(lines)


async def charts(services: Services, days: int) -> list[tuple[str, bytes]]:
    """The five charts of the period, rendered off the event loop."""
    period = Period.last(days)
    analytics = services.analytics
    series = [DailyPoint(day, s, f, r) for day, s, f, r in await analytics.daily_series(period)]
    failures = await analytics.failure_counts(period)
    top = await analytics.top_connections(period)
    uptime = await analytics.uptime_days(period)
    jobs = [("success-trend", lambda: render_success_trend(series)),
            ("job-volume", lambda: render_job_volume(series)),
            ("failures", lambda: render_failure_breakdown(failures)),
            ("top-connections", lambda: render_top_connections(top)),
            ("uptime", lambda: render_uptime_calendar(uptime))]
    return [(name, await asyncio.to_thread(render)) for name, render in jobs]


async def command(message: Message, services: Services) -> None:
    await show(message, await summary(services, 30), periods_keyboard())


async def menu(query: CallbackQuery, services: Services) -> None:
    await show(query, await summary(services, 30), periods_keyboard())


async def period(query: CallbackQuery, callback_data: AnaCB, services: Services) -> None:
    days = callback_data.days if callback_data.days in PERIODS else 30
    await show(query, await summary(services, days), periods_keyboard())
    if isinstance(query.message, Message):
        for name, png in await charts(services, days):
            await query.message.answer_photo(BufferedInputFile(png, filename=f"{name}.png"))


def create_router() -> Router:
    """A fresh router for the analytics area."""
    router = Router(name="analytics")
    router.message.register(command, Command("analytics"))
    router.callback_query.register(menu, MenuCB.filter(F.area == Area.ANALYTICS))
    router.callback_query.register(period, AnaCB.filter())
    return router
