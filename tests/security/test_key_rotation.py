"""Key rotation end to end, as an operator does it: real ``forwarder`` commands on a data folder.

With the generated key file: secrets stored under key A (the key ``forwarder migrate`` makes);
``forwarder rotate-keys --drop-old`` puts a new key B first, re-encrypts every secret with it,
checks that B alone reads them all, and only then removes A. Every secret reads back the same
with B; A alone reads nothing; the database file never holds a secret in plaintext. (Plain
``rotate-keys``, which keeps A for backups, is tested in tests/test_cli.py and tests/core.)

With SECRET_KEYS the operator puts the new key first; the command re-encrypts; A can then be
removed from SECRET_KEYS, after which A alone reads nothing (in-process: the same service).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from core import crypto
from core.errors import ConfigError
from core.models import Account, AuthMethod, OAuthState, Platform, Proxy, ProxyType
from core.services.keys import rotate_keys, verify_all
from core.settings import Settings

HELPER = Path(__file__).with_name("keys_helper.py")
TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "ADMIN_", "DATABASE_", "REDIS_", "SECRET_", "WEB_"))}
    env.update({"DATA_DIR": str(data_dir), "TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": "1",
                "PYTHONUNBUFFERED": "1", **extra})
    return env


async def _run(*argv: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*argv, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=pipe, stderr=pipe)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def _forwarder(*args: str, env: dict[str, str], cwd: Path) -> str:
    code, out, err = await _run(sys.executable, "-m", "forwarder", *args, env=env, cwd=cwd)
    assert code == 0, err[-2000:]
    return out


async def _helper(*args: str, env: dict[str, str], cwd: Path) -> Any:
    code, out, err = await _run(sys.executable, str(HELPER), *args, env=env, cwd=cwd)
    assert code == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


async def test_rotate_keys_with_the_key_file_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    values = {"proxy": "proxy-" + secrets.token_hex(12), "refresh": "1//" + secrets.token_hex(16),
              "verifier": "v" + secrets.token_hex(20)}
    assert (await _helper("seed", json.dumps(values), env=env, cwd=tmp_path))["seeded"] is True
    key_file = crypto.key_file_path(data)
    [key_a] = crypto.read_key_file(key_file)

    # A new key B first, everything re-encrypted with it, checked with B alone, then A dropped.
    out = await _forwarder("rotate-keys", "--drop-old", env=env, cwd=tmp_path)
    assert "Re-encrypted 4 secret(s) in 3 row(s)" in out and "1 key(s) kept" in out
    [key_b] = crypto.read_key_file(key_file)
    assert key_b != key_a
    with_b, only_a = await _helper("read", key_a, env=env, cwd=tmp_path)
    assert isinstance(with_b, dict) and isinstance(only_a, dict)
    assert {k: with_b[k] for k in values} == values and with_b["newest_key_made_all"] is True
    assert only_a["setting"] == "SECRET_KEYS" and "cannot be decrypted" in str(only_a["error"])
    raw = b"".join(p.read_bytes() for p in data.glob("forwarder.sqlite3*"))
    assert raw and not [v for v in values.values() if v.encode() in raw]


async def test_rotate_keys_with_secret_keys_then_remove_the_old_key(db: str, settings: Settings) -> None:
    key_a, key_b = crypto.new_key(), crypto.new_key()
    old = crypto.KeyRing([key_a])
    with crypto.using(old):
        proxy = await Proxy.create(alias="p1", type=ProxyType.HTTP, host="127.0.0.1", port=1, username="u",
                                   password="proxy-secret")
        account = await Account.create(platform=Platform.YOUTUBE, alias="yt", auth_method=AuthMethod.OAUTH,
                                       credentials={"refresh_token": "1//refresh"})
        await OAuthState.create(state_hash="s" * 64, account=account, code_verifier="verifier",
                                expires_at=account.created_at)
    # The operator puts B first in SECRET_KEYS and runs the rotation.
    report = await rotate_keys(settings.model_copy(update={"secret_keys": SecretStr(f"{key_b},{key_a}")}))
    assert (report.rows, report.values, report.key_file) == (3, 4, None)
    only_b = crypto.KeyRing([key_b])
    assert await verify_all(only_b) == 4  # A can now leave SECRET_KEYS
    with crypto.using(only_b):
        assert (await Proxy.get(id=proxy.id)).password == "proxy-secret"
        assert (await Account.get(id=account.id)).credentials["refresh_token"] == "1//refresh"
    with pytest.raises(ConfigError) as err:
        await verify_all(old)
    assert err.value.setting == "SECRET_KEYS"
    with crypto.using(old), pytest.raises(ConfigError):
        await Proxy.get(id=proxy.id)
