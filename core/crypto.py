"""Encryption at rest: a Fernet key ring (newest key first) and the key file in DATA_DIR."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import ConfigError

KEY_FILE_NAME = "secret.keys"


class KeyRing:
    """Fernet keys, newest first: encrypts with the first, decrypts with any."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigError("SECRET_KEYS", "holds no key", "Give at least one Fernet key.")
        fernets = []
        for index, key in enumerate(keys):
            try:
                fernets.append(Fernet(key.encode() if isinstance(key, str) else key))
            except (ValueError, TypeError):
                raise ConfigError(
                    "SECRET_KEYS",
                    f"key #{index + 1} is not a valid Fernet key (32 url-safe base64 bytes)",
                    "Generate one with `forwarder rotate-keys --print-new-key`.",
                ) from None
        self.keys = list(keys)
        self._multi = MultiFernet(fernets)
        self._primary = fernets[0]

    def encrypt(self, plaintext: str) -> str:
        """Encrypt text with the newest key."""
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt text with whichever key made it."""
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise ConfigError(
                "SECRET_KEYS",
                "a stored secret cannot be decrypted with any configured key",
                "Restore the key file or SECRET_KEYS value that was in use when it was saved.",
            ) from None

    def is_primary(self, token: str) -> bool:
        """True when the token was made with the newest key (nothing to rotate)."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except (InvalidToken, ValueError):
            return False
        return True


def derive_key(keyring: KeyRing, purpose: str) -> bytes:
    """A 32-byte key for one purpose (e.g. signing OAuth states), derived from the newest key."""
    import hashlib
    import hmac

    return hmac.new(keyring.keys[0].encode("ascii"), purpose.encode(), hashlib.sha256).digest()


def new_key() -> str:
    """A fresh Fernet key."""
    return Fernet.generate_key().decode("ascii")


def key_file_path(data_dir: Path) -> Path:
    """Where the generated key ring lives."""
    return data_dir / KEY_FILE_NAME


def read_key_file(path: Path) -> list[str]:
    """Keys stored one per line, newest first."""
    try:
        text = path.read_text(encoding="ascii")
    except PermissionError:
        raise ConfigError(
            "DATA_DIR", f"the key file {path} is not readable by this user",
            f"Fix its owner/permissions (chmod 600 {path}) or run as the user that created it.",
        ) from None
    except (UnicodeDecodeError, OSError) as exc:
        raise ConfigError(
            "DATA_DIR", f"the key file {path} cannot be read ({exc.__class__.__name__})",
            "Restore it from a backup; without it stored secrets cannot be decrypted.",
        ) from None
    keys = [line.strip() for line in text.splitlines() if line.strip()]
    if not keys:
        raise ConfigError(
            "DATA_DIR", f"the key file {path} is empty",
            "Restore it from a backup, or delete it and the database to start afresh.",
        )
    return keys


def write_key_file(path: Path, keys: list[str]) -> None:
    """Atomically write keys (mode 0600): a crash leaves the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write("\n".join(keys) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_keyring(secret_keys: str | None, data_dir: Path, *, create: bool = True) -> KeyRing:
    """SECRET_KEYS when set, else the key file in DATA_DIR (generated once when ``create``)."""
    ring, pending = keyring_for(secret_keys, data_dir, create=create)
    if pending is not None:
        write_key_file(*pending)
    return ring


def keyring_for(
    secret_keys: str | None, data_dir: Path, *, create: bool = True
) -> tuple[KeyRing, tuple[Path, list[str]] | None]:
    """The key ring, and the key file still to write when it was generated just now.

    Callers write the file only once everything else opened, so a failed start leaves
    nothing behind.
    """
    if secret_keys:
        return KeyRing([k.strip() for k in secret_keys.split(",") if k.strip()]), None
    path = key_file_path(data_dir)
    if path.exists():
        return KeyRing(read_key_file(path)), None
    if not create:
        raise ConfigError(
            "SECRET_KEYS", f"no key file at {path}",
            "Run `forwarder migrate` or `forwarder up` once to create it",
        )
    keys = [new_key()]
    return KeyRing(keys), (path, keys)


# The active key ring. Encrypted model fields convert values outside any call context,
# so the composition root installs the ring here once per process.
_active: KeyRing | None = None


def install(keyring: KeyRing) -> None:
    """Make ``keyring`` the one encrypted fields use."""
    global _active
    _active = keyring


def active() -> KeyRing:
    """The installed key ring."""
    if _active is None:
        raise RuntimeError("no key ring installed; build the app through core.bootstrap")
    return _active


@contextlib.contextmanager
def using(keyring: KeyRing) -> Any:
    """Temporarily install a key ring (tests, rotation)."""
    previous = _active
    install(keyring)
    try:
        yield keyring
    finally:
        globals()["_active"] = previous


def encrypt_json(value: Any) -> str:
    """Serialize and encrypt a JSON value with the active key ring."""
    return active().encrypt(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def decrypt_json(token: str) -> Any:
    """Decrypt and parse a value made by ``encrypt_json``."""
    return json.loads(active().decrypt(token))
