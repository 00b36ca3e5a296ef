from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from tortoise import connections

from core import crypto
from core.errors import ConfigError
from core.models import Account, AuthMethod, Platform, Proxy, ProxyType
from core.services.keys import rotate_keys, verify_all
from core.settings import Settings

PASSWORD = "hunter2-proxy-PASSWORD"
TOKEN = "ya29.very-secret-access-token"


def test_key_file_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    ring = crypto.load_keyring(None, tmp_path)
    path = crypto.key_file_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = crypto.load_keyring(None, tmp_path)
    assert again.keys == ring.keys
    assert again.decrypt(ring.encrypt("x")) == "x"


def test_secret_keys_setting_wins_over_the_file(tmp_path: Path) -> None:
    key = crypto.new_key()
    ring = crypto.load_keyring(f"{key}, {crypto.new_key()}", tmp_path)
    assert ring.keys[0] == key
    assert not crypto.key_file_path(tmp_path).exists()


def test_bad_keys_and_key_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key #1 is not a valid Fernet key"):
        crypto.load_keyring("not-a-key", tmp_path)
    path = crypto.key_file_path(tmp_path)
    path.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        crypto.load_keyring(None, tmp_path)
    path.write_bytes(b"\xff\xfe not ascii")
    with pytest.raises(ConfigError, match="cannot be read"):
        crypto.load_keyring(None, tmp_path)
    path.unlink()
    path.mkdir()  # unreadable as a file, even for root
    with pytest.raises(ConfigError, match="cannot be read") as err:
        crypto.load_keyring(None, tmp_path)
    assert err.value.setting == "DATA_DIR" and "backup" in str(err.value)


def test_decrypting_with_the_wrong_key_names_secret_keys() -> None:
    token = crypto.KeyRing([crypto.new_key()]).encrypt("secret")
    with pytest.raises(ConfigError) as err:
        crypto.KeyRing([crypto.new_key()]).decrypt(token)
    assert err.value.setting == "SECRET_KEYS"


async def _raw_values(table: str, column: str) -> list[str]:
    rows = await connections.get("default").execute_query_dict(f'SELECT "{column}" FROM "{table}"')
    return [r[column] for r in rows if r[column] is not None]


async def _make_secrets() -> tuple[Proxy, Account]:
    proxy = await Proxy.create(alias="p1", type=ProxyType.HTTP, host="127.0.0.1", port=3128,
                               username="proxyuser", password=PASSWORD)
    account = await Account.create(
        platform=Platform.YOUTUBE, alias="yt", auth_method=AuthMethod.OAUTH,
        credentials={"access_token": TOKEN, "refresh_token": "1//refresh-secret"},
    )
    return proxy, account


async def test_secrets_round_trip_and_are_not_stored_in_plaintext(db: str) -> None:
    proxy, account = await _make_secrets()
    assert (await Proxy.get(id=proxy.id)).password == PASSWORD
    assert (await Account.get(id=account.id)).credentials["access_token"] == TOKEN
    raw = await _raw_values("proxies", "password") + await _raw_values("accounts", "credentials")
    assert raw and all(v.startswith("gAAAA") for v in raw)
    assert not any(PASSWORD in v or TOKEN in v for v in raw)
    if db.startswith("sqlite://"):
        await connections.get("default").execute_script("PRAGMA wal_checkpoint(FULL);")
        blob = Path(db.removeprefix("sqlite://")).read_bytes()
        assert PASSWORD.encode() not in blob and TOKEN.encode() not in blob
        assert b"proxyuser" not in blob


async def test_rotation_with_a_key_file_re_encrypts_everything(db: str, settings: Settings) -> None:
    data = settings.data_dir
    old_ring = crypto.load_keyring(None, data)
    crypto.install(old_ring)
    proxy, account = await _make_secrets()
    before = await _raw_values("proxies", "password")

    report = await rotate_keys(settings)
    keys = crypto.read_key_file(crypto.key_file_path(data))
    assert len(keys) == 2 and keys[1] == old_ring.keys[0]
    assert report.values == 3 and report.rows == 2
    after = await _raw_values("proxies", "password")
    assert after != before
    new_only = crypto.KeyRing(keys[:1])
    assert all(new_only.is_primary(v) for v in after + await _raw_values("accounts", "credentials"))

    report = await rotate_keys(settings, drop_old=True)
    assert crypto.read_key_file(crypto.key_file_path(data)) != keys
    assert report.keys_kept == 1
    assert await verify_all(crypto.active()) == 3
    with crypto.using(old_ring), pytest.raises(ConfigError):
        await Proxy.get(id=proxy.id)
    assert (await Account.get(id=account.id)).credentials["refresh_token"] == "1//refresh-secret"


async def test_rotation_with_secret_keys_uses_its_first_key(db: str, settings: Settings) -> None:
    old = crypto.new_key()
    crypto.install(crypto.KeyRing([old]))
    await _make_secrets()
    new = crypto.new_key()
    rotated = settings.model_copy(update={"secret_keys": SecretStr(f"{new},{old}")})
    await rotate_keys(rotated)
    assert all(crypto.KeyRing([new]).is_primary(v) for v in await _raw_values("proxies", "password"))
