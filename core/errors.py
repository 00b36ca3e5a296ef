"""One error taxonomy for every adapter and service.

Tree::

    ForwarderError                 base: carries an ErrorCode, message and hint
    ├── TransientError             retriable: network_timeout, api_rate_limit,
    │                              api_temporary_error, proxy_error
    ├── QuotaExceeded              quota_exceeded: deferred to ``reset_at``, not a retry
    ├── AuthError                  token_expired, invalid_credentials, login_required,
    │                              requires_reauth, client_outdated
    ├── ChallengeRequired          captcha_detected: pauses the account and its connections
    ├── AccountSuspended           account_suspended, feedback_required, action_blocked
    ├── MediaError                 video_too_large, video_corrupt, unsupported_codec
    ├── PolicyError                copyright_violation
    ├── NotFound                   not_found (unknown id, deleted post, expired session)
    └── InvalidInput               invalid_input: per-field messages for what the admin typed

    ConfigError                    a setting is missing or wrong (not a ForwarderError:
                                   it stops the process with one clear line)

Adapters translate library exceptions into these; nothing above ``core.platforms``
sees a library exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How loudly an error is reported."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ErrorCode(StrEnum):
    """Every failure code the system knows (the specification's plus a few of ours)."""

    NETWORK_TIMEOUT = "network_timeout"
    API_RATE_LIMIT = "api_rate_limit"
    API_TEMPORARY_ERROR = "api_temporary_error"
    PROXY_ERROR = "proxy_error"
    TOKEN_EXPIRED = "token_expired"
    REQUIRES_REAUTH = "requires_reauth"
    INVALID_CREDENTIALS = "invalid_credentials"
    CAPTCHA_DETECTED = "captcha_detected"
    LOGIN_REQUIRED = "login_required"
    ACCOUNT_SUSPENDED = "account_suspended"
    VIDEO_TOO_LARGE = "video_too_large"
    VIDEO_CORRUPT = "video_corrupt"
    UNSUPPORTED_CODEC = "unsupported_codec"
    COPYRIGHT_VIOLATION = "copyright_violation"
    QUOTA_EXCEEDED = "quota_exceeded"
    FEEDBACK_REQUIRED = "feedback_required"
    ACTION_BLOCKED = "action_blocked"
    NOT_FOUND = "not_found"
    INVALID_INPUT = "invalid_input"
    REQUEST_REJECTED = "request_rejected"
    CONFIGURATION = "configuration_error"
    INTERNAL_ERROR = "internal_error"
    CLIENT_OUTDATED = "client_outdated"


@dataclass(frozen=True)
class ErrorInfo:
    """Static facts about a code: may it be retried, how severe, what the admin should do."""

    retriable: bool
    severity: Severity
    hint: str


ERROR_INFO: dict[ErrorCode, ErrorInfo] = {
    ErrorCode.NETWORK_TIMEOUT: ErrorInfo(
        True, Severity.MEDIUM, "The platform did not answer in time; it will be retried."
    ),
    ErrorCode.API_RATE_LIMIT: ErrorInfo(
        True, Severity.HIGH, "The platform is rate limiting; retries back off automatically."
    ),
    ErrorCode.API_TEMPORARY_ERROR: ErrorInfo(
        True, Severity.MEDIUM, "The platform returned a temporary error; it will be retried."
    ),
    ErrorCode.PROXY_ERROR: ErrorInfo(
        True, Severity.MEDIUM, "Check the proxy (Proxies -> Health check) or pick another one."
    ),
    ErrorCode.TOKEN_EXPIRED: ErrorInfo(
        False, Severity.CRITICAL,
        "Give the account a new token: Accounts -> the account -> Update credentials.",
    ),
    ErrorCode.REQUIRES_REAUTH: ErrorInfo(
        False, Severity.CRITICAL, "Authorize the account again (Accounts -> the account -> Re-authorize)."
    ),
    ErrorCode.INVALID_CREDENTIALS: ErrorInfo(
        False, Severity.CRITICAL,
        "The stored credentials were rejected: Accounts -> the account -> Update credentials.",
    ),
    ErrorCode.CAPTCHA_DETECTED: ErrorInfo(
        False, Severity.HIGH, "Solve the challenge in the Instagram app, then press 'Mark CAPTCHA solved'."
    ),
    ErrorCode.LOGIN_REQUIRED: ErrorInfo(
        False, Severity.HIGH,
        "The session was logged out: Accounts -> the account -> Update credentials (password or session).",
    ),
    ErrorCode.ACCOUNT_SUSPENDED: ErrorInfo(
        False, Severity.CRITICAL, "The platform suspended the account; resolve it on the platform."
    ),
    ErrorCode.VIDEO_TOO_LARGE: ErrorInfo(
        False, Severity.LOW, "The video exceeds the destination's size limit even after re-encoding."
    ),
    ErrorCode.VIDEO_CORRUPT: ErrorInfo(
        False, Severity.LOW, "The source file is not a readable video."
    ),
    ErrorCode.UNSUPPORTED_CODEC: ErrorInfo(
        False, Severity.LOW, "The source uses a codec the video engine cannot decode."
    ),
    ErrorCode.COPYRIGHT_VIOLATION: ErrorInfo(
        False, Severity.HIGH, "The destination rejected the video for copyright; it will not be retried."
    ),
    ErrorCode.QUOTA_EXCEEDED: ErrorInfo(
        True, Severity.HIGH, "The daily quota is used up; the job waits for the quota reset."
    ),
    ErrorCode.FEEDBACK_REQUIRED: ErrorInfo(
        False, Severity.HIGH,
        "Instagram blocked this action for a while (feedback_required); wait a day and post less often.",
    ),
    ErrorCode.ACTION_BLOCKED: ErrorInfo(
        False, Severity.CRITICAL,
        "Instagram blocked requests from this account or its IP; change the proxy, then resume.",
    ),
    ErrorCode.NOT_FOUND: ErrorInfo(False, Severity.LOW, "The item no longer exists."),
    ErrorCode.INVALID_INPUT: ErrorInfo(False, Severity.LOW, "Correct the fields named in the message."),
    ErrorCode.REQUEST_REJECTED: ErrorInfo(
        False, Severity.HIGH,
        "The platform refused the request as invalid; it is not retried. The message quotes its reason.",
    ),
    ErrorCode.CONFIGURATION: ErrorInfo(
        False, Severity.CRITICAL,
        "The installation is missing something this job needs; the message says what to set or install.",
    ),
    ErrorCode.INTERNAL_ERROR: ErrorInfo(
        True, Severity.HIGH, "An unexpected error; see the logs for details."
    ),
    ErrorCode.CLIENT_OUTDATED: ErrorInfo(
        False, Severity.CRITICAL,
        "The platform refuses the app version the client library presents: upgrade the library "
        "(for Instagram: pip install -U instagrapi), restart the workers, then log the account in again.",
    ),
}


def storable(text: str) -> str:
    """``text`` without what no database column takes: NUL (PostgreSQL) and lone surrogates."""
    if "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return "".join(ch for ch in text if ch != "\x00" and not "\ud800" <= ch <= "\udfff")


class ForwarderError(Exception):
    """Base of every domain error; ``code`` decides retry and severity.

    Its message often quotes a platform's answer; it is made storable here, once, because it
    ends up in the job row, the log and the alert.
    """

    default_code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        message = storable(str(message))
        super().__init__(message)
        self.code = ErrorCode(code or self.default_code)
        self.message = message
        info = ERROR_INFO[self.code]
        self.hint = hint or info.hint
        self.retry_after = retry_after
        self.details = dict(details or {})

    @property
    def retriable(self) -> bool:
        """Whether the default policy retries this error."""
        return ERROR_INFO[self.code].retriable

    @property
    def severity(self) -> Severity:
        """How severe the default policy considers this error."""
        return ERROR_INFO[self.code].severity

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view for job rows, logs and API responses."""
        return {
            "code": self.code.value,
            "message": self.message,
            "hint": self.hint,
            "retriable": self.retriable,
            "severity": self.severity.value,
            "retry_after": self.retry_after,
            "details": self.details,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r})"


class TransientError(ForwarderError):
    """A failure that may pass on its own (timeouts, 5xx, 429, proxy trouble)."""

    default_code = ErrorCode.API_TEMPORARY_ERROR


class QuotaExceeded(ForwarderError):
    """A platform quota is used up until ``reset_at``."""

    default_code = ErrorCode.QUOTA_EXCEEDED

    def __init__(self, message: str, *, reset_at: datetime, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reset_at = reset_at
        self.details.setdefault("reset_at", reset_at.isoformat())


class AuthError(ForwarderError):
    """Credentials are expired, rejected or logged out."""

    default_code = ErrorCode.INVALID_CREDENTIALS


class ChallengeRequired(ForwarderError):
    """The platform asks for a CAPTCHA or a security code."""

    default_code = ErrorCode.CAPTCHA_DETECTED


class AccountSuspended(ForwarderError):
    """The platform suspended or disabled the account."""

    default_code = ErrorCode.ACCOUNT_SUSPENDED


class MediaError(ForwarderError):
    """The video cannot be read, decoded or fitted to the destination."""

    default_code = ErrorCode.VIDEO_CORRUPT


class PolicyError(ForwarderError):
    """The destination refused the content (copyright and the like)."""

    default_code = ErrorCode.COPYRIGHT_VIOLATION


class NotFound(ForwarderError):
    """An id that does not (or no longer) exist."""

    default_code = ErrorCode.NOT_FOUND


class InvalidInput(ForwarderError):
    """Input the admin typed is wrong; ``fields`` maps each field to what to type instead."""

    default_code = ErrorCode.INVALID_INPUT

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        self.fields = dict(fields)
        text = message or "; ".join(f"{name}: {why}" for name, why in self.fields.items())
        super().__init__(text, details={"fields": self.fields})


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and the fix."""

    def __init__(self, setting: str, problem: str, fix: str) -> None:
        self.setting = setting
        self.problem = problem
        self.fix = fix
        super().__init__(f"{setting}: {problem}. {fix}")
