"""Mini App authentication and the one error shape."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.bootstrap import Runtime
from tests.webapp.conftest import ADMIN_ID, Api, init_data
from webapp.app import create_app


async def error_of(resp: object) -> dict[str, object]:
    body = await resp.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


async def test_missing_forged_and_wrong_scheme_are_401(client: TestClient) -> None:
    resp = await client.get("/api/auth/check")
    assert resp.status == 401
    err = await error_of(resp)
    assert err["code"] == "unauthorized" and "tma" in str(err["message"])
    for header in (f"Bearer {init_data()}", "tma ", f"tma {init_data(token='999:' + 'x' * 35)}",
                   f"tma {init_data().replace('auth_date=', 'auth_date=1')}", "tma hash=abc&auth_date=1"):
        resp = await client.get("/api/auth/check", headers={"Authorization": header})
        assert resp.status == 401, header
        assert (await error_of(resp))["code"] == "unauthorized"


async def test_expired_init_data_is_401(client: TestClient) -> None:
    old = init_data(auth_date=time.time() - 3601)
    resp = await client.get("/api/auth/check", headers={"Authorization": f"tma {old}"})
    assert resp.status == 401
    assert (await error_of(resp))["message"] == "Session expired. Please reopen the Mini App."
    future = init_data(auth_date=time.time() + 3600)
    resp = await client.get("/api/auth/check", headers={"Authorization": f"tma {future}"})
    assert resp.status == 401


async def test_a_genuine_non_admin_is_403_and_logged(client: TestClient,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="webapp.auth"):
        resp = await client.get("/api/connections", headers={"Authorization": f"tma {init_data(4242)}"})
    assert resp.status == 403
    assert (await error_of(resp))["code"] == "forbidden"
    assert "4242" in caplog.text and "hash=" not in caplog.text


async def test_valid_admin_sees_user_and_expiry(api: Api) -> None:
    body = await api.get("/api/auth/check")
    assert body["status"] == "success" and body["user"]["id"] == ADMIN_ID
    assert body["user"]["username"] == "ada" and 3590 <= body["expires_in"] <= 3600
    assert body["expires_at"] > body["auth_date"]


async def test_session_timeout_is_an_app_option(runtime: Runtime) -> None:
    async with TestClient(TestServer(create_app(runtime, session_timeout=60))) as c:
        stale = init_data(auth_date=time.time() - 120)
        assert (await c.get("/api/auth/check", headers={"Authorization": f"tma {stale}"})).status == 401
        fresh = init_data(auth_date=time.time() - 30)
        resp = await c.get("/api/auth/check", headers={"Authorization": f"tma {fresh}"})
        assert resp.status == 200 and (await resp.json())["expires_in"] <= 30


async def test_no_bot_token_means_nobody_gets_in(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"telegram_bot_token": None})
    bare = Runtime(settings, runtime.keyring, runtime.redis_url, runtime.redis, runtime.services)
    async with TestClient(TestServer(create_app(bare))) as c:
        resp = await c.get("/api/auth/check", headers={"Authorization": f"tma {init_data()}"})
        assert resp.status == 401 and "TELEGRAM_BOT_TOKEN" in str((await error_of(resp))["message"])


async def test_health_is_public_everything_else_is_not(client: TestClient, api: Api) -> None:
    assert (await client.get("/api/health")).status == 503  # public: no worker, but no 401
    assert (await client.get("/api/nothing-here")).status == 401  # unknown paths reveal nothing
    err = await api.get("/api/nothing-here", status=404)
    assert err["error"]["code"] == "not_found"
    assert (await api.get("/api/connections/abc", status=404))["error"]["code"] == "not_found"
    err = await api.call("PATCH", "/api/connections", status=405)
    assert err["error"]["code"] == "method_not_allowed"
    assert (await client.get("/no/such/page")).status == 404


async def test_bad_json_and_wrong_types_are_422_naming_the_field(api: Api) -> None:
    err = (await api.post("/api/connections", 422, data=b"{not json",
                          headers={"Content-Type": "application/json"}))["error"]
    assert err["code"] == "invalid_input" and err["fields"]["body"].startswith("not valid JSON")
    err = (await api.post("/api/connections", 422, json=[1, 2]))["error"]
    assert err["fields"] == {"body": "must be a JSON object, not an array"}
    err = (await api.post("/api/connections", 422, json={
        "name": 5, "source_account_id": "1", "filters": [], "colour": "red"}))["error"]
    assert err["fields"] == {"name": "must be a string, not a number",
                             "source_account_id": "must be a whole number, not a string",
                             "filters": "must be an object, not an array",
                             "colour": err["fields"]["colour"]}
    assert err["fields"]["colour"].startswith("unknown field")
    err = (await api.get("/api/jobs?limit=0&status=exploded&since=yesterday", 422))["error"]
    assert set(err["fields"]) == {"limit", "status", "since"}


async def test_an_unexpected_error_is_500_without_a_traceback(api: Api, runtime: Runtime,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(runtime.services.analytics, "dashboard_summary", boom)
    with caplog.at_level(logging.ERROR, logger="webapp"):
        err = (await api.get("/api/dashboard/summary", 500))["error"]
    assert err["code"] == "internal_error" and "secret" not in str(err) and "Traceback" not in str(err)
    assert "secret internals" in caplog.text  # logged for the operator


def test_importing_the_web_app_does_not_import_aiogram() -> None:
    """The worker imports the process module, which imports the web app: aiogram costs it seconds."""
    code = "import sys, webapp.app; assert 'aiogram' not in sys.modules, 'aiogram imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2], timeout=60)


async def test_inputs_found_by_fuzzing_are_clear_errors_not_500(api: Api) -> None:
    """Cases schemathesis found against /api/openapi.json (each was a 500 before)."""
    too_big = 2**80
    body = await api.get(f"/api/accounts/{too_big}", status=404)
    assert body["error"]["code"] == "not_found"
    await api.post(f"/api/connections/{too_big}/start", status=404)
    logs = await api.get(f"/api/logs?job_id={too_big}", status=422)
    assert logs["error"]["fields"]["job_id"] == "choose a number from 1 to 2147483647"
    broken = await api.call(
        "POST", "/api/tokens/upload", status=422,
        headers={"Content-Type": "multipart/form-data; boundary=xyz"}, data=b"--xyz\r\n[]--xyz--\r\n")
    assert broken["error"]["fields"]["body"].startswith("the multipart body cannot be read")
