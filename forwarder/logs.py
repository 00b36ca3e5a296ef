"""Logging set-up with secrets redacted from every record."""

from __future__ import annotations

import logging
import re

_BOT_TOKEN = re.compile(r"\b\d{3,}:[A-Za-z0-9_-]{30,}\b")
# Secrets libraries log at DEBUG as fields of what they send and receive (requests-oauthlib logs
# the token response: {'access_token': ..., 'refresh_token': ...}): the value after such a key,
# in a dict, JSON, a form or a header, and OAuth bearer tokens wherever they appear.
_FIELD = re.compile(
    r"""(?i)(\b(?:access_token|refresh_token|id_token|client_secret|code_verifier|password|"""
    r"""enc_password|app_secret|fb_exchange_token|sessionid)\b["']?\s*[:=]\s*)"""
    r"""("[^"]*"|'[^']*'|[^"'&\s,;}]+)""")


def _hide(match: re.Match[str]) -> str:
    value = match[2]
    return match[1] + (value[0] + "***" + value[0] if value[0] in "\"'" else "***")


_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")


class RedactSecrets(logging.Filter):
    """Replace known secrets, secret fields and anything shaped like a bot token with '***'."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def redact(self, text: str) -> str:
        text = _BEARER.sub(r"\1***", _FIELD.sub(_hide, _BOT_TOKEN.sub("***", text)))
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:  # a traceback's messages may carry them too
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def setup_logging(level: str, secrets: list[str]) -> None:
    """Log to stderr at ``level`` through the redaction filter."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiogram.event", "arq.worker", "aiohttp.access", "tortoise"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
