"""Shared by the bad-input and security tests: Telegram's own text rules, a stricter fake Bot
API that enforces them, hostile strings, and a snapshot of every database row.

The plain fake (``tests/fakes/telegram.py``) stores whatever it is sent. The real Bot API
refuses a text over 4096 characters after entity parsing, a caption over 1024, a callback
answer over 200, and HTML it cannot parse (an unknown or unclosed tag). A bot that builds
such a message from the admin's input fails to answer at all, so these tests run the real
dispatcher against :class:`StrictTelegram`, which refuses them the same way.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from typing import Any

from tortoise import Tortoise

from tests.bot.conftest import ADMIN, BotHarness
from tests.fakes.telegram import ApiError, FakeTelegram

TEXT_MAX, CAPTION_MAX, ANSWER_MAX = 4096, 1024, 200
# Tags the Bot API's HTML parse mode knows (https://core.telegram.org/bots/api#html-style).
TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
                  "tg-spoiler", "tg-emoji", "blockquote"})
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")

# What an admin can type: emoji (with joiners), right-to-left scripts with their marks,
# markup that must stay text, and the longest inputs.
EMOJI = "🔥👨‍👩‍👧🏳️‍🌈✨"
RTL = "مرحبا بالعالم \u200fשלום עולם"
MARKUP = "<b>bold</b> <script>alert(1)</script> & <a href='x'>"
LONG = "x" * 5000


class TelegramHtmlError(ValueError):
    """What the Bot API answers for text it cannot parse."""


def telegram_text(text: str, parse_mode: str | None = "HTML") -> str:
    """The text as Telegram shows it (entities decoded, tags removed); raises like the API."""
    if parse_mode != "HTML":
        return text
    out: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            end = text.find(">", i)
            if end < 0:
                raise TelegramHtmlError(f"can't parse entities: Unclosed start tag at byte offset {i}")
            inside = text[i + 1:end]
            if inside.startswith("/"):
                name = inside[1:].strip().lower()
                if not open_tags or open_tags[-1] != name:
                    raise TelegramHtmlError(f"can't parse entities: Unmatched end tag at byte offset {i}")
                open_tags.pop()
            else:
                match = _TAG_NAME.match(inside)
                if match is None or match[0].lower() not in TAGS:
                    raise TelegramHtmlError(f"can't parse entities: Unsupported start tag at byte offset {i}")
                open_tags.append(match[0].lower())
            i = end + 1
            continue
        if char == "&" and (entity := _ENTITY.match(text, i)):
            out.append(html.unescape(entity[0]))
            i = entity.end()
            continue
        out.append(char)  # an '&' that starts no entity stays as typed, as Telegram keeps it
        i += 1
    if open_tags:
        raise TelegramHtmlError(f"can't parse entities: Can't find end tag corresponding to start tag "
                                f"\"{open_tags[-1]}\"")
    return "".join(out)


def check_message(text: str, *, limit: int = TEXT_MAX, parse_mode: str | None = "HTML") -> str:
    """The shown text of a message the Bot API accepts; AssertionError naming the rule otherwise."""
    try:
        shown = telegram_text(text, parse_mode)
    except TelegramHtmlError as exc:
        raise AssertionError(f"Telegram refuses this HTML ({exc}): {text[:300]!r}") from None
    assert shown.strip(), "Telegram refuses an empty text"
    assert len(shown) <= limit, f"{len(shown)} characters after parsing; Telegram accepts {limit}"
    return shown


class StrictTelegram(FakeTelegram):
    """The fake Bot API, refusing what the real one refuses: too long, unparseable, empty."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused: list[str] = []
        for method, key, limit in (("sendMessage", "text", TEXT_MAX), ("editMessageText", "text", TEXT_MAX),
                                   ("sendPhoto", "caption", CAPTION_MAX),
                                   ("sendDocument", "caption", CAPTION_MAX),
                                   ("sendVideo", "caption", CAPTION_MAX),
                                   ("editMessageCaption", "caption", CAPTION_MAX)):
            self._routes[method] = self._checked(self._routes[method], key, limit)
        self._routes["answerCallbackQuery"] = self._checked(self._routes["answerCallbackQuery"], "text",
                                                            ANSWER_MAX, html_mode=False)

    def _checked(self, route: Callable[..., Any], key: str, limit: int, *, html_mode: bool = True
                 ) -> Callable[..., Any]:
        def call(params: dict[str, Any], uploads: dict[str, Any]) -> Any:
            value = params.get(key)
            if isinstance(value, str):
                mode = params.get("parse_mode") if html_mode else None
                try:
                    shown = telegram_text(value, mode)
                except TelegramHtmlError as exc:
                    self.refused.append(f"{exc}: {value[:120]!r}")
                    raise ApiError(400, f"Bad Request: {exc}") from None
                if len(shown) > limit:
                    self.refused.append(f"{key} of {len(shown)} characters: {value[:120]!r}")
                    what = "message" if key == "text" else f"message {key}"
                    raise ApiError(400, f"Bad Request: {what} is too long")
            return route(params, uploads)
        return call


# ---- driving the bot ---------------------------------------------------------------------------

def sent_after(h: BotHarness, mark: int, chat: int = ADMIN) -> list[dict[str, Any]]:
    """Messages the bot sent or edited into ``chat`` since call ``mark`` that the API accepted:
    ``{"text", "message_id", "markup"}`` each."""
    out = []
    for c in h.tg.calls[mark:]:
        if c.method not in ("sendMessage", "editMessageText") or c.params.get("chat_id") != chat \
                or c.error_code is not None or c.result is None:
            continue
        message_id = c.result["message_id"] if c.method == "sendMessage" else c.params["message_id"]
        out.append({"text": str(c.params.get("text", "")), "message_id": message_id,
                    "markup": c.params.get("reply_markup")})
    return out


async def answer(h: BotHarness, mark: int, contains: str, timeout: float = 5.0  # noqa: ASYNC109
                 ) -> dict[str, Any]:
    """The first message since ``mark`` whose text contains ``contains`` (fails listing what was sent)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for message in sent_after(h, mark):
            if contains in message["text"] or contains in _shown(message["text"]):
                return message
        await asyncio.sleep(0.01)
    sent = [m["text"][:200] for m in sent_after(h, mark)]
    raise AssertionError(f"no answer containing {contains!r}; sent: {sent}; "
                         f"refused by the API: {getattr(h.tg, 'refused', [])!r}")


def _shown(text: str) -> str:
    try:
        return telegram_text(text)
    except TelegramHtmlError:
        return text


async def settle(h: BotHarness, mark: int, seconds: float = 0.3) -> list[str]:
    """Let the dispatcher finish; the texts it sent since ``mark``."""
    await asyncio.sleep(seconds)
    return [m["text"] for m in sent_after(h, mark)]


async def say(h: BotHarness, text: str, expect: str) -> dict[str, Any]:
    """The admin types ``text``; the bot's answer containing ``expect``."""
    mark = len(h.tg.calls)
    h.tg.send_message(ADMIN, text)
    return await answer(h, mark, expect)


async def upload(h: BotHarness, name: str, content: bytes, expect: str) -> dict[str, Any]:
    """The admin sends a file; the bot's answer containing ``expect``."""
    mark = len(h.tg.calls)
    h.tg.send_document(ADMIN, name, content)
    return await answer(h, mark, expect)


async def tap(h: BotHarness, message: dict[str, Any], data: str, expect: str) -> dict[str, Any]:
    """The admin presses ``data`` on ``message`` (buttons of old messages too)."""
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, message["message_id"], data, strict=False)
    return await answer(h, mark, expect)


# ---- the database ------------------------------------------------------------------------------

async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as the ORM reads it (equal snapshots: nothing changed)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for model in Tortoise.apps["models"].values():
        out[model._meta.db_table] = [dict(r) for r in await model.all().order_by("id").values()]
    return out
