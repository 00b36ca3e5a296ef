"""Shared fixtures: a migrated database (SQLite, or TEST_DATABASE_URL), a Redis (embedded,
or TEST_REDIS_URL), settings pointing at them, and the runtime built from those.

Tests that use the database or Redis are marked ``services`` so CI can re-run exactly
those against PostgreSQL and a Redis server.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from tortoise import Tortoise, connections

from core import crypto
from core.bootstrap import Runtime, build_services
from core.db import close_db, init_db, run_migrations
from core.redis_embedded import EmbeddedRedis
from core.settings import Settings
from jobs.queue import ArqQueue

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
SERVICE_FIXTURES = {"db", "redis_url", "redis", "runtime"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "services: uses the database or Redis")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("session")


@pytest.fixture(scope="session")
def database_url(session_dir: Path) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite://{session_dir / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def keyring() -> crypto.KeyRing:
    ring = crypto.KeyRing([crypto.new_key()])
    crypto.install(ring)
    return ring


@pytest.fixture(scope="session")
async def migrated(database_url: str, keyring: crypto.KeyRing) -> AsyncIterator[str]:
    if database_url.startswith(("postgres", "asyncpg")):
        # A fresh schema per run: the server outlives test sessions.
        await init_db(database_url)
        await connections.get("default").execute_script(
            "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;"
        )
        await close_db()
    await run_migrations(database_url)
    await init_db(database_url)
    yield database_url
    await close_db()


@pytest.fixture
async def db(migrated: str, keyring: crypto.KeyRing) -> AsyncIterator[str]:
    """An empty, migrated database for one test."""
    crypto.install(keyring)
    conn = connections.get("default")
    tables = [m._meta.db_table for m in Tortoise.apps["models"].values()]
    if migrated.startswith(("postgres", "asyncpg")):
        await conn.execute_script(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE;"
        )
    else:
        await conn.execute_script(
            "PRAGMA foreign_keys = OFF;"
            + "".join(f'DELETE FROM "{t}";' for t in tables)
            + "DELETE FROM sqlite_sequence;" + "PRAGMA foreign_keys = ON;"
        )
    yield migrated


@pytest.fixture(scope="session")
def redis_url(session_dir: Path) -> Iterator[str]:
    if TEST_REDIS_URL:
        yield TEST_REDIS_URL
        return
    server = EmbeddedRedis(session_dir)
    yield server.start()
    server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    """Settings pointing at the test database and Redis, nothing read from .env."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token="123456789:AAFakeTokenForTestsOnly_abcdefghijk",
        admin_ids=[1001],
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=redis_url,
    )


@pytest.fixture
async def runtime(db: str, redis: Redis, settings: Settings, keyring: crypto.KeyRing
                  ) -> AsyncIterator[Runtime]:
    """A runtime over the test database and Redis (closing it leaves both open)."""
    rt = Runtime(settings, keyring, settings.redis_url or "", redis,
                 build_services(settings, keyring, redis, ArqQueue(redis)))
    yield rt
