"""instagrapi and requests exceptions -> ``core.errors``, for the private Instagram adapter.

Messages are written here, never copied from an exception: an instagrapi exception carries the
whole response (the login request included), and requests' texts name hosts and pools. Only
Instagram's own short explanations (``feedback_message``) are quoted.

Retry delays (``retry_after``), chosen from how Instagram behaves:

* ``PleaseWaitFewMinutes`` -> 300 s: Instagram's own wording asks for "a few minutes".
* HTTP 429 (``ClientThrottledError``) and ``rate_limit_error`` -> 900 s unless the response
  says otherwise (``Retry-After``): a hard limit that a quick retry only prolongs.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

import requests
import urllib3
from aiohttp_socks import ProxyError as SocksLibProxyError
from instagrapi import exceptions as ig

from core.errors import (
    AccountSuspended,
    AuthError,
    ChallengeRequired,
    ErrorCode,
    ForwarderError,
    MediaError,
    NotFound,
    TransientError,
)
from core.platforms.proxy import ProxySpec, classify_proxy_failure

PLEASE_WAIT_RETRY = 300.0
THROTTLED_RETRY = 900.0


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (causes, contexts, urllib3 reasons, PySocks socket errors)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None),
                  getattr(current, "socket_err", None), *current.args]
        stack.extend(item for item in linked if isinstance(item, BaseException))


def _is_proxy_exception(exc: BaseException) -> bool:
    return type(exc).__module__ == "socks" or isinstance(
        exc, requests.exceptions.ProxyError | urllib3.exceptions.ProxyError)


def _classifiable(chain: list[BaseException]) -> BaseException:
    """Restate a requests/PySocks proxy failure as the exception ``classify_proxy_failure`` words best."""
    texts = " | ".join(str(e) for e in chain).lower()
    names = {type(e).__name__ for e in chain}
    if "407" in texts:
        return SocksLibProxyError("Proxy Authentication Required", error_code=407)
    if "SOCKS5AuthError" in names:
        return SocksLibProxyError("authentication failure")
    if "connection closed unexpectedly" in texts:
        # pproxy and others hang up on a wrong SOCKS5 password instead of answering.
        return ConnectionResetError(errno.ECONNRESET, "closed during the handshake")
    if "SOCKS5Error" in names:
        # The proxy answered but could not reach Instagram: the proxy's fault, not a refusal by it.
        return RuntimeError("the proxy could not reach Instagram")
    if any(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
           for e in chain) or "refused" in texts:
        return ConnectionRefusedError(errno.ECONNREFUSED, "connection refused")
    if any(isinstance(e, TimeoutError | requests.Timeout) for e in chain) or "timed out" in texts:
        return TimeoutError("timed out")
    return next(e for e in chain if _is_proxy_exception(e))


def _proxy_failure(exc: BaseException, spec: ProxySpec) -> TransientError | None:
    chain = list(_chain(exc))
    if not any(_is_proxy_exception(e) for e in chain):
        if any(isinstance(e, requests.exceptions.ConnectTimeout) for e in chain):
            # Through an HTTP proxy the connection that timed out is the one to the proxy.
            return classify_proxy_failure(TimeoutError("timed out"), spec)
        return None
    return classify_proxy_failure(_classifiable(chain), spec)


def _has(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _status(exc: BaseException) -> int | None:
    for name in ("status_code", "code"):
        value = getattr(exc, name, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _retry_after(exc: BaseException, default: float) -> float:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        return max(float(headers.get("Retry-After", "")), 1.0)
    except ValueError:
        return default


def challenge_details(exc: BaseException) -> dict[str, str]:
    """Where the admin (or ``submit_security_code``) can pass the checkpoint."""
    challenge = getattr(exc, "challenge", None)
    challenge = challenge if isinstance(challenge, dict) else {}
    url = challenge.get("url") or getattr(exc, "checkpoint_url", None) or ""
    api_path = challenge.get("api_path") or getattr(exc, "api_path", None) or ""
    if not api_path and url:
        api_path = requests.utils.urlparse(url).path
    details = {"checkpoint_url": str(url), "api_path": str(api_path)}
    context = challenge.get("challenge_context") or getattr(exc, "challenge_context", None)
    if isinstance(context, str) and context:
        details["challenge_context"] = context
    return details


def _is_checkpoint(exc: BaseException) -> bool:
    return bool(getattr(exc, "checkpoint_url", None)) or getattr(exc, "message", None) in (
        "checkpoint_required", "challenge_required")


def _is_disabled(exc: BaseException) -> bool:
    error_type = str(getattr(exc, "error_type", "") or "").lower()
    message = str(getattr(exc, "message", "") or "").lower()
    return error_type in ("inactive user", "inactive_user") or "account has been disabled" in message


def _upload_failure(exc: BaseException) -> ForwarderError:
    status = _status(exc)
    stage = str(getattr(exc, "stage", "") or "configure")
    if status == 429:
        return TransientError(f"Instagram throttled the upload (HTTP 429 at {stage})",
                              code=ErrorCode.API_RATE_LIMIT, retry_after=THROTTLED_RETRY)
    if status == 413:
        return MediaError(f"Instagram refused the video as too large (HTTP 413 at {stage})",
                          code=ErrorCode.VIDEO_TOO_LARGE)
    if status is not None and 400 <= status < 500:
        return MediaError(f"Instagram refused the video (HTTP {status} at {stage})",
                          code=ErrorCode.VIDEO_CORRUPT)
    # 5xx, or configure never returned the media: resume() looks for the post before re-sending.
    label = f"HTTP {status}" if status else "no media returned"
    return TransientError(f"Instagram did not finish the upload ({label} at {stage})",
                          code=ErrorCode.API_TEMPORARY_ERROR)


def translate(exc: BaseException, proxy: ProxySpec | None) -> ForwarderError:
    """The domain error for an exception raised by instagrapi or requests."""
    if isinstance(exc, ForwarderError):
        return exc
    name = type(exc).__name__
    details: dict[str, Any] = {"exception": name}
    if proxy is not None and (failure := _proxy_failure(exc, proxy)) is not None:
        return failure
    if _has(exc, requests.Timeout) or isinstance(exc, ig.ClientRequestTimeout | TimeoutError):
        return TransientError("Instagram did not answer in time", code=ErrorCode.NETWORK_TIMEOUT,
                              details=details)
    if isinstance(exc, ig.AccountSuspended) or (isinstance(exc, ig.UnknownError) and _is_disabled(exc)):
        return AccountSuspended("Instagram suspended or disabled this account",
                                code=ErrorCode.ACCOUNT_SUSPENDED,
                                details={**details, **challenge_details(exc)})
    if isinstance(exc, ig.ChallengeError | ig.CaptchaChallengeRequired) or _is_checkpoint(exc):
        return ChallengeRequired("Instagram asks to confirm the account (challenge/checkpoint)",
                                 code=ErrorCode.CAPTCHA_DETECTED,
                                 details={**details, **challenge_details(exc)})
    if isinstance(exc, ig.TwoFactorRequired):
        return AuthError("Instagram asks for a two-factor code", code=ErrorCode.LOGIN_REQUIRED,
                         details={**details, "two_factor": True})
    if isinstance(exc, ig.LoginRequired | ig.ClientLoginRequired | ig.ReloginAttemptExceeded
                  | ig.ClientUnauthorizedError):
        return AuthError("Instagram logged this session out", code=ErrorCode.LOGIN_REQUIRED, details=details)
    if isinstance(exc, ig.BadPassword | ig.BadCredentials):
        return AuthError("Instagram rejected the username or password", code=ErrorCode.INVALID_CREDENTIALS,
                         details=details)
    if isinstance(exc, ig.PleaseWaitFewMinutes):
        return TransientError("Instagram asks to wait a few minutes", code=ErrorCode.API_RATE_LIMIT,
                              retry_after=PLEASE_WAIT_RETRY, details=details)
    if isinstance(exc, ig.ClientThrottledError | ig.RateLimitError):
        return TransientError("Instagram is rate limiting this account", code=ErrorCode.API_RATE_LIMIT,
                              retry_after=_retry_after(exc, THROTTLED_RETRY), details=details)
    if isinstance(exc, ig.FeedbackRequired):
        reason = str(getattr(exc, "feedback_message", "") or "")[:200]
        suffix = f": {reason}" if reason else ""
        return AccountSuspended(f"Instagram blocked the action (feedback_required){suffix}",
                                code=ErrorCode.FEEDBACK_REQUIRED, details=details)
    if isinstance(exc, ig.SentryBlock | ig.ProxyAddressIsBlocked):
        return AccountSuspended("Instagram blocked requests from this account or its IP",
                                code=ErrorCode.ACTION_BLOCKED, details=details)
    if isinstance(exc, ig.VideoTooLongException):
        return MediaError("Instagram refused the video as too long", code=ErrorCode.VIDEO_TOO_LARGE,
                          details=details)
    if isinstance(exc, ig.ClipNotUpload | ig.VideoNotUpload | ig.PhotoNotUpload):
        error = _upload_failure(exc)
        error.details.update(details)
        return error
    if isinstance(exc, ig.VideoNotDownload):
        return TransientError("Instagram did not deliver the video", details=details)
    if isinstance(exc, ig.NotFoundError | ig.MediaUnavailable | ig.ClientNotFoundError | ig.InvalidMediaId):
        return NotFound("Instagram has no such media", details=details)
    if isinstance(exc, ig.ClientConnectionError) or _has(exc, requests.ConnectionError):
        return TransientError("Instagram is unreachable", details=details)
    if isinstance(exc, ig.ClientJSONDecodeError | ig.ClientIncompleteReadError):
        return TransientError("Instagram sent an incomplete or unreadable answer", details=details)
    status = _status(exc)
    if status is not None and status >= 500:
        return TransientError(f"Instagram answered HTTP {status}", details=details)
    return ForwarderError(f"unexpected Instagram error ({name})", code=ErrorCode.INTERNAL_ERROR,
                          details=details)
