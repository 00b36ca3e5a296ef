"""/api/proxies, /api/jobs and /api/logs."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.bootstrap import Runtime
from core.models import Connection, Job, JobStatus, LogEntry, LogLevel, Proxy, ProxyHealth
from core.redis_embedded import free_port
from core.services.proxies import ProxyService
from tests.webapp.conftest import Api, connection, job
from webapp.app import create_app


@pytest.fixture
async def proxy_api(runtime: Runtime) -> AsyncIterator[Api]:
    """Health checks aimed at a local page, so nothing leaves the machine."""
    async def home(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", home)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    services = dataclasses.replace(runtime.services,
                                   proxies=ProxyService([f"http://127.0.0.1:{port}/"], timeout=2.0))
    async with TestClient(TestServer(create_app(dataclasses.replace(runtime, services=services)))) as c:
        yield Api(c)
    await runner.cleanup()


async def test_proxy_crud_and_checks(proxy_api: Api) -> None:
    api = proxy_api
    err = (await api.post("/api/proxies", 422, json={"alias": "US_Proxy_01", "type": "http",
                                                     "host": "192.168.1.100", "port": 70000}))["error"]
    assert set(err["fields"]) == {"port"}
    err = (await api.post("/api/proxies", 422, json={"alias": "x", "type": "gopher", "port": True}))["error"]
    assert set(err["fields"]) == {"host", "port"}
    dead = free_port()  # nothing listens: the check fails at once, locally
    body = await api.post("/api/proxies", 201, json={
        "alias": "US_Proxy_01", "type": "http", "host": "127.0.0.1", "port": dead,
        "username": "proxyuser", "password": "proxypass123", "assignment": "global", "test": True})
    made = body["proxy"]
    assert made["has_credentials"] is True and "password" not in made and "username" not in made
    assert body["health_check"]["health_status"] == "unhealthy" and made["consecutive_failures"] == 1
    err = (await api.post("/api/proxies", 422, json={"alias": "US_Proxy_01", "type": "http",
                                                     "host": "127.0.0.1", "port": 1}))["error"]
    assert "already exists" in err["fields"]["alias"]

    pid = made["id"]
    check = await api.post(f"/api/proxies/{pid}/health-check")
    assert check["proxy_id"] == pid and check["health_status"] == "unhealthy" and len(check["tests"]) == 1
    assert (await Proxy.get(id=pid)).consecutive_failures == 2
    await api.post("/api/proxies/test-all")
    assert (await Proxy.get(id=pid)).health is ProxyHealth.UNHEALTHY  # third failure in a row

    listed = await api.get("/api/proxies")
    assert listed["total"] == 1 and listed["proxies"][0]["alias"] == "US_Proxy_01"
    assert (await api.get(f"/api/proxies/{pid}"))["proxy"]["health_status"] == "unhealthy"
    changed = await api.put(f"/api/proxies/{pid}", json={"port": 8080, "enabled": False})
    assert changed["proxy"]["health_status"] == "unchecked"  # a new address: old results are void
    row = await Proxy.get(id=pid)
    assert (row.port, row.enabled) == (8080, False)
    err = (await api.put(f"/api/proxies/{pid}", 422, json={"colour": "red"}))["error"]
    assert "colour" in err["fields"]

    conn = await connection()
    await Connection.filter(id=conn.id).update(proxy_id=pid)
    err = (await api.delete(f"/api/proxies/{pid}", 422))["error"]
    assert "is used by connection 'ig-to-yt'" in err["fields"]["proxy"]
    await Connection.filter(id=conn.id).update(proxy_id=None)
    await api.delete(f"/api/proxies/{pid}")
    assert not await Proxy.exists(id=pid)
    await api.get(f"/api/proxies/{pid}", 404)


async def test_job_lists_and_detail(api: Api) -> None:
    conn = await connection()
    done = await job(conn, JobStatus.SUCCESS, step_durations={"download": 1.5},
                     checkpoint={"download": {"path": "/data/jobs/1/in.mp4", "size": 9},
                                 "upload": {"state": {"session": "https://upload.invalid/secret"}}})
    await job(conn, JobStatus.RUNNING)
    await job(conn, JobStatus.QUEUED)
    await LogEntry.create(level=LogLevel.INFO, job=done, connection=conn, message="Job started")
    await LogEntry.create(level=LogLevel.DEBUG, job=done, connection=conn, message="probe ok")
    listed = await api.get("/api/jobs?status=running,queued")
    assert listed["total"] == 2 and {j["status"] for j in listed["jobs"]} == {"running", "queued"}
    assert (await api.get(f"/api/jobs?connection_id={conn.id}&limit=1"))["total"] == 3
    assert (await api.get("/api/jobs?since=2999-01-01"))["total"] == 0
    detail = await api.get(f"/api/jobs/{done.id}")
    assert detail["job"]["status"] == "success" and detail["job"]["source_post_id"].startswith("p")
    assert detail["checkpoint"]["steps_saved"] == ["download", "upload"]
    assert "secret" not in str(detail["checkpoint"]) and "/data/jobs" not in str(detail)
    assert [e["message"] for e in detail["timeline"]] == ["Job started", "probe ok"]
    await api.get("/api/jobs/999", 404)


async def test_dead_letter_retry_cancel_delete(api: Api) -> None:
    conn = await connection()
    dead = await job(conn, JobStatus.FAILED, dead_letter=True, attempts=3, error_code="api_rate_limit",
                     error_message="quota")
    queued = await job(conn, JobStatus.QUEUED)
    body = await api.get("/api/jobs/dead-letter")
    assert body["total_count"] == 1
    assert body["jobs"][0] | {"failed_at": None} == {
        "job_id": dead.id, "connection_id": conn.id, "connection_name": "ig-to-yt",
        "source_post_id": body["jobs"][0]["source_post_id"], "final_error": "api_rate_limit",
        "error_message": "quota", "attempts": 3, "failed_at": None, "can_retry": True}

    retried = await api.post(f"/api/jobs/{dead.id}/retry")
    new = await Job.get(id=retried["job_id"])
    assert retried["message"] == f"New job {new.id} created and queued for retry"
    assert (new.status, new.attempts, new.parent_id) == (JobStatus.QUEUED, 0, dead.id)  # type: ignore[attr-defined]
    assert (await Job.get(id=dead.id)).dead_letter is False
    again = (await api.post(f"/api/jobs/{dead.id}/retry", 409))["error"]["message"]
    assert again == f"Job {dead.id} was already retried as job {new.id}"
    assert (await api.post(f"/api/jobs/{queued.id}/retry", 404))["error"]["message"].endswith(
        "is not in the dead-letter queue")

    assert (await api.post(f"/api/jobs/{queued.id}/cancel"))["job"]["status"] == "cancelled"
    assert (await Job.get(id=queued.id)).status is JobStatus.CANCELLED
    err = (await api.post(f"/api/jobs/{queued.id}/cancel", 409))["error"]
    assert "already ended" in err["message"]
    await api.delete(f"/api/jobs/{queued.id}")
    assert not await Job.exists(id=queued.id)
    running = await job(conn, JobStatus.RUNNING)
    assert "is running" in (await api.delete(f"/api/jobs/{running.id}", 409))["error"]["message"]


async def test_logs(api: Api) -> None:
    conn = await connection()
    await LogEntry.create(level=LogLevel.DEBUG, connection=conn, message="noise")
    info = await LogEntry.create(level=LogLevel.INFO, connection=conn, message="started")
    warn = await LogEntry.create(level=LogLevel.WARNING, message="poll failed", details={"code": "x"})
    body = await api.get("/api/logs")
    assert [e["id"] for e in body["logs"]] == [warn.id, info.id] and body["total"] == 2
    assert [e["id"] for e in (await api.get("/api/logs?level=warning"))["logs"]] == [warn.id]
    assert [e["id"] for e in (await api.get(f"/api/logs?connection_id={conn.id}&level=debug"))["logs"]] \
        == [info.id, info.id - 1]
    assert (await api.get(f"/api/logs/{warn.id}"))["log"]["details"] == {"code": "x"}
    await api.get("/api/logs/999", 404)
    assert "level" in (await api.get("/api/logs?level=loud", 422))["error"]["fields"]
