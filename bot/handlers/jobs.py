"""Jobs: active with progress, history, dead letter (retry, delete), job detail, logs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import views
from bot.callbacks import Area, JobAction, JobCB, MenuCB
from bot.handlers.common import show
from core.bootstrap import Services
from core.models import Job, JobStatus, LogLevel
from core.services.jobs import ACTIVE
from core.settings import Settings

FINISHED = [JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.CANCELLED]
LIVE_EVERY = 3.0  # seconds between edits of a live job card (Telegram: ~1 edit/s per chat is safe)
LIVE_FOR = 1800.0  # a card stops following its job after this long
_live: dict[tuple[int, int], asyncio.Task[None]] = {}


async def follow(message: Message, job_id: int, services: Services, settings: Settings) -> None:
    """Keep an opened job card up to date until the job ends (one edit at most every LIVE_EVERY s)."""
    last = message.text or ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LIVE_FOR
    try:
        while loop.time() < deadline:
            await asyncio.sleep(LIVE_EVERY)
            job, text, markup = await job_view(services, settings, job_id)
            if text != last:
                await message.edit_text(text, reply_markup=markup)  # type: ignore[arg-type]
                last = text
            if job.status not in ACTIVE:
                return
    except TelegramBadRequest:
        return  # the message was deleted or replaced: nothing left to follow
    finally:
        _live.pop((message.chat.id, message.message_id), None)


def watch(message: Message, job_id: int, services: Services, settings: Settings) -> None:
    """Follow ``job_id`` on ``message`` (one follower per message)."""
    key = (message.chat.id, message.message_id)
    old = _live.pop(key, None)
    if old is not None:
        old.cancel()
    _live[key] = asyncio.create_task(follow(message, job_id, services, settings))


async def job_view(services: Services, settings: Settings, job_id: int) -> tuple[Job, str, Any]:
    """A job's card with its recent log lines (one read of the job)."""
    job = await services.jobs.get(job_id)
    _, logs = await services.system.logs(job_id=job_id, min_level=LogLevel.DEBUG, limit=10)
    text, markup = views.job_card(job, logs, settings.timezone)
    return job, text, markup


async def render(services: Services, settings: Settings, action: JobAction, page: int = 0,
                 job_id: int = 0, level: str = "") -> tuple[str, object]:
    """The view for a jobs button or command."""
    jobs = services.jobs
    if action is JobAction.OPEN:
        _, text, markup = await job_view(services, settings, job_id)
        return text, markup
    if action is JobAction.LOGS:
        total, entries = await services.system.logs(min_level=LogLevel(level or "info"), limit=15)
        return views.log_list(total, entries, level, settings.timezone)
    if action is JobAction.DLQ:
        total, page_jobs = await jobs.list_jobs(dead_letter=True, limit=views.PAGE, offset=page * views.PAGE)
        return views.job_list("☠️ Dead letter", total, page_jobs, page, action,
                              "Nothing failed for good. 🎉")
    if action is JobAction.HISTORY:
        status, _, days = (level or ".").partition(".")
        statuses = [JobStatus(status)] if status else FINISHED
        since = services.jobs.clock() - timedelta(days=int(days)) if days.isdigit() else None
        total, page_jobs = await jobs.list_jobs(statuses=statuses, connection_id=job_id or None, since=since,
                                                limit=views.PAGE, offset=page * views.PAGE)
        title = "📜 Job history" + (f" of {views.e((await services.connections.get(job_id)).name)}"
                                   if job_id else "")
        return views.history(title, total, page_jobs, page, job_id, status, days)
    total, page_jobs = await jobs.list_jobs(statuses=list(ACTIVE), limit=views.PAGE, offset=page * views.PAGE)
    return views.job_list("⚙️ Active jobs", total, page_jobs, page, JobAction.ACTIVE, "Nothing is running.")


async def command(message: Message, services: Services, settings: Settings) -> None:
    """/jobs, /dlq and /logs."""
    name = (message.text or "/jobs").split()[0][1:].split("@")[0].lower()
    action = {"dlq": JobAction.DLQ, "logs": JobAction.LOGS}.get(name, JobAction.ACTIVE)
    text, markup = await render(services, settings, action)
    await show(message, text, markup)  # type: ignore[arg-type]


async def menu(query: CallbackQuery, services: Services, settings: Settings) -> None:
    text, markup = await render(services, settings, JobAction.ACTIVE)
    await show(query, text, markup)  # type: ignore[arg-type]


async def action(query: CallbackQuery, callback_data: JobCB, services: Services, settings: Settings) -> None:
    """Every jobs button."""
    act, job_id = callback_data.action, callback_data.id
    if act is JobAction.RETRY:
        new = await services.jobs.retry_dead(job_id)
        text, markup = await render(services, settings, JobAction.OPEN, job_id=new.id)
        await show(query, f"🔁 Job {new.id} created to retry job {job_id}.\n\n" + text, markup)  # type: ignore[arg-type]
        return
    if act is JobAction.DELETE:
        await services.jobs.delete(job_id)
        text, markup = await render(services, settings, JobAction.DLQ)
        await show(query, f"🗑 Job {job_id} deleted.\n\n" + text, markup)  # type: ignore[arg-type]
        return
    if act is JobAction.CANCEL:
        await services.jobs.cancel(job_id)
        act = JobAction.OPEN
    if act is JobAction.OPEN:
        job, text, markup = await job_view(services, settings, job_id)
        await show(query, text, markup)
        if job.status in ACTIVE and isinstance(query.message, Message):
            watch(query.message, job_id, services, settings)
        return
    text, markup = await render(services, settings, act, callback_data.page, job_id, callback_data.level)
    await show(query, text, markup)  # type: ignore[arg-type]


def create_router() -> Router:
    """A fresh router for the jobs area."""
    router = Router(name="jobs")
    router.message.register(command, Command("jobs", "dlq", "logs"))
    router.callback_query.register(menu, MenuCB.filter(F.area == Area.JOBS))
    router.callback_query.register(action, JobCB.filter())
    return router
