from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

import core
from core.bootstrap import Runtime, build_services
from webapp.app import create_app


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(runtime))) as c:
        yield c


async def test_no_worker_means_503(client: TestClient) -> None:
    resp = await client.get("/api/health")
    assert resp.status == 503
    body = await resp.json()
    assert body["database"] is True and body["redis"] is True
    assert body["worker"] is False and body["workers"] == 0 and body["status"] == "unhealthy"


async def test_a_worker_heartbeat_makes_it_healthy(client: TestClient, runtime: Runtime) -> None:
    await runtime.services.health.beat("host:1")
    resp = await client.get("/api/health")
    assert resp.status == 200
    body = await resp.json()
    assert body == {"database": True, "redis": True, "workers": 1, "worker": True,
                    "version": core.__version__, "status": "healthy"}
    await runtime.services.health.forget("host:1")
    assert (await client.get("/api/health")).status == 503


async def test_a_dead_redis_is_reported(runtime: Runtime) -> None:
    dead: Redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    broken = Runtime(runtime.settings, runtime.keyring, "redis://127.0.0.1:1/0", dead,
                     build_services(runtime.settings, runtime.keyring, dead))
    async with TestClient(TestServer(create_app(broken))) as c:
        resp = await c.get("/api/health")
        assert resp.status == 503
        body = await resp.json()
        assert body["redis"] is False and body["database"] is True
    await dead.aclose()
