"""The kinds of alert (specification §4.7): below the services, so the pipeline can name them."""

from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    """What an alert is about; the admin switches each kind on or off."""

    TOKEN_EXPIRING = "token_expiring"
    TOKEN_EXPIRED = "token_expired"
    REFRESH_FAILED = "refresh_failed"
    JOB_FAILED = "job_failed"
    JOB_RETRY = "job_retry"
    SUCCESS_AFTER_RETRY = "success_after_retry"
    CAPTCHA_DETECTED = "captcha_detected"
    CAPTCHA_RESOLVED = "captcha_resolved"
    PROXY_UNHEALTHY = "proxy_unhealthy"
    CONNECTION_PAUSED = "connection_paused"
    QUOTA_EXHAUSTED = "quota_exhausted"
    TEST = "test"
