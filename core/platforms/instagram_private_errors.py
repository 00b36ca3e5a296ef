"""instagrapi, requests and curl_cffi exceptions -> ``core.errors``, for the private Instagram adapter.

Every exception class of instagrapi 3.2.2's ``instagrapi/exceptions.py`` has a code here and a
message that says what the admin should do (the tests walk the module). Messages are written
here, never copied from an exception: an instagrapi exception carries the whole response (the
login request included), and transport texts name hosts and pools. Only Instagram's own short
explanations (``feedback_message``) and identifiers (``error_type``) are quoted.

instagrapi's private requests go through curl_cffi (``instagrapi/transports.py``), which re-raises
curl's failures as the ``requests`` exception of the same name (``from`` the curl one, whose
``code`` is libcurl's error number); instagrapi wraps connection errors in ``ClientConnectionError``.

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
from curl_cffi import CurlECode, CurlError
from curl_cffi.requests.exceptions import ProxyError as CurlProxyError
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
        exc, requests.exceptions.ProxyError | urllib3.exceptions.ProxyError | CurlProxyError)


def _curl_code(chain: list[BaseException]) -> int | None:
    """libcurl's error number, when curl_cffi raised somewhere in the chain."""
    for e in chain:
        if isinstance(e, CurlError) and e.code:
            return int(e.code)
    return None


def _classifiable(chain: list[BaseException]) -> BaseException:
    """Restate a requests/PySocks proxy failure as the exception ``classify_proxy_failure`` words best."""
    texts = " | ".join(str(e) for e in chain).lower()
    names = {type(e).__name__ for e in chain}
    if "407" in texts:
        return SocksLibProxyError("Proxy Authentication Required", error_code=407)
    if "SOCKS5AuthError" in names or "rejected by the socks5 server" in texts:  # PySocks; curl
        return SocksLibProxyError("authentication failure")
    if "connection closed unexpectedly" in texts or "proxy closed connection" in texts:  # PySocks; curl
        # pproxy and others hang up on a wrong SOCKS5 password instead of answering.
        return ConnectionResetError(errno.ECONNRESET, "closed during the handshake")
    if "SOCKS5Error" in names or "can't complete socks5 connection" in texts or "tunnel failed" in texts:
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
    if _status(exc) == 407:
        # A plain-http target (a test's fake) gets the proxy's own 407 as the answer.
        refused = SocksLibProxyError("Proxy Authentication Required", error_code=407)
        return classify_proxy_failure(refused, spec)
    code = _curl_code(chain)
    if code in (CurlECode.COULDNT_CONNECT, CurlECode.COULDNT_RESOLVE_PROXY) and not any(
            _is_proxy_exception(e) for e in chain):
        # With a proxy set, curl's first and only connection is the one to the proxy.
        return classify_proxy_failure(ConnectionRefusedError(errno.ECONNREFUSED, "connection refused"), spec)
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


# error_type values that mean "this app version is refused" (the message asks to update the app):
# needs_upgrade (https://github.com/subzeroid/instagrapi/issues/2773) and the EU variant
# block_eu_user_login_in_old_app ("You'll need to update Instagram to the latest version").
_OUTDATED_TYPES = ("needs_upgrade", "block_eu_user_login_in_old_app")
OUTDATED_MESSAGE = ("Instagram refuses the app version instagrapi presents ({what}): upgrade instagrapi "
                    "(pip install -U instagrapi), restart the workers, then log the account in again")
# ClientError texts instagrapi 3.2.2 writes itself when the CAA login stops (mixins/auth.py, bloks.py).
_CAA_STOPS = ("CAA login", "CAA preflight")
_CHALLENGE_STEPS: dict[type[BaseException], str] = {
    ig.ChallengeSelfieCaptcha: "Instagram asks for a selfie check: do it in the Instagram app, then resume",
    ig.RecaptchaChallengeForm: "Instagram shows a captcha: solve it in the Instagram app, then resume",
    ig.SelectContactPointRecoveryForm: ("Instagram wants the owner to confirm the account through its "
                                        "'Get help logging in' form: do it in the Instagram app, then "
                                        "resume"),
    ig.SubmitPhoneNumberForm: ("Instagram asks to add a phone number to the account: add it in the "
                               "Instagram app, then resume"),
    ig.LegacyForceSetNewPasswordForm: ("Instagram forces a new password: set it in the Instagram app, then "
                                       "update the password here (Accounts -> the account)"),
    ig.ChallengeUnknownStep: ("Instagram asks for a confirmation step this tool cannot pass: finish it "
                              "in the Instagram app, then resume"),
    ig.ChallengeRedirection: ("Instagram sent the login to a web checkpoint: open the Instagram app or "
                              "instagram.com on a trusted device, confirm it is you, then resume"),
}


def _error_type(exc: BaseException) -> str:
    return str(getattr(exc, "error_type", "") or "").strip().lower()


def _label(exc: BaseException) -> str:
    """What Instagram said, as identifiers only: HTTP status and error_type."""
    parts = [f"HTTP {status}" for status in [_status(exc)] if status]
    if _error_type(exc):
        parts.append(_error_type(exc)[:60])
    return ", ".join(parts) or type(exc).__name__


def _transport(exc: BaseException, details: dict[str, Any]) -> ForwarderError | None:
    if _has(exc, requests.Timeout) or isinstance(exc, ig.ClientRequestTimeout | TimeoutError):
        return TransientError("Instagram did not answer in time", code=ErrorCode.NETWORK_TIMEOUT,
                              details=details)
    texts = " | ".join(str(e) for e in _chain(exc)).lower()
    if "did not negotiate http/2" in texts:
        # instagrapi 3.2.2 transports.py refuses anything but HTTP/2 to Instagram.
        return TransientError("The connection to Instagram did not speak HTTP/2, which instagrapi's login "
                              "needs: a TLS-intercepting proxy or firewall is in the way; use another proxy",
                              code=ErrorCode.PROXY_ERROR, details=details)
    if _has(exc, requests.exceptions.SSLError):
        # TLS 1.3 only (instagrapi 3.0.21 release notes: "HTTPS targets and TLS-intercepting proxies
        # must support TLS 1.3").
        return TransientError("The TLS handshake with Instagram failed (instagrapi requires TLS 1.3 and a "
                              "valid certificate): check the proxy, or whether something intercepts TLS",
                              details=details)
    if isinstance(exc, ig.ClientConnectionError) or _has(exc, (requests.ConnectionError, CurlError)):
        return TransientError("Instagram is unreachable", details=details)
    if isinstance(exc, ig.ClientJSONDecodeError | ig.ClientIncompleteReadError):
        return TransientError("Instagram sent an incomplete or unreadable answer", details=details)
    return None


def _outdated(exc: BaseException, details: dict[str, Any]) -> ForwarderError | None:
    if isinstance(exc, ig.ClientNeedsUpgradeError) or _error_type(exc) in _OUTDATED_TYPES:
        return AuthError(OUTDATED_MESSAGE.format(what=_error_type(exc) or "needs_upgrade"),
                         code=ErrorCode.CLIENT_OUTDATED, details=details)
    if type(exc) is ig.ClientError and "bloks_versioning_id" in str(getattr(exc, "message", "") or ""):
        return AuthError(OUTDATED_MESSAGE.format(what="no Bloks hash for the saved app profile"),
                         code=ErrorCode.CLIENT_OUTDATED, details=details)
    return None


def _login(exc: BaseException, details: dict[str, Any]) -> ForwarderError | None:
    text = str(getattr(exc, "message", "") or "")
    if type(exc) is ig.ClientError and text.startswith(_CAA_STOPS):
        return AuthError("Instagram ended the login without a session and without saying why: open the "
                         "Instagram app on a trusted device (through the account's proxy if it has one), "
                         "confirm any 'was this you?' prompt, then log in again here",
                         code=ErrorCode.LOGIN_REQUIRED, details={**details, "caa": text[:80]})
    if isinstance(exc, ig.TwoFactorRequired):
        return AuthError("Instagram asks for a two-factor code", code=ErrorCode.LOGIN_REQUIRED,
                         details={**details, "two_factor": True})
    if isinstance(exc, ig.LoginRequired | ig.ClientLoginRequired | ig.ReloginAttemptExceeded
                  | ig.ClientUnauthorizedError):
        return AuthError("Instagram logged this session out", code=ErrorCode.LOGIN_REQUIRED, details=details)
    if isinstance(exc, ig.ClientForbiddenError):
        return AuthError("Instagram refused this session (HTTP 403): log the account in again; if it "
                         "keeps happening, check the account's proxy", code=ErrorCode.LOGIN_REQUIRED,
                         details=details)
    if isinstance(exc, ig.BadPassword | ig.BadCredentials):
        return AuthError("Instagram rejected the username or password", code=ErrorCode.INVALID_CREDENTIALS,
                         details=details)
    return None


def _account(exc: BaseException, details: dict[str, Any]) -> ForwarderError | None:
    if isinstance(exc, ig.AccountSuspended) or (isinstance(exc, ig.UnknownError) and _is_disabled(exc)):
        return AccountSuspended("Instagram suspended or disabled this account",
                                code=ErrorCode.ACCOUNT_SUSPENDED,
                                details={**details, **challenge_details(exc)})
    if isinstance(exc, ig.ChallengeError | ig.CaptchaChallengeRequired) or _is_checkpoint(exc):
        step = next((text for kind, text in _CHALLENGE_STEPS.items() if isinstance(exc, kind)), None)
        return ChallengeRequired(step or "Instagram asks to confirm the account (challenge/checkpoint)",
                                 code=ErrorCode.CAPTCHA_DETECTED,
                                 details={**details, **challenge_details(exc)})
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
    if isinstance(exc, ig.AccountContactPointRequired):
        return AccountSuspended("Instagram requires an email address or a confirmed phone number on this "
                                "account: add one in the Instagram app, then resume",
                                code=ErrorCode.ACTION_BLOCKED, details=details)
    return None


def _media(exc: BaseException, details: dict[str, Any]) -> ForwarderError | None:
    if isinstance(exc, ig.VideoTooLongException):
        return MediaError("Instagram refused the video as too long", code=ErrorCode.VIDEO_TOO_LARGE,
                          details=details)
    if isinstance(exc, ig.ClipNotUpload | ig.VideoNotUpload | ig.PhotoNotUpload | ig.IGTVNotUpload
                  | ig.AlbumConfigureError):
        error = _upload_failure(exc)
        error.details.update(details)
        return error
    if isinstance(exc, ig.VideoNotDownload | ig.AlbumNotDownload):
        return TransientError("Instagram did not deliver the media", details=details)
    if isinstance(exc, ig.NotFoundError | ig.MediaUnavailable | ig.ClientNotFoundError | ig.InvalidMediaId
                  | ig.CommentNotFound | ig.CommentUnavailable | ig.RelatedProfileRequired):
        return NotFound("Instagram has no such item (deleted, or never there)", details=details)
    if isinstance(exc, ig.PrivateAccount | ig.InvalidTargetUser):
        return ForwarderError("Instagram does not show that profile to this account (private or unknown): "
                              "follow it from this account or pick another one",
                              code=ErrorCode.REQUEST_REJECTED, details=details)
    return None


def _refused(exc: BaseException, details: dict[str, Any]) -> ForwarderError | None:
    """What this adapter never asks for, and Instagram's unexplained refusals."""
    if isinstance(exc, ig.ValidationError):
        return ForwarderError("instagrapi could not read Instagram's answer (its data model refused it): "
                              "upgrade instagrapi if this keeps happening", code=ErrorCode.INTERNAL_ERROR,
                              details=details)
    if isinstance(exc, ig.WrongCursorError | ig.ClientGraphqlError):
        return TransientError("Instagram refused a page or query it had handed out; it is asked again",
                              details=details)
    if isinstance(exc, ig.AlbumUnknownFormat):
        return MediaError("instagrapi does not know this media format", code=ErrorCode.UNSUPPORTED_CODEC,
                          details=details)
    features = (ig.AccountEditError, ig.DirectError, ig.CommentsDisabled, ig.EmailInvalidError,
                ig.EmailNotAvailableError, ig.EmailVerificationSendError, ig.AgeEligibilityError,
                ig.ResetPasswordError, ig.UserError, ig.CollectionError, ig.HashtagError, ig.LocationError,
                ig.MediaError)
    if isinstance(exc, features):
        return ForwarderError(f"Instagram refused a {type(exc).__name__.removesuffix('Error')} request "
                              f"({_label(exc)}); this tool only lists, downloads and posts reels",
                              code=ErrorCode.REQUEST_REJECTED, details=details)
    status = _status(exc)
    if status is not None and status >= 500:
        return TransientError(f"Instagram answered HTTP {status}", details=details)
    if isinstance(exc, ig.ClientError):  # ClientError, PrivateError, UnknownError, their bare kin
        return ForwarderError(f"Instagram refused the request ({_label(exc)}); it is not retried: if it "
                              "keeps happening, check the account in the Instagram app",
                              code=ErrorCode.REQUEST_REJECTED, details=details)
    return None


def translate(exc: BaseException, proxy: ProxySpec | None) -> ForwarderError:
    """The domain error for an exception raised by instagrapi, requests or curl_cffi."""
    if isinstance(exc, ForwarderError):
        return exc
    name = type(exc).__name__
    details: dict[str, Any] = {"exception": name}
    if proxy is not None and (failure := _proxy_failure(exc, proxy)) is not None:
        return failure
    for kind in (_transport, _outdated, _account, _login, _media, _refused):
        if (error := kind(exc, details)) is not None:
            return error
    status = _status(exc)
    if status is not None and status >= 500:
        return TransientError(f"Instagram answered HTTP {status}", details=details)
    return ForwarderError(f"unexpected Instagram error ({name})", code=ErrorCode.INTERNAL_ERROR,
                          details=details)
