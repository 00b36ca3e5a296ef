"""Database: tortoise configuration, start-up, migrations and a connectivity check."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate as migrate_api

from core.errors import ConfigError
from core.models import MODEL_MODULES


def tortoise_config(db_url: str) -> dict[str, Any]:
    """The tortoise config for one database URL."""
    return {
        "connections": {"default": db_url},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "migrations": "core.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _sqlite_path(db_url: str) -> Path | None:
    if not db_url.startswith("sqlite://"):
        return None
    path = db_url.removeprefix("sqlite://").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def _explain(db_url: str, exc: BaseException) -> ConfigError:
    safe = db_url.split("@", 1)[-1] if "@" in db_url else db_url
    reason = str(exc).strip() or exc.__class__.__name__
    return ConfigError(
        "DATABASE_URL",
        f"cannot connect to {safe} ({reason.splitlines()[0]})",
        "Check that the server runs and the URL (host, port, user, password, database) is right, "
        "or unset DATABASE_URL to use the embedded SQLite file",
    )


async def init_db(db_url: str, *, ping_timeout: float = 10.0) -> None:
    """Open the database and check that it answers; errors name DATABASE_URL."""
    path = _sqlite_path(db_url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _explain(db_url, exc) from None
    try:
        # Not under wait_for: that runs init in another task, whose context vars (where
        # tortoise keeps its state) would not reach this one.
        # One process has one database: the global fallback lets tasks created before
        # init (aiohttp's, pytest's) see it too.
        await Tortoise.init(config=tortoise_config(db_url), _enable_global_fallback=True)
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), ping_timeout)
    except ConfigError:
        raise
    except (OSError, TimeoutError, Exception) as exc:  # driver errors vary
        await close_db()
        raise _explain(db_url, exc) from None


async def close_db() -> None:
    """Close every connection (aiosqlite hangs at exit otherwise)."""
    try:
        await Tortoise.close_connections()
    except Exception:  # noqa: BLE001 - closing a half-open pool must not mask the real error
        pass


async def run_migrations(db_url: str) -> None:
    """Apply every pending migration."""
    path = _sqlite_path(db_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        await migrate_api(config=tortoise_config(db_url))
    except Exception as exc:
        raise _explain(db_url, exc) from exc
    finally:
        await close_db()


async def ping_db() -> bool:
    """True when the open database answers a trivial query."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:  # noqa: BLE001 - health reports, never raises
        return False
    return True


# For tortoise's own CLI (`tortoise -c core.db.TORTOISE_ORM makemigrations`) on a scratch db.
TORTOISE_ORM = tortoise_config("sqlite:///tmp/forwarder-makemigrations.sqlite3")
