"""Model fields whose values are encrypted at rest with the active key ring."""

from __future__ import annotations

from typing import Any

from tortoise.fields import Field

from core import crypto


class EncryptedJSONField(Field[Any]):
    """A JSON value stored as a Fernet token (TEXT); None stays NULL."""

    SQL_TYPE = "TEXT"
    indexable = False
    has_db_field = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        """Encrypt on the way in."""
        if value is None:
            return None
        return crypto.encrypt_json(value)

    def to_python_value(self, value: Any) -> Any:
        """Decrypt on the way out."""
        if value is None:
            return None
        if isinstance(value, str) and _is_token(value):
            return crypto.decrypt_json(value)
        return value  # a Python value assigned in memory, not yet saved


class EncryptedTextField(EncryptedJSONField):
    """A string stored encrypted (passwords, proxy credentials)."""


def _is_token(value: str) -> bool:
    return value.startswith("gAAAA") and len(value) >= 100
