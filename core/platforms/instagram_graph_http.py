"""HTTP layer of the Instagram Graph adapter: one aiohttp session, error mapping, secret redaction.

Graph errors arrive as ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``;
the upload host (rupload) answers ``{"debug_info": {"retriable", "type", "message"}}``.

Codes and subcodes the adapter knows, checked in this order (subcodes first: a subcode says more
than the code it comes with, e.g. ``4/2207051`` is a spam restriction, not the throttle ``4``):

=============  =========================  ==========================================================
code/subcode   domain error               reference
=============  =========================  ==========================================================
190            token_expired;             [graph-errors] "Access token has expired" (subcode 463);
190/458,459,   requires_reauth            subcodes 458 app removed, 459 checkpoint, 460 password
460,464,467,                              changed, 464 unconfirmed user, 467 invalid token: a
492                                       refresh cannot repair these
*/2207042, 9   quota_exceeded             [ig-errors] 9/2207042 "maximum number of posts" (25 a
                                          rolling 24 h; the adapter refines ``reset_at``)
*/2207051      action_blocked (no retry)  [ig-errors] 4/2207051 "We restrict certain activity to
                                          protect our community": a publish restricted as spam
*/2207050      account_suspended          [ig-errors] "the user is inactive / restricted"
*/2207026      unsupported_codec          [ig-errors] unsupported video format
*/2207004      video_too_large            [ig-errors] media too large
*/2207001,     transient (retry)          [ig-errors] "Try again": 2207001 server error, 2207003
2207003,                                  download timeout, 2207020 expired (new container),
2207008,                                  2207032 create failed, 2207053 unknown upload error,
2207020,                                  2207008 / 2207027 media not ready, 2207052 fetch failed
2207027,
2207032,
2207052,
2207053
other 2207xxx  video_corrupt              [ig-errors] the media did not pass Instagram's checks
4, 17, 32,     api_rate_limit             [rate-limits] app/user/page/BUC throttles; ``retry_after``
613, 80001-                               from ``estimated_time_to_regain_access`` (minutes) in
80014, HTTP                               ``X-Business-Use-Case-Usage`` / ``X-App-Usage``
429
368            action_blocked             [graph-errors] "temporarily blocked for policies violations"
10, 200-299    invalid_credentials        [graph-errors] permission denied / not granted
100/33         not_found                  [graph-errors] object does not exist or no permission
100 (other)    request_rejected           [graph-errors] invalid parameter: the same request fails
                                          again, so it is not retried
1, 2,          transient                  [graph-errors] "temporary issue ... retry"
is_transient,
HTTP 5xx
anything else  internal_error             a request this adapter should not have sent
=============  =========================  ==========================================================

[graph-errors] https://developers.facebook.com/docs/graph-api/guides/error-handling/
[ig-errors]    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes
[rate-limits]  https://developers.facebook.com/docs/graph-api/overview/rate-limiting/

aiohttp timeouts -> ``network_timeout``; connection errors -> TransientError; proxy failures ->
``classify_proxy_failure``. Usage headers (``X-App-Usage``, ``X-Business-Use-Case-Usage``; values
are percentages of the limit, throttled at 100 [rate-limits]) are read on every reply: ``Pacer``
slows calls down from 75 % and holds them back (a TransientError with the regain time) from 95 %.

Every message goes through ``redact``: Graph echoes tokens in messages and URLs.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
from aiohttp_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

from core.errors import (
    AccountSuspended,
    AuthError,
    ErrorCode,
    ForwarderError,
    MediaError,
    NotFound,
    QuotaExceeded,
    TransientError,
)
from core.platforms.base import Progress
from core.platforms.proxy import ProxySpec, aiohttp_connector, classify_proxy_failure

# Meta's two Instagram APIs (see instagram_graph's docstring): which one a token belongs to.
FACEBOOK_LOGIN = "facebook"
INSTAGRAM_LOGIN = "instagram"
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
REAUTH_SUBCODES = frozenset({458, 459, 460, 464, 467, 492})
# Meta's "retry later" publishing subcodes: server error, timeout fetching the media, temporary
# publish failure, expired container, media not ready, create failed, media URI not fetched, unknown.
TRANSIENT_MEDIA_SUBCODES = frozenset({2207001, 2207003, 2207008, 2207020, 2207027, 2207032, 2207052, 2207053})
# Application and user windows roll over about an hour; ten minutes keeps re-checks cheap.
DEFAULT_RATE_LIMIT_WAIT = 600.0
CHUNK = 1 << 20
_PARAM = re.compile(r"((?:access_token|client_secret|fb_exchange_token)=)[^&\s\"']+", re.IGNORECASE)
_HEADER = re.compile(r"\b(OAuth|Bearer)\s+[A-Za-z0-9_.~+/=\-]{16,}")
_META_TOKEN = re.compile(r"\b(?:EAA|IGQ|IGAA)[A-Za-z0-9_\-]{16,}")
_MEDIA_SUBCODE = re.compile(r"\b(2207\d{3})\b")


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` without the given secrets, token parameters, auth headers or Meta token shapes."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _PARAM.sub(r"\1***", text)
    text = _HEADER.sub(r"\1 ***", text)
    return _META_TOKEN.sub("***", text)


USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-App-Usage", "X-Ad-Account-Usage")
USAGE_METRICS = ("call_count", "total_time", "total_cputime", "acc_id_util_pct")
PACE_FROM = 75.0  # % of a limit: from here each call waits a little longer
HOLD_FROM = 95.0  # % of a limit: calls stop until Meta's regain time (or DEFAULT_RATE_LIMIT_WAIT)
MAX_PACE = 30.0  # seconds a call waits just below HOLD_FROM
USAGE_STALE = 300.0  # seconds after which a reading no longer describes Meta's rolling window


def _usage_nodes(headers: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """Every object inside the usage headers (X-App-Usage is one; BUC maps ids to lists of them)."""
    stack: list[Any] = []
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if raw:
            try:
                stack.append(json.loads(raw))
            except ValueError:
                continue
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def regain_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds until Meta lifts a throttle, from the usage headers (they count in minutes)."""
    minutes = [float(v) for node in _usage_nodes(headers)
               if isinstance(v := node.get("estimated_time_to_regain_access"), int | float)]
    longest = max(minutes, default=0.0)
    return longest * 60 if longest > 0 else None


def usage_percent(headers: Mapping[str, str]) -> float | None:
    """The highest share of any limit the usage headers report (0-100+), None when there are none."""
    values = [float(v) for node in _usage_nodes(headers) for key in USAGE_METRICS
              if isinstance(v := node.get(key), int | float) and not isinstance(v, bool)]
    return max(values) if values else None


class Pacer:
    """Slows Graph calls down as Meta's usage headers approach a limit, before Meta throttles.

    [rate-limits]: "X-App-Usage ... call_count, total_cputime, total_time: percentage" and the
    Business Use Case header with ``estimated_time_to_regain_access``; a limit is hit at 100.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.percent = 0.0
        self.regain: float | None = None
        self._read_at: float | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        """Remember the latest reading (a reply without the headers leaves the last one)."""
        percent = usage_percent(headers)
        if percent is not None:
            self.percent, self.regain, self._read_at = percent, regain_seconds(headers), self.clock()

    def _current(self) -> float:
        if self._read_at is None or self.clock() - self._read_at > USAGE_STALE:
            return 0.0
        return self.percent

    def delay(self) -> float:
        """Seconds to wait before the next call."""
        percent = self._current()
        if percent < PACE_FROM:
            return 0.0
        return min(MAX_PACE, MAX_PACE * (percent - PACE_FROM) / (HOLD_FROM - PACE_FROM))

    def hold(self, what: str) -> TransientError | None:
        """The error that stops a call while a limit is (nearly) used up, else None."""
        percent = self._current()
        if percent < HOLD_FROM:
            return None
        return TransientError(f"{what}: held back, Meta reports {percent:g} % of a rate limit used",
                              code=ErrorCode.API_RATE_LIMIT, details={"usage_percent": percent},
                              retry_after=self.regain or DEFAULT_RATE_LIMIT_WAIT)


def media_error(subcode: int, message: str, details: dict[str, Any]) -> ForwarderError:
    """The error for a 2207xxx publishing subcode (from an error reply or a container status)."""
    if subcode == 2207042:
        return QuotaExceeded(message, reset_at=datetime.now(UTC) + timedelta(days=1), details=details)
    if subcode == 2207051:
        return AccountSuspended(message, code=ErrorCode.ACTION_BLOCKED, details=details, hint=(
            "Meta restricted this publish as possible spam; it is not retried. Post less often and vary "
            "captions; if it is a mistake, tell Meta from the Instagram app."))
    if subcode == 2207050:
        return AccountSuspended(message, details=details)
    if subcode == 2207003:
        return TransientError(message, code=ErrorCode.NETWORK_TIMEOUT, details=details)
    if subcode in TRANSIENT_MEDIA_SUBCODES:
        return TransientError(message, details=details)
    if subcode == 2207026:
        return MediaError(message, code=ErrorCode.UNSUPPORTED_CODEC, details=details)
    if subcode == 2207004:
        return MediaError(message, code=ErrorCode.VIDEO_TOO_LARGE, details=details)
    return MediaError(message, code=ErrorCode.VIDEO_CORRUPT, details=details)


def container_error(container_id: str, status: str, secrets: Iterable[str] = ()) -> ForwarderError:
    """The error for a container whose ``status_code`` is ERROR; ``status`` is Meta's explanation."""
    text = redact(status, secrets) or "no reason given"
    message = f"Instagram could not process the reel: {text}"
    details: dict[str, Any] = {"container_id": container_id, "status_code": "ERROR"}
    found = _MEDIA_SUBCODE.search(status)
    if found:
        details["graph_subcode"] = int(found.group(1))
        return media_error(int(found.group(1)), message, details)
    lowered = status.lower()
    if any(word in lowered for word in ("format", "codec", "unsupported")):
        return MediaError(message, code=ErrorCode.UNSUPPORTED_CODEC, details=details)
    if any(word in lowered for word in ("too large", "file size", "too long", "duration")):
        return MediaError(message, code=ErrorCode.VIDEO_TOO_LARGE, details=details)
    return MediaError(message, code=ErrorCode.VIDEO_CORRUPT, details=details)


def graph_error(status: int, error: Mapping[str, Any], headers: Mapping[str, str], what: str,
                secrets: Iterable[str]) -> ForwarderError:
    """Map one Graph ``error`` object to the domain error."""
    code = as_int(error.get("code"))
    sub = as_int(error.get("error_subcode"))
    text = redact(str(error.get("message") or "no message"), secrets)
    message = f"{what}: {text} (Graph code {code}{f'/{sub}' if sub else ''})"
    details: dict[str, Any] = {"graph_code": code, "graph_subcode": sub or None, "http_status": status,
                               "fbtrace_id": error.get("fbtrace_id")}
    if code == 190:
        reauth = sub in REAUTH_SUBCODES
        return AuthError(message, code=ErrorCode.REQUIRES_REAUTH if reauth else ErrorCode.TOKEN_EXPIRED,
                         details=details)
    if 2207000 <= sub < 2208000:  # before the codes: 4/2207051 is a spam restriction, not a throttle
        return media_error(sub, message, details)
    if code == 9:
        return media_error(2207042, message, details)
    if code in RATE_LIMIT_CODES or status == 429:
        wait = regain_seconds(headers) or DEFAULT_RATE_LIMIT_WAIT
        return TransientError(message, code=ErrorCode.API_RATE_LIMIT, retry_after=wait, details=details)
    if code == 368:
        return AccountSuspended(message, code=ErrorCode.ACTION_BLOCKED, details=details)
    if code == 10 or 200 <= code <= 299:
        return AuthError(message, code=ErrorCode.INVALID_CREDENTIALS, details=details)
    if code == 100 and sub == 33:
        return NotFound(message, details=details)
    if code == 100:
        return ForwarderError(message, code=ErrorCode.REQUEST_REJECTED, details=details)
    if code in (1, 2) or status >= 500 or error.get("is_transient"):
        return TransientError(message, details=details)
    return ForwarderError(message, code=ErrorCode.INTERNAL_ERROR, details=details)


def as_int(value: Any) -> int:
    """An integer from a JSON value Meta may send as a number or a string; 0 when it is neither."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def reply_error(status: int, body: bytes, headers: Mapping[str, str], what: str,
                secrets: Iterable[str]) -> ForwarderError | None:
    """The error a reply carries (Graph or rupload shape, or a bare HTTP status), else None."""
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        return graph_error(status, doc["error"], headers, what, secrets)
    if isinstance(doc, dict) and isinstance(doc.get("debug_info"), dict) and status >= 400:
        info = doc["debug_info"]
        kind = str(info.get("type") or "")
        message = f"{what}: {redact(str(info.get('message') or kind), secrets)} ({kind or status})"
        details = {"http_status": status, "upload_error": kind}
        if "authoriz" in kind.lower() or "oauth" in kind.lower() or status == 401:
            return AuthError(message, code=ErrorCode.TOKEN_EXPIRED, details=details)
        if info.get("retriable") or status >= 500:
            return TransientError(message, details=details)
        return ForwarderError(message, code=ErrorCode.INTERNAL_ERROR, details=details)
    if status < 400:
        return None
    details = {"http_status": status}
    if status == 429:
        return TransientError(f"{what}: HTTP 429", code=ErrorCode.API_RATE_LIMIT,
                              retry_after=regain_seconds(headers) or DEFAULT_RATE_LIMIT_WAIT, details=details)
    if status >= 500:
        return TransientError(f"{what}: HTTP {status}", details=details)
    if status in (403, 404, 410):
        return NotFound(f"{what}: HTTP {status}", details=details)
    return ForwarderError(f"{what}: HTTP {status}", code=ErrorCode.INTERNAL_ERROR, details=details)


def _running(generator: AsyncGenerator[bytes, None]) -> bool:
    # typeshed's AsyncGenerator has no ag_running; every real async generator has it.
    return bool(getattr(generator, "ag_running", False))


class GraphHttp:
    """One aiohttp session (created inside the running loop) and the translation of its failures."""

    def __init__(self, *, proxy: ProxySpec | None, timeout: float) -> None:
        self.proxy = proxy
        self.timeout = timeout
        self.pacer = Pacer()
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp_connector(self.proxy) if self.proxy else aiohttp.TCPConnector()
            # No total limit on the session: transfers of big files may take long; reads may not stall.
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=self.timeout)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._session

    async def aclose(self) -> None:
        """Close the session (a later call opens a new one)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @contextmanager
    def _translating(self, what: str, secrets: Iterable[str]) -> Iterator[None]:
        try:
            yield
        except ForwarderError:
            raise
        except (ProxyError, ProxyConnectionError, ProxyTimeoutError, aiohttp.ClientHttpProxyError,
                aiohttp.ClientProxyConnectionError) as exc:
            raise self._proxy_failure(exc) from None
        except TimeoutError:
            raise TransientError(f"{what}: no answer within {self.timeout:g} s",
                                 code=ErrorCode.NETWORK_TIMEOUT) from None
        except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
            # Raised bare (not as aiohttp errors) only by a proxy handshake the proxy hung up on.
            if self.proxy is not None:
                raise self._proxy_failure(exc) from None
            raise TransientError(f"{what}: connection closed ({type(exc).__name__})") from None
        except (aiohttp.ClientError, OSError) as exc:
            reason = redact(str(exc), secrets) or type(exc).__name__
            raise TransientError(f"{what}: connection failed: {reason}",
                                 details={"exception": type(exc).__name__}) from None

    def _proxy_failure(self, exc: BaseException) -> TransientError:
        if self.proxy is None:  # not expected: proxy errors come from the proxy connector
            return TransientError(f"proxy failure without a proxy ({type(exc).__name__})",
                                  code=ErrorCode.PROXY_ERROR)
        error = classify_proxy_failure(exc, self.proxy)
        error.__cause__ = None  # the cause may hold request details; the message says it all
        return error

    def _raise_for(self, status: int, body: bytes, headers: Mapping[str, str], what: str,
                   secrets: tuple[str, ...]) -> None:
        if status == 407:  # only a proxy answers 407
            label = self.proxy.label if self.proxy else "on the way"
            raise TransientError(f"Proxy {label} asked for proxy authentication (407)",
                                 code=ErrorCode.PROXY_ERROR)
        error = reply_error(status, body, headers, what, secrets)
        if error is not None:
            raise error

    async def call(self, method: str, url: str, *, what: str, secrets: Iterable[str],
                   params: Mapping[str, str] | None = None, data: Mapping[str, str] | None = None,
                   headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One request; returns the JSON object or raises the mapped error."""
        secrets = tuple(secrets)
        await self._pace(what)
        with self._translating(what, secrets):
            async with self._open().request(
                method, url, params=params, data=data, headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                body = await response.read()
                status, reply_headers = response.status, response.headers
        self.pacer.observe(reply_headers)
        return self._decode(status, body, reply_headers, what, secrets)

    async def _pace(self, what: str) -> None:
        held = self.pacer.hold(what)
        if held is not None:
            raise held
        wait = self.pacer.delay()
        if wait > 0:
            await asyncio.sleep(wait)

    def _decode(self, status: int, body: bytes, headers: Mapping[str, str], what: str,
                secrets: tuple[str, ...]) -> dict[str, Any]:
        self._raise_for(status, body, headers, what, secrets)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise TransientError(f"{what}: the reply was not a JSON object (HTTP {status})")
        return doc

    async def send_file(self, url: str, *, path: Path, offset: int, size: int, headers: Mapping[str, str],
                        progress: Progress | None, what: str, secrets: Iterable[str]) -> dict[str, Any]:
        """POST the bytes of ``path`` from ``offset`` to ``size`` as the raw body (rupload)."""
        secrets = tuple(secrets)

        async def body() -> AsyncGenerator[bytes, None]:
            # Open and close on the loop: a cancelled to_thread could strand an opened handle, or never
            # run the close. Only the reads, which can be slow, go to a thread.
            handle = path.open("rb")
            try:
                handle.seek(offset)
                done = offset
                while done < size:
                    chunk = await asyncio.to_thread(handle.read, min(CHUNK, size - done))
                    if not chunk:
                        return
                    done += len(chunk)
                    if progress is not None:  # bytes handed to the connection
                        await progress(done, size)
                    yield chunk
            finally:
                handle.close()

        sent_headers = {**headers, "Content-Length": str(size - offset),
                        "Content-Type": "application/octet-stream"}
        await self._pace(what)
        chunks = body()
        try:
            with self._translating(what, secrets):
                async with self._open().post(url, data=chunks, headers=sent_headers) as response:
                    reply = await response.read()
                    status, reply_headers = response.status, response.headers
        finally:
            await self._settle(chunks)
        self.pacer.observe(reply_headers)
        return self._decode(status, reply, reply_headers, what, secrets)

    async def _settle(self, chunks: AsyncGenerator[bytes, None]) -> None:
        """Close a request body generator (and so its file) once aiohttp's writer task lets go of it."""
        # aiohttp stops pulling when Content-Length bytes are out, and after a broken connection its
        # writer task may still be inside the generator until its cancellation lands.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while _running(chunks) and loop.time() < deadline:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.005)
        if not _running(chunks):
            await chunks.aclose()

    async def fetch_to(self, url: str, part: Path, *, progress: Progress | None, what: str,
                       secrets: Iterable[str]) -> None:
        """Stream ``url`` into ``part`` (a CDN URL: no token, signed by Meta)."""
        secrets = tuple(secrets)
        with self._translating(what, secrets):
            async with self._open().get(url) as response:
                if response.status >= 400:
                    self._raise_for(response.status, await response.read(), response.headers, what, secrets)
                total = response.content_length or 0
                try:
                    handle: BinaryIO = part.open("wb")  # on the loop, as in send_file: closed on every path
                except OSError as exc:
                    raise ForwarderError(f"{what}: cannot write {part.name} ({type(exc).__name__})",
                                         code=ErrorCode.INTERNAL_ERROR) from None
                try:
                    done = 0
                    buffer = bytearray()
                    async for chunk in response.content.iter_chunked(1 << 16):
                        buffer += chunk
                        done += len(chunk)
                        if len(buffer) >= CHUNK:
                            await asyncio.to_thread(handle.write, bytes(buffer))
                            buffer.clear()
                        if progress is not None:
                            await progress(done, total or done)
                    await asyncio.to_thread(handle.write, bytes(buffer))
                finally:
                    handle.close()
