"""Long-running processes: up (all in one), bot, worker, web."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import ClientError, web

from core.bootstrap import Runtime, open_runtime
from core.errors import ConfigError
from core.settings import Settings
from jobs.worker import build_worker
from webapp.app import create_app

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger("forwarder")


async def check_bot(bot: Bot, settings: Settings) -> None:
    """Fail early and clearly when the token or the Bot API server is wrong."""
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

    try:
        await asyncio.wait_for(bot.get_me(), 20)
    except TelegramUnauthorizedError:
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN", "was rejected by Telegram (401 Unauthorized)",
            "Copy the token again from @BotFather (/mybots -> your bot -> API Token)",
        ) from None
    except (TelegramNetworkError, ClientError, OSError, TimeoutError) as exc:
        raise ConfigError(
            "TELEGRAM_API_BASE", f"the Bot API at {settings.telegram_api_base} is unreachable "
            f"({exc.__class__.__name__})",
            "Check the network or the TELEGRAM_API_BASE value",
        ) from None


async def start_web(runtime: Runtime) -> web.AppRunner:
    """Serve the web app on WEB_HOST:WEB_PORT."""
    settings = runtime.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    runner = web.AppRunner(create_app(runtime, session_timeout=settings.webapp_session_seconds,
                                      metrics_token=token), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            "WEB_PORT", f"cannot listen on {settings.web_host}:{settings.web_port} ({exc.strerror})",
            "Pick a free port with WEB_PORT (or WEB_HOST), or stop what uses it",
        ) from None
    log.info("web listening on http://%s:%s", settings.web_host, settings.web_port)
    return runner


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(settings: Settings, *, bot: bool, worker: bool, web_app: bool, embedded: bool,
                migrate: bool = False, on_ready: Callable[[Runtime], Awaitable[None]] | None = None
                ) -> None:
    """Run the chosen faces in this process until SIGINT/SIGTERM, then stop them in order."""
    started = time.monotonic()
    if bot:
        settings.require_bot()
    if not embedded and settings.uses_embedded_redis:
        raise ConfigError(
            "REDIS_URL", "is not set, and this process cannot share an embedded Redis",
            "Set REDIS_URL to the Redis server all processes use, or run `forwarder up`",
        )
    stop = _stop_event()
    from jobs.queue import ArqQueue

    runtime = await open_runtime(settings, migrate=migrate, start_embedded_redis=embedded,
                                 queue_factory=ArqQueue)
    from webapp.media import media_url_for

    # Graph API uploads fetch the video from a signed, expiring URL of the web app (https only).
    runtime.services.forward.media_url = media_url_for(runtime)
    tasks: list[asyncio.Task[None]] = []
    tg_bot = dp = worker_obj = runner = None
    try:
        if bot:
            # aiogram costs seconds to import: only processes that run the bot pay for it.
            from bot.app import create_bot, create_dispatcher

            tg_bot = create_bot(settings)
            await check_bot(tg_bot, settings)
            dp = create_dispatcher(runtime)
            tasks.append(asyncio.create_task(
                dp.start_polling(tg_bot, handle_signals=False, close_bot_session=False), name="bot"))
        if worker:
            worker_obj = build_worker(runtime)
            tasks.append(asyncio.create_task(worker_obj.async_run(), name="worker"))
        if web_app:
            runner = await start_web(runtime)
        log.info("ready in %.2f s (Ctrl-C stops)", time.monotonic() - started)
        if on_ready is not None:
            await on_ready(runtime)
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        for task in done:
            if task is not waiter and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        log.info("stopping")
    finally:
        if dp is not None:
            with contextlib.suppress(RuntimeError):
                await dp.stop_polling()
        if worker_obj is not None:
            worker_obj.handle_sig(signal.SIGUSR1)
            with contextlib.suppress(Exception):
                await worker_obj.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if runner is not None:
            await runner.cleanup()
        if tg_bot is not None:
            await tg_bot.session.close()
        await runtime.close()
        log.info("stopped")
