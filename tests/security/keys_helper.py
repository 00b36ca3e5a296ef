"""A separate process for tests/security/test_key_rotation.py: stores or reads secrets in the
database that ``forwarder`` (configured by the environment) uses, as the app would.

    python keys_helper.py seed '{"proxy": "...", "refresh": "...", "verifier": "..."}'  # migrates first
    python keys_helper.py read [KEY,KEY...]...  # with the configured ring, then with each list alone

Prints one JSON line: for ``read`` a list, per ring: each secret and whether the ring's newest key
made every stored value, or the error that stopped it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tortoise import connections  # noqa: E402

from core import crypto  # noqa: E402
from core.db import close_db, init_db, run_migrations  # noqa: E402
from core.errors import ConfigError  # noqa: E402
from core.models import Account, AuthMethod, OAuthState, Platform, Proxy, ProxyType  # noqa: E402
from core.settings import load_settings  # noqa: E402

RAW = {"proxies": ("username", "password"), "accounts": ("credentials",), "oauth_states": ("code_verifier",)}


async def _read(ring: crypto.KeyRing) -> dict[str, object]:
    with crypto.using(ring):
        raw = []
        for table, columns in RAW.items():
            for row in await connections.get("default").execute_query_dict(
                    f'SELECT {", ".join(columns)} FROM "{table}"'):
                raw += [v for v in row.values() if v is not None]
        try:
            proxy = await Proxy.get(alias="p1")
            account = await Account.get(alias="tube")
            state = await OAuthState.get(account_id=account.id)
        except ConfigError as exc:
            return {"error": str(exc), "setting": exc.setting}
        return {"proxy": proxy.password, "refresh": account.credentials["refresh_token"],
                "verifier": state.code_verifier, "values": len(raw),
                "newest_key_made_all": all(crypto.KeyRing(ring.keys[:1]).is_primary(v) for v in raw)}


async def main(command: str, args: list[str]) -> object:
    settings = load_settings()
    secret = settings.secret_keys.get_secret_value() if settings.secret_keys else None
    if command == "seed":  # what `forwarder migrate` does: the schema, then the key file (key A)
        await run_migrations(settings.resolved_database_url)
    ring = crypto.load_keyring(secret, settings.data_dir.resolve(), create=command == "seed")
    crypto.install(ring)
    await init_db(settings.resolved_database_url)
    try:
        if command == "seed":
            values = json.loads(args[0])
            await Proxy.create(alias="p1", type=ProxyType.HTTP, host="127.0.0.1", port=3128, username="u",
                               password=values["proxy"])
            account = await Account.create(platform=Platform.YOUTUBE, alias="tube",
                                           auth_method=AuthMethod.OAUTH,
                                           credentials={"refresh_token": values["refresh"]})
            await OAuthState.create(state_hash="h" * 64, account=account, code_verifier=values["verifier"],
                                    expires_at=datetime.now(UTC))
            return {"seeded": True, "keys": len(ring.keys)}
        return [await _read(r) for r in [ring, *(crypto.KeyRing(a.split(",")) for a in args)]]
    finally:
        await close_db()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2:]))), flush=True)
