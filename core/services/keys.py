"""Key rotation: a new Fernet key first, every stored secret re-encrypted with it."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from core import crypto
from core.models import ENCRYPTED_FIELDS
from core.settings import Settings


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did."""

    rows: int
    values: int
    keys_kept: int
    key_file: str | None


async def reencrypt_all(keyring: crypto.KeyRing) -> tuple[int, int]:
    """Re-encrypt every encrypted value with the ring's newest key in one transaction."""
    rows = values = 0
    with crypto.using(keyring):
        async with in_transaction():
            for model, names in ENCRYPTED_FIELDS.items():
                async for obj in model.all():
                    present = [n for n in names if getattr(obj, n) is not None]
                    if not present:
                        continue
                    await obj.save(update_fields=present)
                    rows += 1
                    values += len(present)
    return rows, values


async def verify_all(keyring: crypto.KeyRing) -> int:
    """Decrypt every stored secret with ``keyring``; raises ConfigError on the first failure."""
    count = 0
    with crypto.using(keyring):
        for model, names in ENCRYPTED_FIELDS.items():
            async for obj in model.all():
                count += sum(getattr(obj, n) is not None for n in names)
    return count


async def rotate_keys(settings: Settings, *, drop_old: bool = False) -> RotationReport:
    """Rotate keys; the database must be open.

    With a key file: a new key is written first (old ones kept, so a crash midway loses
    nothing), then every secret is re-encrypted; ``drop_old`` then removes the old keys.
    With SECRET_KEYS: re-encrypt with its first key (put the new key first beforehand).
    """
    data_dir = settings.data_dir.resolve()
    if settings.secret_keys:
        ring = crypto.load_keyring(settings.secret_keys.get_secret_value(), data_dir)
        rows, values = await reencrypt_all(ring)
        crypto.install(ring)
        return RotationReport(rows, values, len(ring.keys), None)
    path = crypto.key_file_path(data_dir)
    old = crypto.read_key_file(path) if path.exists() else []
    keys = [crypto.new_key(), *old]
    crypto.write_key_file(path, keys)
    ring = crypto.KeyRing(keys)
    rows, values = await reencrypt_all(ring)
    if drop_old:
        await verify_all(crypto.KeyRing(keys[:1]))  # raises before any key is dropped
        keys = keys[:1]
        crypto.write_key_file(path, keys)
        ring = crypto.KeyRing(keys)
    crypto.install(ring)
    return RotationReport(rows, values, len(keys), str(path))
