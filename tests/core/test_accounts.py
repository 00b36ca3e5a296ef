"""Adding accounts, verified live over the fakes before anything is stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest

from core.errors import AuthError, ErrorCode, ForwarderError, InvalidInput
from core.models import Account, AccountStatus, AuthMethod, Connection, ConnectionStatus, Direction, Platform
from core.platforms.factory import PlatformFactory
from core.platforms.quota import QuotaLedger
from core.platforms.youtube_oauth import OAuthService
from core.services.accounts import AccountService
from core.settings import Settings
from tests.fakes.google_oauth import FakeGoogleOAuth
from tests.fakes.instagram_graph import FakeInstagramGraph
from tests.fakes.instagram_private import FakeInstagramPrivate
from tests.fakes.youtube import FakeYouTube

SECRET = json.dumps({"installed": {"client_id": "fake-client.apps.googleusercontent.com",
                                   "client_secret": "fake-secret", "project_id": "proj-1",
                                   "redirect_uris": ["http://localhost"]}}).encode()


@pytest.fixture
async def fakes(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, object]]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    ig, graph, google, yt = FakeInstagramPrivate(), FakeInstagramGraph(), FakeGoogleOAuth(), FakeYouTube()
    for fake in (ig, graph, google, yt):
        await fake.start()
    yt.trust(google)
    yield {"ig": ig, "graph": graph, "google": google, "yt": yt}
    for fake in (ig, graph, google, yt):
        await fake.stop()


@pytest.fixture
def accounts(fakes: dict[str, object], settings: Settings) -> AccountService:
    ig, graph, google, yt = (fakes[k] for k in ("ig", "graph", "google", "yt"))
    custom = settings.model_copy(update={
        "instagram_api_base": ig.base_url, "graph_api_base": graph.api_base,  # type: ignore[attr-defined]
        "graph_upload_base": graph.upload_base,
        "instagram_graph_api_base": graph.instagram_base, "google_auth_uri": google.auth_uri,  # type: ignore[attr-defined]
        "google_token_uri": google.token_uri, "youtube_api_base": yt.base_url + "/",  # type: ignore[attr-defined]
        "youtube_web_base": yt.base_url, "public_base_url": "http://127.0.0.1:9"})  # type: ignore[attr-defined]
    oauth = OAuthService.from_settings(custom, b"k" * 32)
    return AccountService(PlatformFactory(custom, QuotaLedger()), oauth)


async def test_instagram_private_is_verified_before_it_is_saved(db: str, accounts: AccountService,
                                                                fakes: dict[str, object]) -> None:
    ig: FakeInstagramPrivate = fakes["ig"]  # type: ignore[assignment]
    with pytest.raises(AuthError) as info:
        await accounts.add_instagram_private("insta", ig.username, "wrong password")
    assert info.value.code is ErrorCode.INVALID_CREDENTIALS and await Account.all().count() == 0
    account = await accounts.add_instagram_private("insta", ig.username, ig.password)
    assert (account.username, account.external_id, account.status) == (
        ig.username, str(ig.user_pk), AccountStatus.ACTIVE)
    assert "session" in account.credentials and account.credentials["password"] == ig.password
    with pytest.raises(InvalidInput) as dup:
        await accounts.add_instagram_private("insta", ig.username, ig.password)
    assert dup.value.fields == {"alias": "an account named 'insta' already exists; pick another name"}


async def test_instagram_private_with_two_factor(db: str, accounts: AccountService,
                                                 fakes: dict[str, object]) -> None:
    ig: FakeInstagramPrivate = fakes["ig"]  # type: ignore[assignment]
    ig.two_factor = True
    with pytest.raises(AuthError) as info:
        await accounts.add_instagram_private("insta", ig.username, ig.password)
    assert "two-factor" in info.value.message.lower() or "2fa" in info.value.message.lower()
    account = await accounts.add_instagram_private("insta", ig.username, ig.password,
                                                   verification_code=ig.two_factor_code)
    assert account.status is AccountStatus.ACTIVE


async def test_instagram_graph_by_page_id(db: str, accounts: AccountService,
                                          fakes: dict[str, object]) -> None:
    graph: FakeInstagramGraph = fakes["graph"]  # type: ignore[assignment]
    creds = graph.credentials()
    with pytest.raises(InvalidInput) as info:
        await accounts.add_instagram_graph("biz", "", login_type="facebook", ig_user_id="abc")
    assert set(info.value.fields) == {"access_token", "ig_user_id", "app_id"}
    expiry = datetime.now(UTC) + timedelta(days=50)
    account = await accounts.add_instagram_graph("biz", creds["access_token"], login_type="facebook",
                                                 page_id=graph.page_id, token_expiry=expiry,
                                                 app_id=graph.app_id, app_secret=graph.app_secret)
    assert account.external_id == graph.ig_user_id and account.auth_method is AuthMethod.GRAPH_API
    assert account.credentials["login_type"] == "facebook" and account.profile["login_type"] == "facebook"
    assert account.credentials["app_secret"] == graph.app_secret
    status = await accounts.token_status(account.id)
    assert status["status"] == "active" and 49.9 < status["days_left"] <= 50
    with pytest.raises(AuthError):
        await accounts.add_instagram_graph("biz2", "EAAnot-a-token", login_type="facebook",
                                           ig_user_id=graph.ig_user_id, app_id="1", app_secret="s")


async def test_a_facebook_login_account_without_the_app_secret_is_refused(
        db: str, accounts: AccountService, fakes: dict[str, object]) -> None:
    # Without the app id and secret a Facebook Login token cannot be renewed (fb_exchange_token):
    # the old flow stored such accounts, and every one stopped within 60 days.
    graph: FakeInstagramGraph = fakes["graph"]  # type: ignore[assignment]
    with pytest.raises(InvalidInput) as info:
        await accounts.add_instagram_graph("biz", graph.access_token, login_type="facebook",
                                           ig_user_id=graph.ig_user_id)
    assert "60 days" in info.value.fields["app_id"] and await Account.all().count() == 0
    assert graph.requests == []


async def test_instagram_login_needs_no_page_and_no_app_secret(db: str, accounts: AccountService,
                                                              fakes: dict[str, object]) -> None:
    graph: FakeInstagramGraph = fakes["graph"]  # type: ignore[assignment]
    account = await accounts.add_instagram_graph("ig", graph.ig_access_token, login_type="instagram")
    assert (account.external_id, account.username) == (graph.ig_user_id, graph.username)
    assert account.credentials["login_type"] == "instagram" and "app_secret" not in account.credentials
    status = await accounts.refresh_token(account.id)
    assert status["status"] == "active" and status["days_left"] > 59
    assert graph.seen("GET", "/refresh_access_token")[0].headers["Host"] in graph.instagram_base


@pytest.mark.parametrize(("kind", "token_of"),
                         [("facebook", "ig_access_token"), ("instagram", "access_token")])
async def test_a_token_of_the_other_login_type_is_named_before_any_call(
        db: str, accounts: AccountService, fakes: dict[str, object], kind: str, token_of: str) -> None:
    graph: FakeInstagramGraph = fakes["graph"]  # type: ignore[assignment]
    with pytest.raises(InvalidInput) as info:
        await accounts.add_instagram_graph("biz", getattr(graph, token_of), login_type=kind,
                                           ig_user_id=graph.ig_user_id, app_id=graph.app_id,
                                           app_secret=graph.app_secret)
    assert "choose" in info.value.fields["access_token"] and graph.requests == []


async def _paused_pair(account: Account, reason_by_account: bool = True) -> tuple[Connection, Connection]:
    other = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH,
                                 status=AccountStatus.ACTIVE)
    from core.pipeline.effects import account_needs_attention

    mine = await Connection.create(name="ig to yt", direction=Direction.INSTAGRAM_TO_YOUTUBE,
                                   source_account=account, destination_account=other,
                                   status=ConnectionStatus.ACTIVE)
    await account_needs_attention(account, ErrorCode.TOKEN_EXPIRED, "Session has expired")
    by_admin = await Connection.create(name="held by admin", direction=Direction.INSTAGRAM_TO_YOUTUBE,
                                       source_account=account, destination_account=other,
                                       status=ConnectionStatus.PAUSED, pause_reason="paused by the admin")
    return mine, by_admin


async def test_a_new_graph_token_is_checked_then_resumes_what_the_old_one_paused(
        db: str, accounts: AccountService, fakes: dict[str, object]) -> None:
    graph: FakeInstagramGraph = fakes["graph"]  # type: ignore[assignment]
    account = await accounts.add_instagram_graph("biz", graph.access_token, login_type="facebook",
                                                 ig_user_id=graph.ig_user_id, app_id=graph.app_id,
                                                 app_secret=graph.app_secret)
    graph.expire_token()
    mine, by_admin = await _paused_pair(account)
    assert (await Account.get(id=account.id)).status is AccountStatus.TOKEN_EXPIRED
    with pytest.raises(AuthError):  # the expired token again: checked live, nothing changes
        await accounts.replace_instagram_graph(account.id, graph.access_token)
    assert (await Connection.get(id=mine.id)).status is ConnectionStatus.PAUSED
    fresh = graph.new_token("facebook")
    result = await accounts.replace_instagram_graph(account.id, fresh)
    assert result.resumed == ["ig to yt"]
    row = await Account.get(id=account.id)
    assert row.status is AccountStatus.ACTIVE and row.credentials["access_token"] == fresh
    assert row.credentials["app_secret"] == graph.app_secret  # kept from before
    assert (await Connection.get(id=mine.id)).status is ConnectionStatus.ACTIVE
    assert (await Connection.get(id=by_admin.id)).status is ConnectionStatus.PAUSED


async def test_credentials_of_another_account_are_refused(db: str, accounts: AccountService,
                                                         fakes: dict[str, object]) -> None:
    graph: FakeInstagramGraph = fakes["graph"]  # type: ignore[assignment]
    account = await accounts.add_instagram_graph("ig", graph.ig_access_token, login_type="instagram")
    await Account.filter(id=account.id).update(external_id="17841499999999999")
    with pytest.raises(InvalidInput) as info:
        await accounts.replace_instagram_graph(account.id, graph.new_token("instagram"))
    assert "not to ig" in info.value.fields["credentials"]
    assert (await Account.get(id=account.id)).credentials["access_token"] == graph.ig_access_token


async def test_a_changed_instagram_password_is_logged_in_then_kept(db: str, accounts: AccountService,
                                                                  fakes: dict[str, object]) -> None:
    ig: FakeInstagramPrivate = fakes["ig"]  # type: ignore[assignment]
    account = await accounts.add_instagram_private("insta", ig.username, ig.password)
    mine, _ = await _paused_pair(account)
    with pytest.raises(AuthError):
        await accounts.replace_instagram_private(account.id, password="still wrong")
    assert (await Account.get(id=account.id)).credentials["password"] == ig.password
    result = await accounts.replace_instagram_private(account.id, password=ig.password)
    assert result.resumed == ["ig to yt"] and result.account.status is AccountStatus.ACTIVE
    with pytest.raises(InvalidInput):
        await accounts.replace_instagram_private(account.id)


async def test_a_youtube_cookies_file_is_checked_and_kept_encrypted(db: str,
                                                                    accounts: AccountService) -> None:
    account = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH,
                                   status=AccountStatus.ACTIVE, credentials={"refresh_token": "r"})
    with pytest.raises(InvalidInput) as info:
        await accounts.set_youtube_cookies(account.id, b'[{"name": "SID"}]')
    assert "Netscape" in info.value.fields["cookies"]
    good = (b"# Netscape HTTP Cookie File\n"
            b".youtube.com\tTRUE\t/\tTRUE\t4102444800\tSID\tsecret-cookie-value\n")
    await accounts.set_youtube_cookies(account.id, good)
    row = await Account.get(id=account.id)
    assert "secret-cookie-value" in row.credentials["cookies_txt"] and row.credentials["refresh_token"] == "r"
    from tortoise import connections

    raw = await connections.get("default").execute_query_dict(
        f'SELECT "credentials" FROM "{Account._meta.db_table}" WHERE "id" = {account.id}')
    assert raw and "secret-cookie-value" not in str(raw) and "SID" not in str(raw)
    await accounts.set_youtube_cookies(account.id, None)
    assert "cookies_txt" not in (await Account.get(id=account.id)).credentials


async def test_youtube_consent_then_channel(db: str, accounts: AccountService,
                                            fakes: dict[str, object]) -> None:
    yt: FakeYouTube = fakes["yt"]  # type: ignore[assignment]
    with pytest.raises(InvalidInput) as info:
        await accounts.start_youtube("tube", b"{not json")
    assert info.value.fields["client_secret"].startswith("not valid JSON")
    account, url = await accounts.start_youtube("tube", SECRET, chat_id=7)
    assert account.status is AccountStatus.REQUIRES_REAUTH
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as resp:
        callback = {k: v[0] for k, v in parse_qs(urlparse(resp.headers["Location"]).query).items()}
    done = await accounts.oauth.complete(callback["state"], callback["code"])
    channel = (await accounts.finish_youtube(done)).account
    assert channel.external_id == yt.channel_id and channel.profile["channel_title"] == "Fake Channel"
    assert channel.status is AccountStatus.ACTIVE and channel.profile["project_key"] == "proj-1"
    # The grant is revoked later: the account pauses its connections; re-authorizing resumes them.
    insta = await Account.create(platform=Platform.INSTAGRAM, alias="insta",
                                 auth_method=AuthMethod.PRIVATE_API, status=AccountStatus.ACTIVE)
    conn = await Connection.create(name="to tube", direction=Direction.INSTAGRAM_TO_YOUTUBE,
                                   source_account=insta, destination_account=channel,
                                   status=ConnectionStatus.ACTIVE)
    from core.pipeline.effects import account_needs_attention

    await account_needs_attention(channel, ErrorCode.REQUIRES_REAUTH, "the grant was revoked")
    url = await accounts.reauthorize_youtube(channel.id)
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as resp:
        callback = {k: v[0] for k, v in parse_qs(urlparse(resp.headers["Location"]).query).items()}
    again = await accounts.finish_youtube(await accounts.oauth.complete(callback["state"], callback["code"]))
    assert again.resumed == ["to tube"]
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.ACTIVE


async def test_delete_refuses_an_account_in_use(db: str, accounts: AccountService) -> None:
    a = await Account.create(platform=Platform.INSTAGRAM, alias="a", auth_method=AuthMethod.PRIVATE_API)
    b = await Account.create(platform=Platform.YOUTUBE, alias="b", auth_method=AuthMethod.OAUTH)
    await Connection.create(name="uses them", direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=a,
                            destination_account=b)
    with pytest.raises(ForwarderError) as info:
        await accounts.delete(a.id)
    assert info.value.message == "Account a is used by uses them; delete or change those connections first"
    updated = await accounts.update(b.id, alias="renamed", alert_before_days=5)
    assert (updated.alias, updated.alert_before_days) == ("renamed", 5)
    with pytest.raises(InvalidInput):
        await accounts.update(b.id, alert_before_days=99)
