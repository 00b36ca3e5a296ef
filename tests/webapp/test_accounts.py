"""/api/accounts and /api/tokens without Google (the OAuth round trip is in test_oauth)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.bootstrap import Runtime, build_services
from core.models import (
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    Job,
    JobStatus,
    OAuthState,
    Platform,
    Proxy,
)
from jobs.queue import ArqQueue
from tests.fakes.instagram_graph import FakeInstagramGraph
from tests.fakes.platforms import MemoryPlatforms
from tests.webapp.conftest import ADMIN_ID, Api, accounts, connection, job
from webapp.app import create_app

SECRET = {"installed": {"client_id": "fake-client.apps.googleusercontent.com", "client_secret": "fake-secret",
                        "project_id": "proj-1", "redirect_uris": ["http://localhost"]}}


async def test_list_get_update_delete(api: Api) -> None:
    ig, yt = await accounts()
    await Account.filter(id=yt.id).update(token_expiry=datetime.now(UTC) + timedelta(days=3))
    listed = await api.get("/api/accounts")
    assert listed["total"] == 2 and [a["alias"] for a in listed["accounts"]] == ["insta", "tube"]
    tube = listed["accounts"][1]
    assert tube["token_status"]["status"] == "active" and 2.9 < tube["token_status"]["days_left"] <= 3
    assert "credentials" not in tube and tube["profile"] == {"channel_title": "Tube"}
    assert [a["alias"] for a in (await api.get("/api/accounts?type=youtube"))["accounts"]] == ["tube"]
    assert (await api.get(f"/api/accounts/{ig.id}"))["account"]["auth_method"] == "private_api"

    proxy = await Proxy.create(alias="p1", type="http", host="127.0.0.1", port=3128)
    body = await api.put(f"/api/accounts/{ig.id}", json={"alias": "insta2", "alert_before_days": 5,
                                                         "default_proxy_id": proxy.id})
    assert body["account"]["alias"] == "insta2" and body["account"]["default_proxy_id"] == proxy.id
    row = await Account.get(id=ig.id)
    assert (row.alias, row.alert_before_days, row.default_proxy_id) == ("insta2", 5, proxy.id)  # type: ignore[attr-defined]
    await api.put(f"/api/accounts/{ig.id}", json={"default_proxy_id": None})
    assert (await Account.get(id=ig.id)).default_proxy_id is None  # type: ignore[attr-defined]
    err = (await api.put(f"/api/accounts/{ig.id}", 422, json={"alert_before_days": 99,
                                                              "default_proxy_id": 777}))["error"]
    assert err["fields"] == {"default_proxy_id": "there is no proxy 777"}
    err = (await api.put(f"/api/accounts/{ig.id}", 422, json={"alert_before_days": 99}))["error"]
    assert err["fields"] == {"alert_before_days": "warn 0 to 60 days before a token expires"}

    await connection()
    err = (await api.delete(f"/api/accounts/{yt.id}", 409))["error"]
    assert err["code"] == "conflict" and "is used by ig-to-yt" in err["message"]
    await Connection.all().delete()
    await api.delete(f"/api/accounts/{yt.id}")
    assert not await Account.exists(id=yt.id)
    await api.get(f"/api/accounts/{yt.id}", 404)


async def test_captcha_resolve_resumes_account_connections_and_jobs(api: Api) -> None:
    conn = await connection(status=ConnectionStatus.PAUSED)
    held = await job(conn, JobStatus.CAPTCHA_PENDING)
    ig = await Account.get(alias="insta")
    err = (await api.post(f"/api/accounts/{ig.id}/captcha-resolve", 409, json={"resolved": True}))["error"]
    assert "has no CAPTCHA to resolve" in err["message"]
    await Account.filter(id=ig.id).update(status=AccountStatus.CAPTCHA_DETECTED)
    err = (await api.post(f"/api/accounts/{ig.id}/captcha-resolve", 422, json={"resolved": False}))["error"]
    assert "resolved" in err["fields"]
    body = await api.post(f"/api/accounts/{ig.id}/captcha-resolve", json={
        "resolved": True, "resolution_notes": "Manually completed CAPTCHA via web browser",
        "resume_connections": True})
    assert body == {"status": "success", "message": "CAPTCHA marked as solved for insta",
                    "account_status": "active", "connections_resumed": [conn.id], "jobs_requeued": [held.id]}
    assert (await Account.get(id=ig.id)).status is AccountStatus.ACTIVE
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.ACTIVE
    assert (await Job.get(id=held.id)).status is JobStatus.QUEUED
    await api.post("/api/accounts/999/captcha-resolve", 404)


async def test_security_code_goes_to_the_adapter(memory_api: Api, memory: MemoryPlatforms) -> None:
    conn = await connection(status=ConnectionStatus.PAUSED)
    ig = await Account.get(alias="insta")
    await Account.filter(id=ig.id).update(status=AccountStatus.CAPTCHA_DETECTED)
    err = (await memory_api.post(f"/api/accounts/{ig.id}/security-code", 422, json={"code": 123456}))["error"]
    assert err["fields"] == {"code": "must be a string, not a number"}
    body = await memory_api.post(f"/api/accounts/{ig.id}/security-code", json={"code": "123 456"})
    assert body["account_status"] == "active" and body["connections_resumed"] == [conn.id]
    assert memory.world(ig.id).calls["code:123456"] == 1
    assert (await Account.get(id=ig.id)).status is AccountStatus.ACTIVE


async def test_account_analytics(api: Api) -> None:
    conn = await connection()
    await job(conn, JobStatus.SUCCESS)
    await job(conn, JobStatus.FAILED, error_code="network_timeout")
    ig = await Account.get(alias="insta")
    body = await api.get(f"/api/accounts/{ig.id}/analytics?period=7days")
    assert body["account_alias"] == "insta" and body["metrics"]["success_rate"] == 50.0
    assert body["period"]["days"] == 7
    assert (await api.get(f"/api/accounts/{ig.id}/analytics?period=soon", 422))["error"]["fields"]["period"]
    await api.get("/api/accounts/999/analytics", 404)


async def test_youtube_accounts_start_with_a_consent_url(api: Api) -> None:
    form = aiohttp.FormData()
    form.add_field("alias", "TechShorts_YT")
    form.add_field("client_secret", json.dumps(SECRET).encode(), filename="client_secret.json",
                   content_type="application/json")
    body = await api.post("/api/tokens/upload", 201, data=form)
    account = await Account.get(id=body["account_id"])
    assert (account.platform, account.status) == (Platform.YOUTUBE, AccountStatus.REQUIRES_REAUTH)
    assert body["authorize_url"].startswith("https://accounts.google.com/o/oauth2/auth?")
    state = await OAuthState.get(account_id=account.id)
    assert state.chat_id == ADMIN_ID  # the callback reports to the admin who uploaded

    again = aiohttp.FormData()
    again.add_field("account_id", str(account.id))
    body = await api.post("/api/tokens/upload", 201, data=again)
    assert body["account_id"] == account.id and await OAuthState.filter(account_id=account.id).count() == 2

    bad = aiohttp.FormData()
    bad.add_field("client_secret", b"{not json", filename="client_secret.json")
    err = (await api.post("/api/tokens/upload", 422, data=bad))["error"]
    assert set(err["fields"]) == {"client_secret", "alias"}
    err = (await api.post("/api/tokens/upload", 422, json={"alias": "x"}))["error"]
    assert err["fields"] == {"body": "send multipart/form-data (client_secret file and alias)"}

    # The same through POST /api/accounts: JSON with the document, or multipart as in §4.2.2.
    body = await api.post("/api/accounts", 201, json={"type": "youtube", "alias": "yt2",
                                                      "client_secret": SECRET})
    assert body["account"]["status"] == "requires_reauth" and "state=" in body["authorize_url"]
    spec_form = aiohttp.FormData()
    for key, value in (("type", "youtube"), ("alias", "yt3"), ("channel_id", "UCabcd1234567890xyz")):
        spec_form.add_field(key, value)
    spec_form.add_field("oauth_client", json.dumps(SECRET).encode(), filename="client_secret.json")
    assert (await api.post("/api/accounts", 201, data=spec_form))["account"]["alias"] == "yt3"
    status = await api.get(f"/api/tokens/{account.id}/status")
    assert status["status"] == "requires_reauth" and status["token_expiry"] is None
    await api.get("/api/tokens/999/status", 404)


async def test_create_validation(api: Api) -> None:
    err = (await api.post("/api/accounts", 422, json={"alias": "x"}))["error"]
    assert err["fields"] == {"type": "this field is required"}
    err = (await api.post("/api/accounts", 422, json={"type": "instagram", "alias": "x",
                                                      "auth_method": "carrier_pigeon"}))["error"]
    assert err["fields"]["auth_method"].startswith("choose one of")
    graph = {"type": "instagram", "alias": "", "auth_method": "graph_api", "ig_user_id": "abc",
             "login_type": "facebook"}
    err = (await api.post("/api/accounts", 422, json=graph))["error"]
    assert set(err["fields"]) == {"alias", "access_token", "ig_user_id", "app_id"}
    err = (await api.post("/api/accounts", 422, json={**graph, "login_type": "myspace"}))["error"]
    assert "login_type" in err["fields"]
    err = (await api.post("/api/accounts", 422, json={"type": "instagram", "alias": "p",
                                                      "auth_method": "private_api"}))["error"]
    assert set(err["fields"]) == {"username", "password"}
    assert await Account.all().count() == 0


@pytest.fixture
async def graph_api(runtime: Runtime) -> AsyncIterator[tuple[Api, FakeInstagramGraph]]:
    graph = FakeInstagramGraph()
    await graph.start()
    settings = runtime.settings.model_copy(update={"graph_api_base": graph.api_base,
                                                   "graph_upload_base": graph.upload_base,
                                                   "instagram_graph_api_base": graph.instagram_base})
    rt = Runtime(settings, runtime.keyring, runtime.redis_url, runtime.redis,
                 build_services(settings, runtime.keyring, runtime.redis, ArqQueue(runtime.redis)))
    async with TestClient(TestServer(create_app(rt))) as c:
        yield Api(c), graph
    await graph.stop()


async def test_instagram_graph_account_is_verified_and_refreshable(
        graph_api: tuple[Api, FakeInstagramGraph]) -> None:
    api, graph = graph_api
    creds = graph.credentials()
    expiry = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    body = await api.post("/api/accounts", 201, json={
        "type": "instagram", "alias": "TravelReels_Insta", "auth_method": "graph_api",
        "facebook_page_id": graph.page_id, "app_id": graph.app_id, "app_secret": graph.app_secret,
        "credentials": {"access_token": creds["access_token"], "token_expiry": expiry}})
    made = body["account"]
    assert made["external_id"] == graph.ig_user_id and made["status"] == "active"
    account = await Account.get(id=made["id"])
    assert account.auth_method is AuthMethod.GRAPH_API and account.credentials["access_token"]
    refreshed = await api.post(f"/api/tokens/{account.id}/refresh")
    assert refreshed["message"] == "Token refreshed" and refreshed["days_left"] > 30
    err = (await api.post("/api/accounts", 409, json={
        "type": "instagram", "alias": "other", "auth_method": "graph_api", "ig_user_id": graph.ig_user_id,
        "access_token": "EAAnot-a-token", "app_id": graph.app_id, "app_secret": graph.app_secret}))["error"]
    assert err["code"] in ("invalid_credentials", "token_expired")


async def test_instagram_login_account_then_new_credentials_through_the_api(
        graph_api: tuple[Api, FakeInstagramGraph]) -> None:
    api, graph = graph_api
    made = (await api.post("/api/accounts", 201, json={
        "type": "instagram", "alias": "ig", "auth_method": "graph_api", "login_type": "instagram",
        "access_token": graph.ig_access_token}))["account"]
    assert made["login_type"] == "instagram" and made["external_id"] == graph.ig_user_id
    assert graph.ig_access_token not in json.dumps(made)
    graph.expire_token(graph.ig_access_token)
    err = (await api.post(f"/api/accounts/{made['id']}/credentials", 409,
                          json={"access_token": graph.ig_access_token}))["error"]
    assert err["code"] == "token_expired"
    fresh = graph.new_token("instagram")
    done = await api.post(f"/api/accounts/{made['id']}/credentials", json={"access_token": fresh})
    assert done["account"]["status"] == "active" and done["message"].startswith("New credentials checked")
    assert (await Account.get(id=made["id"])).credentials["access_token"] == fresh
    err = (await api.post(f"/api/accounts/{made['id']}/credentials", 422, json={"password": "x"}))["error"]
    assert "password" in err["fields"]


async def test_refresh_is_refused_for_session_accounts(api: Api) -> None:
    ig, _yt = await accounts()
    err = (await api.post(f"/api/tokens/{ig.id}/refresh", 409))["error"]
    assert "nothing to refresh" in err["message"]


async def test_youtube_cookies_through_the_api(api: Api) -> None:
    _ig, yt = await accounts()
    form = aiohttp.FormData()
    form.add_field("cookies", b'{"not": "netscape"}', filename="cookies.txt")
    err = (await api.put(f"/api/accounts/{yt.id}/cookies", 422, data=form))["error"]
    assert "Netscape" in err["fields"]["cookies"]
    good = b"# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t4102444800\tSID\tcookie-value\n"
    form = aiohttp.FormData()
    form.add_field("cookies", good, filename="cookies.txt")
    done = await api.put(f"/api/accounts/{yt.id}/cookies", data=form)
    assert done["account"]["has_cookies"] is True and "cookie-value" not in json.dumps(done)
    done = await api.delete(f"/api/accounts/{yt.id}/cookies")
    assert done["account"]["has_cookies"] is False
