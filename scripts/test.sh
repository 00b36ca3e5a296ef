#!/usr/bin/env bash
# Run the whole test suite. It runs on SQLite and an embedded Redis; where a PostgreSQL
# and a Redis server answer on loopback (or TEST_DATABASE_URL / TEST_REDIS_URL name
# them), the tests that use a database or Redis run again against those servers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv dev
cd "$ROOT"
PY="$VENV/bin/python"

# Distribution tools some tests use when present: chromium (the Mini App's browser tests;
# Playwright never downloads a browser), docker-compose v1 and caddy (tests/test_deploy.py
# validates the compose file and the Caddyfile offline). Installed once, when missing.
MISSING=""
for tool in chromium:chromium docker-compose:docker-compose caddy:caddy; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || MISSING="$MISSING ${tool#*:}"
done
if [ -n "$MISSING" ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing from the distribution:$MISSING =="
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq $MISSING >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq $MISSING >/dev/null 2>&1; } \
    || echo "could not install$MISSING: the tests that need them are skipped" >&2
fi

echo "== test suite (SQLite + embedded Redis) =="
env -u TEST_DATABASE_URL -u TEST_REDIS_URL "$PY" -m pytest "$@"

PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
REDIS_URL_="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
if "$PY" - "$PG_URL" "$REDIS_URL_" <<'PYEOF'
import asyncio, sys
import asyncpg, redis.asyncio as r

async def main() -> None:
    conn = await asyncio.wait_for(asyncpg.connect(sys.argv[1].replace("postgres://", "postgresql://", 1)), 3)
    await conn.close()
    client = r.Redis.from_url(sys.argv[2], socket_connect_timeout=3)
    await client.ping()
    await client.aclose()

try:
    asyncio.run(main())
except Exception as exc:  # noqa: BLE001
    print(f"servers not available ({exc.__class__.__name__}): skipping the server pass", file=sys.stderr)
    sys.exit(1)
PYEOF
then
  echo "== database and Redis tests against PostgreSQL and a Redis server =="
  TEST_DATABASE_URL="$PG_URL" TEST_REDIS_URL="$REDIS_URL_" "$PY" -m pytest -m services "$@"
fi
