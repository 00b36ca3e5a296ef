"""A minimal Bot API client for alerts (aiohttp; ``core`` does not use aiogram).

``sendMessage`` only: the alert outbox needs a message id back and Telegram's errors in
words. Requests go to ``{TELEGRAM_API_BASE}/bot{token}/sendMessage``.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from core.errors import ErrorCode, ForwarderError, TransientError

Button = tuple[str, str]
"""(text, target): a target starting with http(s):// is a URL button, anything else callback data."""


class TelegramRetryAfter(TransientError):
    """Telegram asked to wait (HTTP 429)."""


def keyboard(rows: list[list[Button]]) -> dict[str, Any]:
    """An inline keyboard from (text, url-or-callback) pairs."""
    def button(text: str, target: str) -> dict[str, str]:
        if target.startswith(("https://", "http://")):
            return {"text": text, "url": target}
        return {"text": text, "callback_data": target[:64]}
    return {"inline_keyboard": [[button(t, x) for t, x in row] for row in rows if row]}


class TelegramSender:
    """Sends messages as the bot; the token never appears in errors."""

    def __init__(self, api_base: str, token: str, *, timeout: float = 20.0) -> None:
        self.url = f"{api_base.rstrip('/')}/bot{token}/sendMessage"
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def send_message(self, chat_id: str | int, text: str, buttons: list[list[Button]] | None = None
                           ) -> int:
        """Send HTML ``text``; return the message id."""
        data: dict[str, Any] = {"chat_id": str(chat_id), "text": text, "parse_mode": "HTML",
                                "link_preview_options": json.dumps({"is_disabled": True})}
        if buttons:
            data["reply_markup"] = json.dumps(keyboard(buttons))
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session, \
                    session.post(self.url, data=data) as response:
                body = await response.json(content_type=None)
        except TimeoutError:
            raise TransientError("Telegram did not answer in time", code=ErrorCode.NETWORK_TIMEOUT) from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise TransientError(f"Telegram is unreachable ({type(exc).__name__})",
                                 code=ErrorCode.NETWORK_TIMEOUT) from None
        if body.get("ok"):
            return int(body["result"]["message_id"])
        code = int(body.get("error_code") or response.status)
        description = str(body.get("description") or "no description")
        if code == 429:
            wait = float((body.get("parameters") or {}).get("retry_after") or 5)
            raise TelegramRetryAfter(f"Telegram asks to wait {wait:g} s", code=ErrorCode.API_RATE_LIMIT,
                                     retry_after=wait)
        if code >= 500:
            raise TransientError(f"Telegram answered {code}: {description}")
        if code in (400, 403):
            raise ForwarderError(
                f"Telegram refused the alert ({code}: {description})", code=ErrorCode.INVALID_INPUT,
                hint="Check ALERT_CHAT_ID and that the bot is an administrator of the channel.")
        raise ForwarderError(f"Telegram refused the alert ({code}: {description})")
