"""The YouTube Data API client shared by the source and the destination adapters.

googleapiclient is built from its bundled discovery document with ``rootUrl`` pointed at
``YOUTUBE_API_BASE`` (``client_options`` would not move the upload host), on an httplib2
connection that honours the account's proxy. The library is synchronous: every call runs
in a thread, one at a time per client (httplib2 connections are not thread-safe). Every
call is charged to the Google project's quota ledger before it is sent, and every library
exception leaves this module as a ``core.errors`` error.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError

from core.errors import (
    AuthError,
    ErrorCode,
    ForwarderError,
    NotFound,
    QuotaExceeded,
    TransientError,
)
from core.platforms.proxy import ProxySpec, classify_proxy_failure, httplib2_proxy_info
from core.platforms.quota import DEFAULT_DAILY_UNITS, DEFAULT_DAILY_UPLOADS, QuotaLedger, next_reset
from core.platforms.youtube_oauth import SCOPES

if TYPE_CHECKING:
    from core.platforms.base import CredentialStore

T = TypeVar("T")

QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
NOT_FOUND_REASONS = {"videoNotFound", "playlistNotFound", "channelNotFound", "notFound"}
UPLOAD_LIMIT_WAIT = timedelta(hours=24)


def _reason(exc: HttpError) -> tuple[str, str]:
    """Google's error reason and message from an HttpError body."""
    try:
        error = json.loads(exc.content or b"{}").get("error", {})
    except (ValueError, AttributeError):
        return "", ""
    errors = error.get("errors") or [{}]
    return str(errors[0].get("reason", "")), str(error.get("message", ""))


def map_http_error(exc: HttpError, what: str) -> ForwarderError:
    """Translate a Data API HTTP error into the taxonomy."""
    status = exc.resp.status
    reason, message = _reason(exc)
    details = {"status": status, "reason": reason, "call": what}
    if reason in QUOTA_REASONS:
        reset = next_reset()
        return QuotaExceeded(
            f"YouTube refused {what}: the project's daily API quota is used up; it resets at "
            f"{reset:%Y-%m-%d %H:%M} UTC", reset_at=reset, details=details)
    if reason == "uploadLimitExceeded":
        # videos.insert errors (https://developers.google.com/youtube/v3/docs/videos/insert#errors):
        # badRequest (400) uploadLimitExceeded, "The user has exceeded the number of videos they may
        # upload." YouTube's announcement of the cap: a channel may upload a limited number of videos
        # "in a 24-hour period" and, on this error, should "try again in 24 hours". The window rolls
        # per channel: it is not the project's quota day, so Pacific midnight (right for quotaExceeded)
        # may come minutes after the refusal and be refused again. Wait 24 h from the refusal.
        reset = datetime.now(UTC) + UPLOAD_LIMIT_WAIT
        return QuotaExceeded(
            f"YouTube refused the upload: the channel reached its upload limit for a rolling 24 hours; "
            f"retrying after {reset:%Y-%m-%d %H:%M} UTC", reset_at=reset, details=details,
            hint="YouTube caps how many videos a channel may upload in 24 hours (website, apps and API "
                 "together); the job waits 24 hours from the refusal, then retries.")
    if reason in RATE_REASONS or status == 429:
        return TransientError(f"YouTube is rate limiting {what}", code=ErrorCode.API_RATE_LIMIT,
                              retry_after=60, details=details)
    if status == 401:
        return AuthError(f"YouTube rejected the access token during {what} (401)",
                         code=ErrorCode.TOKEN_EXPIRED, details=details)
    if status == 403:
        return AuthError(f"YouTube refused {what}: {reason or 'forbidden'}",
                         code=ErrorCode.INVALID_CREDENTIALS, details=details,
                         hint="Authorize the account again and grant upload and read access.")
    if status in (404, 410) or reason in NOT_FOUND_REASONS:
        return NotFound(f"YouTube: not found during {what} ({reason or status})", details=details)
    if status >= 500:
        return TransientError(f"YouTube answered {status} during {what}", details=details)
    return ForwarderError(f"YouTube refused {what}: {message or reason or status}", details=details)


def map_exception(exc: BaseException, what: str, proxy: ProxySpec | None) -> ForwarderError:
    """Translate any exception raised while talking to Google."""
    if isinstance(exc, ForwarderError):
        return exc
    if isinstance(exc, HttpError):
        return map_http_error(exc, what)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        if "invalid_grant" in str(exc):
            return AuthError("Google revoked or expired the refresh token; authorize the account again",
                             code=ErrorCode.REQUIRES_REAUTH)
        if "necessary fields" in str(exc):  # google-auth: no refresh token to renew an expired one
            return AuthError("YouTube rejected the access token and no refresh token is stored; "
                             "authorize the account again", code=ErrorCode.REQUIRES_REAUTH)
        if getattr(exc, "retryable", False):
            return TransientError("Google token endpoint error during refresh")
        return AuthError("Google rejected the token refresh (check the OAuth client)",
                         code=ErrorCode.INVALID_CREDENTIALS)
    if proxy is not None and _proxy_failure(exc):
        return classify_proxy_failure(exc, proxy)
    if isinstance(exc, TimeoutError | socket.timeout):
        return TransientError(f"YouTube did not answer in time during {what}", code=ErrorCode.NETWORK_TIMEOUT)
    if isinstance(exc, OSError | httplib2.HttpLib2Error | google.auth.exceptions.TransportError):
        return TransientError(f"YouTube unreachable during {what}: {type(exc).__name__}",
                              code=ErrorCode.NETWORK_TIMEOUT)
    return ForwarderError(f"Unexpected {type(exc).__name__} during {what}")


def _proxy_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httplib2.socks.ProxyError | ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def discovery_document(api_base: str) -> dict[str, Any]:
    """The bundled YouTube v3 discovery document, pointed at ``api_base``."""
    doc: dict[str, Any] = json.loads(get_static_doc("youtube", "v3"))
    base = api_base if api_base.endswith("/") else api_base + "/"
    doc["rootUrl"] = doc["mtlsRootUrl"] = base
    doc["baseUrl"] = base + doc.get("servicePath", "")
    return doc


class SharedService:
    """The YouTube resource tree, built once per base URL and shared by every client.

    Building it parses a large discovery document and generates every method's docstring:
    milliseconds per client that a busy worker pays per job. Requests made from it carry
    the placeholder connection below; each client executes them on its own authorized one.
    """

    def __init__(self, api_base: str) -> None:
        self.root = build_from_document(discovery_document(api_base), http=httplib2.Http())
        self._children: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Callable[[], Any]:
        def child() -> Any:
            with self._lock:
                if name not in self._children:
                    self._children[name] = getattr(self.root, name)()
                return self._children[name]
        return child


@functools.lru_cache(maxsize=8)
def shared_service(api_base: str) -> SharedService:
    """The shared resource tree for ``api_base``."""
    return SharedService(api_base)


class YouTubeClient:
    """An authorized, quota-counted YouTube Data API v3 client for one account."""

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        api_base: str = "https://www.googleapis.com/",
        token_uri: str = "https://oauth2.googleapis.com/token",
        proxy: ProxySpec | None = None,
        quota: QuotaLedger | None = None,
        project_key: str | None = None,
        daily_units: int = DEFAULT_DAILY_UNITS,
        daily_uploads: int = DEFAULT_DAILY_UPLOADS,
        timeout: float = 60.0,
        num_retries: int = 2,
    ) -> None:
        self.store = credentials
        self.api_base = api_base
        self.token_uri = token_uri
        self.proxy = proxy
        self.quota = quota
        self.project_key = project_key
        self.daily_units = daily_units
        self.daily_uploads = daily_uploads
        self.timeout = timeout
        self.num_retries = num_retries
        self.units_spent = 0
        self._lock = asyncio.Lock()
        self._service: Any = None
        self._http: google_auth_httplib2.AuthorizedHttp | None = None
        self._creds: Credentials | None = None

    # ---- credentials ---------------------------------------------------------------

    async def _ensure(self) -> Any:
        if self._service is not None:
            return self._service
        doc = await self.store.load()
        secret = (doc.get("client_secret") or {})
        inner = secret.get("installed") or secret.get("web") or {}
        if not doc.get("access_token") and not doc.get("refresh_token"):
            raise AuthError("This YouTube account has no tokens yet; authorize it first",
                            code=ErrorCode.REQUIRES_REAUTH)
        expiry = doc.get("expiry")
        self._creds = Credentials(
            token=doc.get("access_token"),
            refresh_token=doc.get("refresh_token"),
            token_uri=self.token_uri,
            client_id=inner.get("client_id"),
            client_secret=inner.get("client_secret"),
            scopes=doc.get("scopes") or list(SCOPES),
            # google-auth compares naive UTC datetimes.
            expiry=datetime.fromisoformat(expiry).astimezone(UTC).replace(tzinfo=None) if expiry else None,
        )
        if self.project_key is None:
            self.project_key = inner.get("project_id") or inner.get("client_id") or "default"
        http = httplib2.Http(timeout=self.timeout,
                             proxy_info=httplib2_proxy_info(self.proxy) if self.proxy else None)
        # A resumable upload answers 308 without Location; httplib2 must not follow it (as build_http does).
        http.redirect_codes = http.redirect_codes - {308}
        self._http = google_auth_httplib2.AuthorizedHttp(self._creds, http=http)
        self._service = shared_service(self.api_base)
        return self._service

    async def _persist_token(self) -> None:
        """Save a token google-auth refreshed on the way."""
        if self._creds is None or not self._creds.token:
            return
        doc = await self.store.load()
        if doc.get("access_token") == self._creds.token:
            return
        expiry = self._creds.expiry.replace(tzinfo=UTC) if self._creds.expiry else None
        doc.update(access_token=self._creds.token, expiry=expiry.isoformat() if expiry else None)
        await self.store.save(doc)

    # ---- calls ---------------------------------------------------------------------

    async def spend(self, units: int) -> None:
        """Charge ``units`` to the project before a call."""
        self.units_spent += units
        if self.quota is not None:
            await self.quota.spend(self.project_key or "default", units, daily_limit=self.daily_units,
                                   total=False)

    async def spend_upload(self) -> None:
        """Charge one ``videos.insert`` to the separate upload bucket."""
        if self.quota is not None:
            await self.quota.spend_upload(self.project_key or "default", daily_uploads=self.daily_uploads,
                                          total=False)

    async def call(self, what: str, units: int, build: Callable[[Any], Any]) -> dict[str, Any]:
        """Charge, then execute ``build(service)`` in a thread; return the JSON response."""
        service = await self._ensure()
        await self.spend(units)
        result: dict[str, Any] = await self.run(
            what, lambda: build(service).execute(http=self._http, num_retries=self.num_retries))
        return result

    async def run(self, what: str, fn: Callable[[], T]) -> T:
        """Run a blocking library call in a thread, mapping its exceptions."""
        await self._ensure()
        async with self._lock:
            try:
                return await asyncio.to_thread(fn)
            except BaseException as exc:  # noqa: BLE001 - every library error is translated
                if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                    raise
                raise map_exception(exc, what, self.proxy) from None
            finally:
                await self._persist_token()

    @property
    def http(self) -> google_auth_httplib2.AuthorizedHttp:
        """The authorized connection (after a first call)."""
        assert self._http is not None
        return self._http

    async def service(self) -> Any:
        """The googleapiclient resource (built on first use)."""
        return await self._ensure()

    def close(self) -> None:
        """Close the connections."""
        if self._http is not None:
            self._http.close()
