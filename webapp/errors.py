"""One JSON error shape for the whole web app, and the middleware that produces it.

Every failure leaves as ``{"error": {"code", "message", "hint"?, "fields"?}}``:

==============================  ======  =====================================
raised                          status  code
==============================  ======  =====================================
``InvalidInput`` (and periods)  422     ``invalid_input`` + ``fields``
``ProxyInputError``             422     ``invalid_input`` + ``fields``
``NotFound``                    404     ``not_found``
``TransientError``/quota        503     the error's code (+ ``Retry-After``)
``ForwarderError`` (input)      400     the error's code
other ``ForwarderError``        409     the error's code, ``conflict`` for plain refusals
``ApiError`` (auth, parsing)    its own its own
aiohttp ``HTTPException``       its own ``not_found``, ``method_not_allowed``...
anything else                   500     ``internal_error`` (logged, no traceback)
==============================  ======  =====================================
"""

from __future__ import annotations

import logging
import math
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from core.errors import (
    ERROR_INFO,
    ConfigError,
    ErrorCode,
    ForwarderError,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    TransientError,
)
from core.platforms.proxy import ProxyInputError

log = logging.getLogger("webapp")

_DEFAULT_INTERNAL_HINT = ERROR_INFO[ErrorCode.INTERNAL_ERROR].hint
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


class ApiError(Exception):
    """An error the web layer itself raises (authentication, request shape)."""

    def __init__(self, status: int, code: str, message: str, *, hint: str | None = None,
                 fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint, self.fields = status, code, message, hint, fields


def error_response(status: int, code: str, message: str, *, hint: str | None = None,
                   fields: dict[str, str] | None = None, headers: dict[str, str] | None = None
                   ) -> web.Response:
    """The one error body."""
    body: dict[str, Any] = {"code": code, "message": message}
    if hint:
        body["hint"] = hint
    if fields is not None:
        body["fields"] = fields
    return web.json_response({"error": body}, status=status, headers=headers)


def describe(exc: ForwarderError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and error body of a domain error."""
    body: dict[str, Any] = {"code": exc.code.value, "message": exc.message, "hint": exc.hint}
    if isinstance(exc, InvalidInput):
        return 422, {**body, "fields": exc.fields}
    if isinstance(exc, NotFound):
        return 404, {"code": exc.code.value, "message": exc.message}
    if isinstance(exc, TransientError | QuotaExceeded):
        return 503, body
    if exc.code is ErrorCode.INVALID_INPUT:
        return 400, body
    if exc.code is ErrorCode.INTERNAL_ERROR:
        # Services raise a plain ForwarderError to refuse an action ("the account is in use"):
        # that is a conflict with the current state, not a crash, so it is not called one.
        hint = exc.hint if exc.hint != _DEFAULT_INTERNAL_HINT else None
        return 409, {"code": "conflict", "message": exc.message, **({"hint": hint} if hint else {})}
    return 409, body


def from_forwarder_error(exc: ForwarderError) -> web.Response:
    """Map a domain error to its HTTP response."""
    status, body = describe(exc)
    headers = {}
    if status == 503 and exc.retry_after:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return web.json_response({"error": body}, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception into the JSON error shape; never leak a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, hint=exc.hint, fields=exc.fields)
    except ForwarderError as exc:
        return from_forwarder_error(exc)
    except ProxyInputError as exc:
        return error_response(422, ErrorCode.INVALID_INPUT.value, exc.message,
                              fields={exc.field: exc.message})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, f"http_{exc.status}")
        message = {404: f"There is no {request.path}",
                   405: f"{request.method} is not allowed on {request.path}"}.get(exc.status, exc.reason)
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return error_response(exc.status, code, message, headers=headers)
    except ConfigError as exc:
        log.error("configuration error serving %s %s: %s", request.method, request.path, exc)
        return error_response(500, ErrorCode.INTERNAL_ERROR.value, str(exc))
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return error_response(500, ErrorCode.INTERNAL_ERROR.value,
                              "An unexpected error happened; it was logged.", hint=_DEFAULT_INTERNAL_HINT)
