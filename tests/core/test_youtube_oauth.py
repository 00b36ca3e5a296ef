"""YouTube OAuth over a wire-level fake Google with the real google-auth-oauthlib."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from tortoise import connections

from core.errors import AuthError, ErrorCode
from core.models import Account, AccountStatus, AuthMethod, OAuthState, Platform
from core.platforms.youtube_oauth import (
    SCOPES,
    ClientSecret,
    ClientSecretError,
    OAuthService,
    parse_client_secret,
)
from core.settings import Settings
from tests.fakes.google_oauth import FakeGoogleOAuth

KEY = b"0123456789abcdef0123456789abcdef"


def _secret_json(kind: str = "installed", **section: object) -> bytes:
    body = {"client_id": "fake-client.apps.googleusercontent.com", "client_secret": "fake-secret",
            "project_id": "proj-1", "redirect_uris": ["http://localhost"], **section}
    return json.dumps({kind: body}).encode()


def test_parse_installed_and_web() -> None:
    s = parse_client_secret(_secret_json())
    assert (s.kind, s.client_id, s.client_secret, s.project_id) == (
        "installed", "fake-client.apps.googleusercontent.com", "fake-secret", "proj-1")
    assert s.redirect_uris == ("http://localhost",)
    assert "fake-secret" not in repr(s)
    assert parse_client_secret(_secret_json("web")).kind == "web"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe{", "not valid JSON: the file is not UTF-8 text"),
        (b'{\n  "installed": {\n    x}', "not valid JSON: line 3 column 5: Expecting property name enclosed "
         "in double quotes"),
        (b"[1, 2]", "the top level must be a JSON object, not list"),
        (b'{"other": {}}', "neither an 'installed' nor a 'web' section: download the OAuth client "
         "(Desktop app or Web application) JSON from Google Cloud -> Credentials"),
        (_secret_json(client_id=None), "'installed.client_id' is missing or empty"),
        (_secret_json("web", client_secret="  "), "'web.client_secret' is missing or empty"),
    ],
)
def test_parse_errors_are_exact(data: bytes, message: str) -> None:
    with pytest.raises(ClientSecretError) as info:
        parse_client_secret(data)
    assert str(info.value) == message
    assert "fake-secret" not in str(info.value)


@pytest.fixture
async def google(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeGoogleOAuth]:
    # oauthlib refuses plain http; the fake is http on loopback, so only tests allow it.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    fake = FakeGoogleOAuth()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def service(google: FakeGoogleOAuth) -> OAuthService:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        google_auth_uri=google.auth_uri, google_token_uri=google.token_uri,
        public_base_url="http://127.0.0.1:9/",
    )
    return OAuthService.from_settings(settings, KEY)


@pytest.fixture
async def account(db: str) -> Account:
    return await Account.create(platform=Platform.YOUTUBE, alias="yt", auth_method=AuthMethod.OAUTH)


@pytest.fixture
def secret() -> ClientSecret:
    return parse_client_secret(_secret_json())


async def _consent(url: str) -> dict[str, str]:
    """Follow the consent URL like a browser; return the callback's query (state, code)."""
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        location = resp.headers["Location"]
    assert location.startswith("http://127.0.0.1:9/oauth2callback?")
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


async def test_full_flow(google: FakeGoogleOAuth, service: OAuthService, account: Account,
                         secret: ClientSecret) -> None:
    url = await service.start(account, secret, chat_id=42)
    assert url.startswith(google.auth_uri + "?")
    query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert set(query["scope"].split()) == set(SCOPES)
    assert query["redirect_uri"] == "http://127.0.0.1:9/oauth2callback"
    assert "." in query["state"]
    stored = await OAuthState.get(account_id=account.id)
    assert stored.chat_id == 42 and stored.used_at is None and stored.code_verifier
    assert query["state"] not in stored.state_hash

    callback = await _consent(url)
    done = await service.complete(callback["state"], callback["code"])
    assert done.status is AccountStatus.ACTIVE
    fresh = await Account.get(id=account.id)
    creds = fresh.credentials
    assert creds["access_token"] == google.access_tokens[-1]
    assert creds["refresh_token"] in google.refresh_tokens
    assert set(creds["scopes"]) == set(SCOPES)
    assert creds["client_secret"]["installed"]["client_id"] == secret.client_id
    assert fresh.token_expiry is not None
    assert timedelta(minutes=55) < fresh.token_expiry - datetime.now(UTC) < timedelta(minutes=61)
    rows = await connections.get("default").execute_query_dict(
        "SELECT credentials FROM accounts WHERE id = " + str(account.id)
    )
    raw = rows[0]["credentials"]
    assert google.access_tokens[-1] not in raw and "fake-secret" not in raw
    assert (await OAuthState.get(id=stored.id)).used_at is not None


async def test_state_replay_refused(service: OAuthService, account: Account, secret: ClientSecret) -> None:
    callback = await _consent(await service.start(account, secret, chat_id=None))
    await service.complete(callback["state"], callback["code"])
    with pytest.raises(AuthError) as info:
        await service.complete(callback["state"], callback["code"])
    assert info.value.message == "this authorization link was already used"
    assert info.value.code is ErrorCode.REQUIRES_REAUTH


async def test_failed_exchange_still_consumes_state(google: FakeGoogleOAuth, service: OAuthService,
                                                    account: Account, secret: ClientSecret) -> None:
    callback = await _consent(await service.start(account, secret, chat_id=None))
    with pytest.raises(AuthError) as info:
        await service.complete(callback["state"], "4/not-a-code")
    assert info.value.code is ErrorCode.REQUIRES_REAUTH  # invalid_grant from the fake
    with pytest.raises(AuthError, match="already used"):
        await service.complete(callback["state"], callback["code"])


async def test_wrong_verifier_is_invalid_grant(google: FakeGoogleOAuth, service: OAuthService,
                                               account: Account, secret: ClientSecret) -> None:
    callback = await _consent(await service.start(account, secret, chat_id=None))
    await OAuthState.filter(account_id=account.id).update(code_verifier="x" * 64)
    with pytest.raises(AuthError) as info:
        await service.complete(callback["state"], callback["code"])
    assert info.value.code is ErrorCode.REQUIRES_REAUTH
    assert google.token_requests[-1]["code_verifier"] == "x" * 64


async def test_expired_state_refused(service: OAuthService, account: Account, secret: ClientSecret) -> None:
    callback = await _consent(await service.start(account, secret, chat_id=None))
    await OAuthState.filter(account_id=account.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(AuthError) as info:
        await service.complete(callback["state"], callback["code"])
    assert info.value.message == "this authorization link expired, press Authorize again"


async def test_forged_state_refused(google: FakeGoogleOAuth, service: OAuthService, account: Account,
                                    secret: ClientSecret) -> None:
    callback = await _consent(await service.start(account, secret, chat_id=None))
    token, _, sig = callback["state"].partition(".")
    forged = token[:-1] + ("A" if token[-1] != "A" else "B") + "." + sig
    with pytest.raises(AuthError, match="bad signature"):
        await service.complete(forged, callback["code"])
    other_key = OAuthService(auth_uri=service.auth_uri, token_uri=service.token_uri,
                             redirect_uri=service.redirect_uri, signing_key=b"k" * 32)
    with pytest.raises(AuthError, match="bad signature"):
        await other_key.complete(callback["state"], callback["code"])
    assert google.token_requests == []  # nothing reached Google


async def test_paste_back_url_and_bare_code(service: OAuthService, account: Account,
                                            secret: ClientSecret) -> None:
    callback = await _consent(await service.start(account, secret, chat_id=None))
    pasted = f"  http://127.0.0.1:9/oauth2callback?state={callback['state']}&code={callback['code']}\n"
    assert (await service.complete_pasted(account.id, pasted)).status is AccountStatus.ACTIVE

    first = (await Account.get(id=account.id)).credentials["access_token"]
    callback = await _consent(await service.start(account, secret, chat_id=None))
    await service.complete_pasted(account.id, callback["code"])
    assert (await Account.get(id=account.id)).credentials["access_token"] != first
    with pytest.raises(AuthError, match="no authorization is waiting"):
        await service.complete_pasted(account.id, callback["code"])


async def test_refresh_and_revoked(google: FakeGoogleOAuth, service: OAuthService, account: Account,
                                   secret: ClientSecret) -> None:
    callback = await _consent(await service.start(account, secret, chat_id=None))
    await service.complete(callback["state"], callback["code"])
    before = (await Account.get(id=account.id)).credentials

    refreshed = await service.refresh(await Account.get(id=account.id))
    assert refreshed.credentials["access_token"] == google.access_tokens[-1] != before["access_token"]
    assert refreshed.credentials["refresh_token"] == before["refresh_token"]
    assert google.token_requests[-1]["grant_type"] == "refresh_token"
    assert (await Account.get(id=account.id)).token_expiry is not None

    google.revoke(before["refresh_token"])
    with pytest.raises(AuthError) as info:
        await service.refresh(await Account.get(id=account.id))
    assert info.value.code is ErrorCode.REQUIRES_REAUTH
    assert (await Account.get(id=account.id)).status is AccountStatus.REQUIRES_REAUTH


async def test_an_http_loopback_endpoint_works_without_the_oauthlib_variable(
        monkeypatch: pytest.MonkeyPatch, google: FakeGoogleOAuth, account: Account,
        secret: ClientSecret) -> None:
    # The service, not the environment, admits the http endpoints its settings allow (loopback or
    # ALLOW_HTTP_ENDPOINTS): before, POST /api/accounts answered 500 (oauthlib InsecureTransportError).
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT")
    settings = Settings(_env_file=None, google_auth_uri=google.auth_uri,  # type: ignore[call-arg]
                        google_token_uri=google.token_uri, public_base_url="http://127.0.0.1:9/")
    service = OAuthService.from_settings(settings, KEY)
    url = await service.start(account, secret, chat_id=1)
    assert url.startswith(google.auth_uri)
