"""The bot's composition: Bot (pointed at TELEGRAM_API_BASE) and Dispatcher."""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommand, MenuButtonDefault, MenuButtonWebApp, WebAppInfo

from bot.handlers import get_routers
from bot.handlers.start import webapp_url
from bot.middlewares import AdminOnly
from bot.texts import COMMANDS
from core.bootstrap import Runtime
from core.settings import Settings

log = logging.getLogger("forwarder.bot")


def create_bot(settings: Settings) -> Bot:
    """A Bot that talks to the configured Bot API server."""
    settings.require_bot()
    assert settings.telegram_bot_token is not None
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base.rstrip("/")))
    return Bot(
        settings.telegram_bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_dispatcher(runtime: Runtime) -> Dispatcher:
    """The dispatcher with services injected by name and the admin gate on every update."""
    dp = Dispatcher(settings=runtime.settings, services=runtime.services, runtime=runtime)
    dp.update.outer_middleware(AdminOnly(runtime.settings.admin_ids))
    dp.include_routers(*get_routers())
    dp.startup.register(on_startup)
    return dp


async def on_startup(bot: Bot, settings: Settings) -> None:
    """Register commands and, when the Mini App is reachable over https, the menu button."""
    await bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS])
    url = webapp_url(settings)
    button = (
        MenuButtonWebApp(text="Open app", web_app=WebAppInfo(url=url)) if url else MenuButtonDefault()
    )
    await bot.set_chat_menu_button(menu_button=button)
    me = await bot.get_me()
    log.info("bot @%s is up; admins: %s", me.username, ", ".join(map(str, settings.admin_ids)))
