"""The error router: domain errors become clear replies; the rest is logged."""

from __future__ import annotations

import html
import logging

from aiogram import Router
from aiogram.types import ErrorEvent

from core.errors import ConfigError, ForwarderError
from core.platforms.proxy import ProxyInputError

log = logging.getLogger("forwarder.bot")


def describe(exc: BaseException) -> str:
    """The admin-facing text for an error."""
    if isinstance(exc, ForwarderError):
        return f"❌ {html.escape(exc.message)}\n💡 {html.escape(exc.hint)}"
    if isinstance(exc, ProxyInputError):
        return f"❌ {html.escape(exc.message)}"
    if isinstance(exc, ConfigError):
        return f"❌ {html.escape(str(exc))}"
    return (
        "❌ Something went wrong while handling that "
        f"({html.escape(type(exc).__name__)}). It was logged; /logs shows the details."
    )


async def on_error(event: ErrorEvent) -> bool:
    """Log the failure and tell the admin what happened."""
    exc = event.exception
    if isinstance(exc, ForwarderError | ConfigError | ProxyInputError):
        log.warning("handler error: %s", exc)
    else:
        log.exception("unhandled error in a handler", exc_info=exc)
    update = event.update
    text = describe(exc)
    if update.callback_query is not None:
        await update.callback_query.answer("Failed; see the message below.")
        if update.callback_query.message is not None:
            await update.callback_query.message.answer(text)  # type: ignore[union-attr]
    elif update.message is not None:
        await update.message.answer(text)
    return True


def create_router() -> Router:
    """A fresh error router."""
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
