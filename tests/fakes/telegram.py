"""A wire-level fake of the Telegram Bot API for driving a real aiogram ``Bot`` in tests.

Sources for what it imitates:

* [bot-api] https://core.telegram.org/bots/api: ``POST /bot<token>/<method>`` with form or
  multipart parameters (files as ``attach://<name>`` parts), replies ``{"ok": true, "result"}`` or
  ``{"ok": false, "error_code", "description", "parameters": {"retry_after"}}``; getUpdates long
  polling with ``offset``/``timeout``; text at most 4096 characters, captions 1024, callback data
  1-64 bytes; files at ``/file/bot<token>/<file_path>``.
* aiogram 3.31 ``aiogram/client/session/base.py`` (``check_response``): which descriptions and
  codes become ``TelegramBadRequest``, ``TelegramRetryAfter`` (429) and ``TelegramForbiddenError``
  (a real HTTP 403); the "message is not modified" text below is what Telegram answers an edit that
  changes nothing, as reported verbatim in https://github.com/eternnoir/pyTelegramBotAPI/issues/763.

Simplifications: text is stored as sent (parse_mode is not rendered into entities), message ids
are unique across chats, and getUpdates holds a long poll for at most ``long_poll_cap`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import mimetypes
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from itertools import count
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web

Params = dict[str, Any]
Uploads = dict[str, tuple[bytes, str]]  # param name -> (content, filename)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
# Params kept as strings even when they look like numbers, booleans or JSON.
_TEXT_PARAMS = frozenset({"text", "caption", "callback_query_id", "inline_message_id", "file_id",
                          "parse_mode", "url", "secret_token", "title", "description", "name"})
_CHAT_BOUND = ("send", "edit", "copy", "forward")  # methods refused for blocked chats


@dataclass
class Call:
    """One request the bot made; ``error_code``/``result`` are filled in once answered."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    error_code: int | None = None
    result: Any = None


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    content: bytes
    file_path: str
    file_name: str | None = None

    def meta(self) -> Params:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": len(self.content)}


class ApiError(Exception):
    """An ``ok: false`` answer: Bot API error code (= HTTP status) and description."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code, self.description, self.retry_after = code, description, retry_after

    def response(self) -> web.Response:
        """The error as the real server sends it, HTTP status included."""
        body: Params = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.code)


def _coerce(key: str, value: str) -> Any:
    if key not in _TEXT_PARAMS and re.fullmatch(r"-?\d+|true|false|[\[{].*", value, re.S):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _chat(chat_id: int) -> Params:
    kind = "private" if chat_id > 0 else "supergroup" if str(chat_id)[:4] == "-100" else "group"
    return {"id": chat_id, "type": kind}


def _buttons(message: Params) -> list[Any]:
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [button for row in rows for button in row]


def button_datas(message: dict[str, Any]) -> list[str]:
    """Callback data of every inline button of a message, row by row."""
    return [b["callback_data"] for b in _buttons(message)
            if isinstance(b, dict) and "callback_data" in b]


def button_texts(message: dict[str, Any]) -> list[str]:
    """Texts of every button (inline or reply keyboard) of a message, row by row."""
    return [b["text"] if isinstance(b, dict) else str(b) for b in _buttons(message)]


class FakeTelegram:
    """An aiohttp server on 127.0.0.1 speaking the Bot API wire protocol, with test hooks."""

    def __init__(self, token: str = "123456789:AAFakeTokenForTestsOnly_abcdefghijk", *,
                 bot_id: int = 123456789, bot_username: str = "forwarder_test_bot") -> None:
        self.token = token
        self.bot_user: dict[str, Any] = {"id": bot_id, "is_bot": True, "username": bot_username,
                                         "first_name": "Forwarder Test", "can_join_groups": True}
        self.base_url = ""
        self.long_poll_cap = 1.0  # longest hold of a getUpdates request, in seconds
        self.upload_limit = 50 * 1024 * 1024  # bigger requests -> 413 like the real API
        self.download_limit = 20 * 1024 * 1024  # getFile on bigger files -> "file is too big"
        self.calls: list[Call] = []
        self.answered_callbacks: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.menu_button: dict[str, Any] | None = None
        self._updates: list[Params] = []
        self._messages: dict[tuple[int, int], Params] = {}
        self._files: dict[str, _File] = {}
        self._failures: dict[str, list[ApiError]] = {}
        self._blocked: set[int] = set()
        self._ids = {k: count(1) for k in ("update", "message", "file", "callback")}
        self._update_event, self._call_event = asyncio.Event(), asyncio.Event()
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._routes = self._build_routes()

    async def start(self) -> None:
        """Serve on 127.0.0.1 at an OS-chosen port and set ``base_url``."""
        app = web.Application(client_max_size=self.upload_limit + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._stopping = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Release waiting long polls and shut the server down."""
        self._stopping = True
        self._wake("_update_event")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _wake(self, name: str) -> None:
        getattr(self, name).set()
        setattr(self, name, asyncio.Event())

    def add_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update for getUpdates, assigning ``update_id`` if missing."""
        update.setdefault("update_id", next(self._ids["update"]))
        self._updates.append(update)
        self._wake("_update_event")
        return update

    @staticmethod
    def _user(user_id: int, first_name: str = "Admin", username: str | None = None) -> Params:
        user = {"id": user_id, "is_bot": False, "first_name": first_name}
        return {**user, "username": username} if username else user

    def _store(self, chat_id: int, sender: Params, **fields: Any) -> Params:
        message_id = next(self._ids["message"])
        message: Params = {"message_id": message_id, "from": sender, "chat": _chat(chat_id),
                           "date": int(time.time())}
        message.update({k: v for k, v in fields.items() if v is not None})
        self._messages[(chat_id, message_id)] = message
        return message

    def send_message(self, user_id: int, text: str, *, chat_id: int | None = None,
                     first_name: str = "Admin", username: str | None = None,
                     reply_to_message_id: int | None = None) -> dict[str, Any]:
        """Inject a user's text message; ``/cmd args`` gets a bot_command entity."""
        cid = user_id if chat_id is None else chat_id
        command = len(text.split()[0]) if text.startswith("/") else 0
        entities = [{"type": "bot_command", "offset": 0, "length": command}] if command else None
        reply = self._messages.get((cid, reply_to_message_id or 0))
        message = self._store(cid, self._user(user_id, first_name, username), text=text,
                              entities=entities, reply_to_message=reply and self._wire(reply))
        return self.add_update({"message": copy.deepcopy(message)})

    def send_document(self, user_id: int, filename: str, content: bytes, *,
                      mime_type: str = "application/octet-stream", caption: str | None = None,
                      chat_id: int | None = None) -> dict[str, Any]:
        """Inject a user's document, registered so that getFile and download work."""
        file = self._register(content, f"documents/file_{{n}}{PurePosixPath(filename).suffix}",
                              filename)
        document = {**file.meta(), "file_name": filename, "mime_type": mime_type}
        cid = user_id if chat_id is None else chat_id
        message = self._store(cid, self._user(user_id), document=document, caption=caption)
        return self.add_update({"message": copy.deepcopy(message)})

    def press_button(self, user_id: int, message_id: int, data: str, *,
                     chat_id: int | None = None, strict: bool = True) -> dict[str, Any]:
        """Inject a callback_query on a stored message; ``strict`` requires such a button."""
        cid = user_id if chat_id is None else chat_id
        message = self._messages.get((cid, message_id))
        assert message is not None, f"no message {message_id} in chat {cid}"
        assert not strict or data in button_datas(message), (
            f"no button {data!r} on message {message_id}: {button_datas(message)}")
        query = {"id": str(next(self._ids["callback"])), "from": self._user(user_id),
                 "chat_instance": str(cid), "message": self._wire(message), "data": data}
        return self.add_update({"callback_query": query})

    def register_file(self, content: bytes, *, file_path: str | None = None) -> str:
        """Register downloadable content and return its file_id."""
        return self._register(content, file_path or "files/file_{n}").file_id

    def _register(self, content: bytes, path: str, name: str | None = None) -> _File:
        n = next(self._ids["file"])
        file = _File(f"FAKE-FILE-{n:06d}", f"FAKEU{n:06d}", content, path.format(n=n), name)
        self._files[file.file_id] = file
        return file

    def calls_of(self, method: str) -> list[Call]:
        """Every call of one method (case-insensitive), in order."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_for(self, method: str, predicate: Callable[[Call], bool] | None = None, *,
                       timeout: float = 5.0, after: int = 0) -> Call:  # noqa: ASYNC109
        """First call of ``method`` with index >= ``after`` matching ``predicate``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for call in self.calls[after:]:
                if call.method.lower() == method.lower() and (predicate is None or predicate(call)):
                    return call
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = "\n".join(f"  [{i}] {c.method} {c.params}" for i, c in enumerate(self.calls))
                raise AssertionError(f"no matching {method} call from #{after} within "
                                     f"{timeout}s; seen:\n{seen or '  (nothing)'}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._call_event.wait(), remaining)

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Current messages the bot sent to a chat (edits applied, deleted ones removed)."""
        return [copy.deepcopy(m) for (cid, _), m in self._messages.items()
                if cid == chat_id and m["from"]["id"] == self.bot_user["id"]]

    def last_message(self, chat_id: int) -> dict[str, Any]:
        """The newest current message the bot sent to a chat."""
        sent = self.messages(chat_id)
        assert sent, f"the bot has no messages in chat {chat_id}"
        return sent[-1]

    def fail_next(self, method: str, *, error_code: int = 429, description: str | None = None,
                  retry_after: int | None = 1, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``error_code``."""
        retry = retry_after if error_code == 429 else None
        default = {429: f"Too Many Requests: retry after {retry}", 403: BLOCKED}.get(
            error_code) or HTTPStatus(error_code).phrase
        error = ApiError(error_code, description or default, retry)
        self._failures.setdefault(method.lower(), []).extend([error] * times)

    def block_chat(self, chat_id: int) -> None:
        """Every send/edit to ``chat_id`` fails with 403 'bot was blocked by the user'."""
        self._blocked.add(chat_id)

    @staticmethod
    async def _read(request: web.Request) -> tuple[Params, Uploads]:
        raw: Params = dict(request.query)
        parts: Uploads = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                parts[key] = (value.file.read(), value.filename)
            else:
                raw[key] = value
        params = {k: _coerce(k, v) if isinstance(v, str) else v for k, v in raw.items()}
        # Name each file after the param referencing it ("photo": "attach://x" -> "photo").
        refs = {v[len("attach://"):]: k for k, v in params.items()
                if isinstance(v, str) and v.startswith("attach://")}
        return params, {refs.get(key, key): part for key, part in parts.items()}

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        try:
            params, uploads = await self._read(request)
        except web.HTTPRequestEntityTooLarge:
            return ApiError(413, "Request Entity Too Large").response()
        name = request.match_info["method"]
        method = next((m for m in self._routes if m.lower() == name.lower()), name)
        call = Call(method, params, {k: content for k, (content, _) in uploads.items()})
        self.calls.append(call)
        self._wake("_call_event")
        try:
            if method not in self._routes:
                raise ApiError(404, "Not Found: method not found")
            if failures := self._failures.get(method.lower()):
                raise failures.pop(0)
            if params.get("chat_id") in self._blocked and method.startswith(_CHAT_BOUND):
                raise ApiError(403, BLOCKED)
            result = self._routes[method](params, uploads)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as error:
            call.error_code = error.code
            return error.response()
        call.result = result
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        file = next((f for f in self._files.values() if f.file_path == path), None)
        if request.match_info["token"] != self.token or file is None:
            return ApiError(404, "Not Found").response()
        return web.Response(body=file.content, content_type="application/octet-stream")

    def _build_routes(self) -> dict[str, Callable[[Params, Uploads], Any]]:
        default_menu = {"type": "default"}
        return {
            "getMe": lambda p, u: dict(self.bot_user),
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": lambda p, u: self._send_media(p, u, "photo"),
            "sendDocument": lambda p, u: self._send_media(p, u, "document"),
            "sendVideo": lambda p, u: self._send_media(p, u, "video"),
            "editMessageText": lambda p, u: self._edit(p, "text"),
            "editMessageCaption": lambda p, u: self._edit(p, "caption"),
            "editMessageReplyMarkup": lambda p, u: self._edit(p, "reply_markup"),
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback,
            "setMyCommands": lambda p, u: self._set("commands", p.get("commands") or []),
            "getMyCommands": lambda p, u: list(self.commands),
            "setChatMenuButton": lambda p, u: self._set("menu_button",
                                                        p.get("menu_button") or default_menu),
            "getChatMenuButton": lambda p, u: self.menu_button or default_menu,
            "getFile": self._get_file,
            "sendChatAction": lambda p, u: True,
            "deleteWebhook": lambda p, u: True,
            "setWebhook": lambda p, u: True,
        }

    def _set(self, attr: str, value: Any) -> bool:
        setattr(self, attr, value)
        return True

    def _answer_callback(self, p: Params, _: Uploads) -> bool:
        self.answered_callbacks.append(p)
        return True

    @staticmethod
    def _wire(message: Params) -> Params:
        wire = copy.deepcopy(message)  # the API only echoes inline keyboards back
        if "inline_keyboard" not in (wire.get("reply_markup") or {}):
            wire.pop("reply_markup", None)
        return wire

    @staticmethod
    def _markup(params: Params) -> Params | None:
        markup = params.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard") or []:
            for data in (button.get("callback_data") for button in row):
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    @staticmethod
    def _chat_id(params: Params) -> int:
        if not isinstance(chat_id := params.get("chat_id"), int):
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _send(self, p: Params, **fields: Any) -> Params:
        message = self._store(self._chat_id(p), self.bot_user, caption=p.get("caption"),
                              reply_markup=self._markup(p), **fields)
        return self._wire(message)

    def _send_message(self, p: Params, _: Uploads) -> Params:
        text = str(p.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return self._send(p, text=text)

    def _send_media(self, p: Params, uploads: Uploads, kind: str) -> Params:
        if kind in uploads:
            content, name = uploads[kind]
            file = self._register(content, f"{kind}s/file_{{n}}", name)
        elif isinstance(p.get(kind), str) and p[kind] in self._files:
            file = self._files[p[kind]]
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        meta = file.meta()
        if kind == "photo":
            return self._send(p, photo=[{**meta, "width": 1280, "height": 720}])
        if kind == "video":
            meta.update(width=p.get("width", 1080), height=p.get("height", 1920),
                        duration=p.get("duration", 0), mime_type="video/mp4")
        else:
            name = file.file_name or "document"
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            meta.update(file_name=name, mime_type=mime)
        return self._send(p, **{kind: meta})

    def _edit(self, p: Params, key: str) -> Params | bool:
        if key == "text" and not str(p.get("text") or "").strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if p.get("inline_message_id"):
            return True
        message = self._messages.get((self._chat_id(p), p.get("message_id") or 0))
        if message is None or message["from"]["id"] != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message to edit not found")
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        new = {"reply_markup": self._markup(p), key: p.get(key)}
        if all(message.get(k) == v for k, v in new.items()):
            raise ApiError(400, NOT_MODIFIED)
        message.update({k: v for k, v in new.items() if v is not None}, edit_date=int(time.time()))
        for k in [k for k, v in new.items() if v is None]:
            message.pop(k, None)
        return self._wire(message)

    def _delete_message(self, p: Params, _: Uploads) -> bool:
        if self._messages.pop((self._chat_id(p), p.get("message_id") or 0), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _get_updates(self, p: Params, _: Uploads) -> list[Params]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(float(p.get("timeout") or 0), self.long_poll_cap)
        while True:
            offset = int(p.get("offset") or 0)  # confirms (forgets) every older update
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            remaining = deadline - loop.time()
            if self._updates or remaining <= 0 or self._stopping:
                return copy.deepcopy(self._updates[: int(p.get("limit") or 100)])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._update_event.wait(), remaining)

    def _get_file(self, p: Params, _: Uploads) -> Params:
        if (file := self._files.get(str(p.get("file_id")))) is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(file.content) > self.download_limit:
            raise ApiError(400, "Bad Request: file is too big")
        return {**file.meta(), "file_path": file.file_path}
