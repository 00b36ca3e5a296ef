"""/oauth2callback over the fake Google and YouTube: success, replay, forgery, Google's refusal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.bootstrap import Runtime, build_services
from core.models import Account, AccountStatus, OAuthState
from jobs.queue import ArqQueue
from tests.fakes.google_oauth import FakeGoogleOAuth
from tests.fakes.telegram import FakeTelegram
from tests.fakes.youtube import FakeYouTube
from tests.webapp.conftest import ADMIN_ID, Api
from webapp.app import create_app

SECRET = json.dumps({"installed": {"client_id": "fake-client.apps.googleusercontent.com",
                                   "client_secret": "fake-secret", "project_id": "proj-1",
                                   "redirect_uris": ["http://localhost"]}}).encode()


@dataclass
class World:
    api: Api
    client: TestClient
    google: FakeGoogleOAuth
    telegram: FakeTelegram

    async def upload(self, alias: str = "TechShorts_YT") -> tuple[int, str]:
        form = aiohttp.FormData()
        form.add_field("alias", alias)
        form.add_field("client_secret", SECRET, filename="client_secret.json")
        body = await self.api.post("/api/tokens/upload", 201, data=form)
        return body["account_id"], body["authorize_url"]

    async def consent(self, url: str) -> dict[str, str]:
        """What Google appends to the redirect after the admin clicks Allow."""
        async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as resp:
            location = resp.headers["Location"]
        assert location.startswith("http://127.0.0.1:9/oauth2callback?")
        return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}

    async def callback(self, **query: str) -> tuple[int, str]:
        resp = await self.client.get("/oauth2callback", params=query)
        assert resp.content_type == "text/html"
        return resp.status, await resp.text()


@pytest.fixture
async def world(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    google, yt, telegram = FakeGoogleOAuth(), FakeYouTube(), FakeTelegram()
    for fake in (google, yt, telegram):
        await fake.start()
    yt.trust(google)
    settings = runtime.settings.model_copy(update={
        "google_auth_uri": google.auth_uri, "google_token_uri": google.token_uri,
        "youtube_api_base": yt.base_url + "/", "youtube_web_base": yt.base_url,
        "telegram_api_base": telegram.base_url, "public_base_url": "http://127.0.0.1:9"})
    rt = Runtime(settings, runtime.keyring, runtime.redis_url, runtime.redis,
                 build_services(settings, runtime.keyring, runtime.redis, ArqQueue(runtime.redis)))
    async with TestClient(TestServer(create_app(rt))) as c:
        yield World(Api(c), c, google, telegram)
    for fake in (google, yt, telegram):
        await fake.stop()


async def test_success_then_replay(world: World) -> None:
    account_id, url = await world.upload()
    query = await world.consent(url)
    status, page = await world.callback(**query)
    assert status == 200 and "YouTube account authorized" in page and "Channel: Fake Channel" in page
    account = await Account.get(id=account_id)
    assert account.status is AccountStatus.ACTIVE and account.external_id == "UCfakechannel0000000000a"
    assert account.credentials["refresh_token"] and account.profile["channel_title"] == "Fake Channel"
    message = world.telegram.last_message(ADMIN_ID)
    assert "TechShorts_YT" in message["text"] and "Fake Channel" in message["text"]

    before = (account.credentials, account.updated_at, len(world.google.token_requests))
    status, page = await world.callback(**query)  # the same redirect again
    assert status == 400 and "Authorization failed" in page and "already used" in page
    again = await Account.get(id=account_id)
    assert (again.credentials, again.updated_at, len(world.google.token_requests)) == before
    assert len(world.telegram.messages(ADMIN_ID)) == 1  # a replay is not news for the admin

    # The token endpoints work on the authorized account.
    status_body = await world.api.get(f"/api/tokens/{account_id}/status")
    assert status_body["status"] == "active" and status_body["auto_refresh"] is True
    old_token = again.credentials["access_token"]
    refreshed = await world.api.post(f"/api/tokens/{account_id}/refresh")
    assert refreshed["message"] == "Token refreshed"
    assert (await Account.get(id=account_id)).credentials["access_token"] != old_token


async def test_forged_expired_and_refused(world: World) -> None:
    account_id, url = await world.upload()
    query = await world.consent(url)
    token, _, signature = query["state"].partition(".")
    status, page = await world.callback(state=f"{token}.{signature[::-1]}", code=query["code"])
    assert status == 400 and "not valid" in page
    status, page = await world.callback(state=query["state"])
    assert status == 400 and "missing its state or code" in page
    assert not world.telegram.messages(ADMIN_ID)

    status, page = await world.callback(state=query["state"], error="access_denied")
    assert status == 400 and "access_denied" in page
    assert "was not completed" in world.telegram.last_message(ADMIN_ID)["text"]

    await OAuthState.filter(account_id=account_id).update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    status, page = await world.callback(**query)
    assert status == 400 and "expired" in page
    assert (await Account.get(id=account_id)).status is AccountStatus.REQUIRES_REAUTH
    assert "failed" in world.telegram.last_message(ADMIN_ID)["text"]
    assert "<script" not in (await world.callback(state="<script>", code="x"))[1]
