"""The instagrapi adapter against a wire-level fake of Instagram's private API and real proxies.

The real instagrapi runs unmodified; only its URLs are pointed at the fake. Every test runs
under ``loopback_only``: this process may neither resolve a name nor connect anywhere but
127.0.0.1, so a request that escaped the base-URL rewriting (or the proxy) fails the test.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yt_dlp.networking._requests  # noqa: F401 - patches requests' SOCKS manager process-wide, as in prod
from instagrapi import exceptions as ig

from core.errors import AccountSuspended, AuthError, ChallengeRequired, ErrorCode, MediaError, TransientError
from core.platforms.base import (
    Destination,
    MemoryCredentials,
    PublishState,
    RemotePost,
    Source,
    UploadRequest,
)
from core.platforms.instagram_private import InstagramPrivateAdapter
from core.platforms.instagram_private_errors import translate
from core.platforms.instagram_private_media import caption_digest
from core.platforms.proxy import ProxySpec
from core.redis_embedded import free_port
from core.video.binary import locate
from tests.fakes.instagram_private import FakeInstagramPrivate, FakeReel
from tests.fakes.proxies import PASSWORD, TARGET_HOST, USERNAME, ProxyServers


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse every DNS lookup and every connection that is not to a loopback IP (and fail the test)."""
    refused: list[str] = []
    real_getaddrinfo, real_connect, real_connect_ex = (
        socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex)

    def loopback(host: Any) -> bool:
        try:
            return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host)).is_loopback
        except ValueError:
            return False

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not loopback(host):
            refused.append(f"dns:{host}")
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve no names ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not loopback(address[0]):
            refused.append(f"connect:{address[0]}")
            raise ConnectionRefusedError(f"tests connect only to loopback ({address[0]})")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield refused
    assert not refused, f"something tried to leave the machine: {refused}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeInstagramPrivate]:
    server = FakeInstagramPrivate()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def store(fake: FakeInstagramPrivate) -> MemoryCredentials:
    return MemoryCredentials({"username": fake.username, "password": fake.password})


def make(store: MemoryCredentials, base: str, **kwargs: Any) -> InstagramPrivateAdapter:
    options: dict[str, Any] = {"api_base": base, "web_base": base, "configure_wait": 0, "timeout": 5.0}
    options.update(kwargs)
    return InstagramPrivateAdapter(store, **options)


@pytest.fixture
async def adapter(fake: FakeInstagramPrivate,
                  store: MemoryCredentials) -> AsyncIterator[InstagramPrivateAdapter]:
    async with make(store, fake.base_url) as instance:
        yield instance


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 1 s 360x640 MP4 (instagrapi reads its moov box; ffmpeg takes the cover from it)."""
    path = tmp_path_factory.mktemp("ig") / "clip.mp4"
    subprocess.run([locate(None).ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=s=360x640:r=10:d=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
                    "yuv420p", "-movflags", "+faststart", "-y", str(path)], check=True)
    return path


def taken(reel: FakeReel) -> str:
    return datetime.fromtimestamp(reel.taken_at, UTC).isoformat()


def sent_secret(fake: FakeInstagramPrivate, secret: str) -> bool:
    return any(secret in json.dumps(r.form) or secret in json.dumps(r.headers) for r in fake.requests)


# ---- login -------------------------------------------------------------------------------


async def test_password_login_saves_the_session(adapter: InstagramPrivateAdapter, fake: FakeInstagramPrivate,
                                                store: MemoryCredentials) -> None:
    info = await adapter.login()
    assert (info.external_id, info.username, info.title) == (str(fake.user_pk), fake.username, fake.full_name)
    assert fake.logins == 1
    paths = [r.path for r in fake.requests]
    # The app's flow: pre-login sync, public key (public session), login, post-login feeds.
    for path in ("/api/v1/launcher/sync/", "/api/v1/qe/sync/", "/api/v1/accounts/login/",
                 "/api/v1/feed/reels_tray/", "/api/v1/feed/timeline/", "/api/v1/accounts/current_user/"):
        assert path in paths
    assert not sent_secret(fake, fake.password)  # only the RSA/AES-encrypted form went out
    session = store.credentials["session"]
    assert session["authorization_data"]["sessionid"] in fake.sessions
    assert store.credentials["password"] == fake.password and fake.password not in json.dumps(session)
    assert "private_transport" not in session and "request_timeout" not in session


async def test_two_factor_code_comes_from_the_code_provider(fake: FakeInstagramPrivate,
                                                            store: MemoryCredentials) -> None:
    fake.two_factor = True
    asked: list[str] = []

    async def provider(kind: str) -> str | None:
        asked.append(kind)
        return fake.two_factor_code

    async with make(store, fake.base_url, code_provider=provider) as adapter:
        info = await adapter.login()
    assert info.username == fake.username and asked == ["two_factor"]
    (call,) = fake.calls("two_factor_login")
    assert call.form["verification_code"] == fake.two_factor_code and call.form["two_factor_identifier"]
    assert store.credentials["session"]["authorization_data"]["sessionid"] in fake.sessions


async def test_two_factor_without_a_code_or_with_a_wrong_one(fake: FakeInstagramPrivate,
                                                             store: MemoryCredentials) -> None:
    fake.two_factor = True
    async with make(store, fake.base_url) as adapter:
        with pytest.raises(AuthError) as no_code:
            await adapter.login()
    assert no_code.value.code is ErrorCode.LOGIN_REQUIRED and "two-factor" in no_code.value.message
    assert no_code.value.details["two_factor"] is True and "session" not in store.credentials

    async def wrong(kind: str) -> str:
        return "000000"

    async with make(store, fake.base_url, code_provider=wrong) as adapter:
        with pytest.raises(AuthError) as rejected:
            await adapter.login()
        assert rejected.value.code is ErrorCode.INVALID_CREDENTIALS
        # The code handed to login() directly:
        assert (await adapter.login(fake.two_factor_code)).username == fake.username


async def test_saved_session_is_reused_without_a_password_login(fake: FakeInstagramPrivate,
                                                               store: MemoryCredentials) -> None:
    async with make(store, fake.base_url) as first:
        await first.login()
    saves, logins = store.saves, fake.logins
    async with make(store, fake.base_url) as second:
        info = await second.identify()
    assert info.username == fake.username
    assert fake.logins == logins and store.saves == saves  # nothing changed, nothing saved


async def test_expired_session_logs_in_again_on_the_same_device(fake: FakeInstagramPrivate,
                                                                store: MemoryCredentials) -> None:
    async with make(store, fake.base_url) as first:
        await first.login()
    old = store.credentials["session"]
    fake.expire_sessions()
    async with make(store, fake.base_url) as second:
        await second.login()
    new = store.credentials["session"]
    assert fake.logins == 2
    assert new["authorization_data"]["sessionid"] != old["authorization_data"]["sessionid"]
    assert new["uuids"] == old["uuids"]  # the same phone, not a new device every time
    assert fake.calls("current_user")[0].headers["Authorization"].startswith("Bearer IGT:2:")


async def test_changed_cookies_are_saved(adapter: InstagramPrivateAdapter, fake: FakeInstagramPrivate,
                                         store: MemoryCredentials) -> None:
    fake.seed(2)
    await adapter.login()
    saves = store.saves
    fake.rotate_rur = True
    await adapter.list_new({})
    assert store.saves == saves + 1 and "RVA" in store.credentials["session"]["cookies"]["rur"]


async def test_bad_password_never_echoes_it(fake: FakeInstagramPrivate) -> None:
    store = MemoryCredentials({"username": fake.username, "password": "not-the-password-42"})
    async with make(store, fake.base_url) as adapter:
        with pytest.raises(AuthError) as raised:
            await adapter.login()
    error = raised.value
    assert error.code is ErrorCode.INVALID_CREDENTIALS
    text = f"{error} {error!r} {json.dumps(error.to_dict())}"
    assert "not-the-password-42" not in text and fake.password not in text


# ---- source ------------------------------------------------------------------------------


async def test_list_new_without_a_cursor(adapter: InstagramPrivateAdapter,
                                         fake: FakeInstagramPrivate) -> None:
    fake.seed(5)
    fake.reels.append(FakeReel(pk=77, caption="pinned and old", taken_at=1_600_000_000, pinned=True))
    result = await adapter.list_new({}, limit=3)
    assert [p.id for p in result.posts] == ["1004", "1003", "1002"]
    post = result.posts[0]
    reel = fake.reels[4]
    assert post.caption == reel.caption and post.published_at == datetime.fromtimestamp(reel.taken_at, UTC)
    assert (post.duration, post.width, post.height, post.is_short) == (7.5, 1080, 1920, True)
    assert post.media_url == f"{fake.base_url}/cdn/v/1004.mp4?oe=1"  # the largest version
    assert post.thumbnail_url == f"{fake.base_url}/cdn/t/1004.jpg?oe=1"
    assert post.permalink == f"{fake.base_url}/reel/{reel.code}/"
    assert result.cursor == {"last_id": "1004", "last_taken_at": post.published_at.isoformat()}
    assert result.method == "private" and result.units_spent == 0


async def test_list_new_with_a_cursor_pages_past_pinned_reels(adapter: InstagramPrivateAdapter,
                                                              fake: FakeInstagramPrivate) -> None:
    fake.seed(30)
    fake.reels.append(FakeReel(pk=77, caption="pinned and old", taken_at=1_600_000_000, pinned=True))
    cursor = {"last_id": "1013", "last_taken_at": taken(fake.reels[13])}
    result = await adapter.list_new(cursor, limit=50)
    assert [p.id for p in result.posts] == [str(1000 + n) for n in range(29, 13, -1)]
    pages = fake.calls("clips/user/")
    assert len(pages) == 2 and pages[1].form["max_id"]  # 16 new behind the pinned one: a second page
    assert result.cursor["last_id"] == "1029"


async def test_list_new_hands_out_a_burst_oldest_first(adapter: InstagramPrivateAdapter,
                                                       fake: FakeInstagramPrivate) -> None:
    fake.seed(6)
    cursor = {"last_id": "1001", "last_taken_at": taken(fake.reels[1])}
    first = await adapter.list_new(cursor, limit=2)
    assert [p.id for p in first.posts] == ["1003", "1002"] and first.cursor["last_id"] == "1003"
    second = await adapter.list_new(first.cursor, limit=2)
    assert [p.id for p in second.posts] == ["1005", "1004"]
    assert (await adapter.list_new(second.cursor, limit=2)).posts == ()


async def test_list_range_pages_with_max_id(adapter: InstagramPrivateAdapter,
                                            fake: FakeInstagramPrivate) -> None:
    fake.seed(40)
    at = [datetime.fromtimestamp(r.taken_at, UTC) for r in fake.reels]
    result = await adapter.list_range(at[5], at[20], limit=50)
    assert [p.id for p in result.posts] == [str(1000 + n) for n in range(20, 4, -1)]
    assert len(fake.calls("clips/user/")) == 3  # 1039..1028, 1027..1016, 1015..1004: stops below 1005
    limited = await adapter.list_range(at[5], at[20], limit=4)
    assert [p.id for p in limited.posts] == ["1020", "1019", "1018", "1017"]


async def test_download_streams_the_video(adapter: InstagramPrivateAdapter, fake: FakeInstagramPrivate,
                                          tmp_path: Path) -> None:
    fake.seed(1)
    fake.reels[0].video = bytes(range(256)) * 2000
    (post,) = (await adapter.list_new({})).posts
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    result = await adapter.download(post, tmp_path / "dl", progress)
    assert result.path.read_bytes() == fake.reels[0].video and result.size == 512_000
    assert result.sha256 == hashlib.sha256(fake.reels[0].video).hexdigest()
    assert seen[-1] == (512_000, 512_000) and list((tmp_path / "dl").iterdir()) == [result.path]


async def test_download_renews_an_expired_media_url(adapter: InstagramPrivateAdapter,
                                                    fake: FakeInstagramPrivate, tmp_path: Path) -> None:
    fake.seed(1)
    (post,) = (await adapter.list_new({})).posts
    fake.expire_media_urls()
    result = await adapter.download(post, tmp_path)
    assert result.path.read_bytes() == fake.reels[0].video
    assert len(fake.calls("/info/")) == 1 and len(fake.calls("/cdn/v/")) == 2


# ---- destination -------------------------------------------------------------------------


async def test_upload_publishes_exactly_one_clip(adapter: InstagramPrivateAdapter, fake: FakeInstagramPrivate,
                                                 clip: Path) -> None:
    fake.transcode_pending = 1  # Instagram answers 202 "Transcode not finished yet." once
    states: list[dict[str, Any]] = []

    async def save_state(state: dict[str, Any]) -> None:
        assert not fake.calls("rupload"), "state must be saved before the first byte is sent"
        states.append(state)

    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    caption = "Forwarded from Shorts #reels\nline two"
    result = await adapter.upload(UploadRequest(video_path=clip, caption=caption), save_state, progress)
    (upload,) = fake.uploads
    assert upload["caption"] == caption and upload["video"] == clip.read_bytes()
    assert upload["thumbnail"][:2] == b"\xff\xd8"  # the ffmpeg cover went up as a JPEG
    assert result.post_id == str(upload["pk"])
    assert result.url == f"{fake.base_url}/reel/{fake.reels[-1].code}/"
    assert states == [{"method": "private", "started_at": states[0]["started_at"],
                       "caption_sha256": caption_digest(caption)}]
    assert len(fake.calls("configure_to_clips")) == 2
    assert seen[-1] == (clip.stat().st_size,) * 2


async def test_resume_finds_the_clip_instead_of_posting_twice(adapter: InstagramPrivateAdapter,
                                                              fake: FakeInstagramPrivate, clip: Path) -> None:
    states: list[dict[str, Any]] = []

    async def save_state(state: dict[str, Any]) -> None:
        states.append(state)

    request = UploadRequest(video_path=clip, caption="posted once")
    first = await adapter.upload(request, save_state)
    uploads = len(fake.calls("rupload_igvideo"))
    again = await adapter.resume(states[0], request, save_state)
    assert again.already_published and (again.post_id, again.url) == (first.post_id, first.url)
    assert len(fake.uploads) == 1 and len(fake.calls("rupload_igvideo")) == uploads


async def test_resume_uploads_when_nothing_was_posted(adapter: InstagramPrivateAdapter,
                                                      fake: FakeInstagramPrivate, clip: Path) -> None:
    fake.seed(3, start=int(datetime.now(UTC).timestamp()) - 30, step=1, caption="other")

    async def save_state(state: dict[str, Any]) -> None:
        return None

    state = {"method": "private", "started_at": datetime.now(UTC).isoformat(),
             "caption_sha256": caption_digest("never arrived")}
    result = await adapter.resume(state, UploadRequest(video_path=clip, caption="never arrived"), save_state)
    assert not result.already_published and [u["caption"] for u in fake.uploads] == ["never arrived"]


async def test_verify_live_and_missing(adapter: InstagramPrivateAdapter, fake: FakeInstagramPrivate) -> None:
    fake.seed(1)
    live = await adapter.verify("1000")
    assert live.state is PublishState.LIVE and live.url == f"{fake.base_url}/reel/{fake.reels[0].code}/"
    fake.reels.clear()
    gone = await adapter.verify("1000")
    assert gone.state is PublishState.MISSING and gone.url is None


def test_it_is_a_source_and_a_destination(store: MemoryCredentials) -> None:
    adapter = InstagramPrivateAdapter(store)
    assert isinstance(adapter, Source) and isinstance(adapter, Destination)
    assert "pa$$" not in repr(adapter)


# ---- challenges --------------------------------------------------------------------------


async def test_challenge_then_security_code(adapter: InstagramPrivateAdapter, fake: FakeInstagramPrivate,
                                            store: MemoryCredentials) -> None:
    fake.fail_next("accounts/login/", "challenge_required")
    with pytest.raises(ChallengeRequired) as raised:
        await adapter.login()
    error = raised.value
    assert error.code is ErrorCode.CAPTCHA_DETECTED
    nonce = fake.login_challenge
    assert error.details["checkpoint_url"] == f"{fake.base_url}/challenge/{fake.user_pk}/{nonce}/"
    assert store.credentials["challenge"]["api_path"] == f"/challenge/{fake.user_pk}/{nonce}/"
    with pytest.raises(ChallengeRequired):
        await adapter.login()  # Instagram insists until the checkpoint is passed
    assert await adapter.request_security_code() == fake.email_hint
    with pytest.raises(ChallengeRequired, match="rejected the security code"):
        await adapter.submit_security_code("111111")
    logins = fake.logins
    info = await adapter.submit_security_code(f" {fake.security_code} ")
    assert info.username == fake.username and fake.challenges[nonce].solved
    assert fake.logins == logins  # passing the checkpoint logged the device in: no password login
    assert "challenge" not in store.credentials
    assert store.credentials["session"]["authorization_data"]["sessionid"] in fake.sessions
    fake.seed(1)
    assert len((await adapter.list_new({})).posts) == 1


async def test_captcha_kinds_map_to_captcha_detected() -> None:
    # instagrapi raises these two only from flows this adapter never runs (signup, the web
    # contact-form challenge), so they cannot be provoked over the wire; the mapping still holds.
    for exc in (ig.CaptchaChallengeRequired(), ig.RecaptchaChallengeForm("Incorrect captcha")):
        assert translate(exc, None).code is ErrorCode.CAPTCHA_DETECTED


# ---- errors ------------------------------------------------------------------------------

AFTER_LOGIN = [
    ("login_required", AuthError, ErrorCode.LOGIN_REQUIRED, None),
    ("please_wait", TransientError, ErrorCode.API_RATE_LIMIT, 300.0),
    ("throttled", TransientError, ErrorCode.API_RATE_LIMIT, 900.0),
    ("rate_limit", TransientError, ErrorCode.API_RATE_LIMIT, 900.0),
    ("feedback_required", AccountSuspended, ErrorCode.FEEDBACK_REQUIRED, None),
    ("sentry_block", AccountSuspended, ErrorCode.ACTION_BLOCKED, None),
    ("suspended", AccountSuspended, ErrorCode.ACCOUNT_SUSPENDED, None),
    ("challenge_required", ChallengeRequired, ErrorCode.CAPTCHA_DETECTED, None),
    ("checkpoint_required", ChallengeRequired, ErrorCode.CAPTCHA_DETECTED, None),
    ("server_error", TransientError, ErrorCode.API_TEMPORARY_ERROR, None),
    ("slow", TransientError, ErrorCode.NETWORK_TIMEOUT, None),
]


@pytest.mark.parametrize(("kind", "cls", "code", "retry_after"), AFTER_LOGIN, ids=[k[0] for k in AFTER_LOGIN])
async def test_listing_errors(fake: FakeInstagramPrivate, store: MemoryCredentials, kind: str,
                              cls: type[Exception], code: ErrorCode, retry_after: float | None) -> None:
    fake.seed(1)
    fake.slow_seconds = 1.0
    async with make(store, fake.base_url, timeout=0.4) as adapter:
        await adapter.login()
        fake.fail_next("clips/user/", kind)
        with pytest.raises(cls) as raised:
            await adapter.list_new({})
    error = raised.value
    assert error.code is code and error.retry_after == retry_after  # type: ignore[attr-defined]
    if code is ErrorCode.CAPTCHA_DETECTED:
        assert error.details["checkpoint_url"].startswith(f"{fake.base_url}/challenge/{fake.user_pk}/")  # type: ignore[attr-defined]


AT_LOGIN = [
    ("bad_password", AuthError, ErrorCode.INVALID_CREDENTIALS),
    ("ip_blocked", AccountSuspended, ErrorCode.ACTION_BLOCKED),
    ("disabled", AccountSuspended, ErrorCode.ACCOUNT_SUSPENDED),
    ("feedback_required", AccountSuspended, ErrorCode.FEEDBACK_REQUIRED),
]


@pytest.mark.parametrize(("kind", "cls", "code"), AT_LOGIN, ids=[k[0] for k in AT_LOGIN])
async def test_login_errors(adapter: InstagramPrivateAdapter, fake: FakeInstagramPrivate, kind: str,
                            cls: type[Exception], code: ErrorCode) -> None:
    fake.fail_next("accounts/login/", kind)
    with pytest.raises(cls) as raised:
        await adapter.login()
    assert raised.value.code is code  # type: ignore[attr-defined]


async def test_upload_errors(adapter: InstagramPrivateAdapter, fake: FakeInstagramPrivate,
                             clip: Path) -> None:
    async def save_state(state: dict[str, Any]) -> None:
        return None

    request = UploadRequest(video_path=clip, caption="x")
    fake.fail_next("rupload_igvideo", "server_error")
    with pytest.raises(TransientError) as transient:
        await adapter.upload(request, save_state)
    assert transient.value.code is ErrorCode.API_TEMPORARY_ERROR and "rupload" in transient.value.message
    fake.fail_next("rupload_igvideo", "bad_request")
    with pytest.raises(MediaError) as refused:
        await adapter.upload(request, save_state)
    assert refused.value.code is ErrorCode.VIDEO_CORRUPT
    assert fake.uploads == []


async def test_unreachable_and_malformed(fake: FakeInstagramPrivate, store: MemoryCredentials) -> None:
    async with make(store, f"http://127.0.0.1:{free_port()}") as adapter:
        with pytest.raises(TransientError) as down:
            await adapter.login()
    assert down.value.code is ErrorCode.API_TEMPORARY_ERROR
    async with make(store, fake.base_url) as adapter:
        fake.fail_next("current_user", "malformed")  # 200 without the "user" it should carry
        with pytest.raises(Exception) as odd:
            await adapter.login()
    assert odd.value.code is ErrorCode.INTERNAL_ERROR and "KeyError" in odd.value.message  # type: ignore[attr-defined]


# ---- proxies -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxies() -> Iterator[ProxyServers]:
    servers = ProxyServers().start()
    yield servers
    servers.close()


def proxy_spec(proxies: ProxyServers, mode: str, password: str = PASSWORD) -> ProxySpec:
    return ProxySpec(mode.removesuffix("_auth"), "127.0.0.1", proxies.ports[mode], USERNAME, password,
                     alias=f"{mode} proxy")


@pytest.mark.parametrize("mode", ["http_auth", "socks5_auth"])
async def test_all_traffic_goes_through_the_proxy(fake: FakeInstagramPrivate, store: MemoryCredentials,
                                                  proxies: ProxyServers, mode: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the proxy can resolve TARGET_HOST: any request that skipped it fails (loopback_only),
    # even with an environment that tells requests to bypass every proxy.
    monkeypatch.setenv("NO_PROXY", "*")
    base = f"http://{TARGET_HOST}:{fake.port}"
    fake.seed(1)
    before = proxies.connections()
    async with make(store, base, proxy=proxy_spec(proxies, mode)) as adapter:
        await adapter.login()
        (post,) = (await adapter.list_new({})).posts
        assert post.media_url and post.media_url.startswith(base)
        downloaded = await adapter.download(post, tmp_path)
    assert downloaded.path.read_bytes() == fake.reels[0].video
    assert {r.host for r in fake.requests} == {f"{TARGET_HOST}:{fake.port}"}
    assert fake.calls("/api/v1/qe/sync/", "GET")  # instagrapi's public session went through it too
    assert proxies.connections() > before


@pytest.mark.parametrize("mode", ["http_auth", "socks5_auth"])
async def test_wrong_proxy_password_is_a_proxy_error(fake: FakeInstagramPrivate, store: MemoryCredentials,
                                                     proxies: ProxyServers, mode: str) -> None:
    spec = proxy_spec(proxies, mode, password="wrong-proxy-secret")
    async with make(store, f"http://{TARGET_HOST}:{fake.port}", proxy=spec) as adapter:
        with pytest.raises(TransientError) as raised:
            await adapter.login()
    error = raised.value
    assert error.code is ErrorCode.PROXY_ERROR and f"{mode} proxy" in error.message
    assert "username/password" in error.message + error.hint
    text = f"{error} {error!r} {json.dumps(error.to_dict())}"
    assert "wrong-proxy-secret" not in text and fake.requests == []


async def test_posts_keep_their_fields_without_a_session(fake: FakeInstagramPrivate, tmp_path: Path) -> None:
    # A post handed out before a restart downloads without logging in again (the CDN needs no login).
    fake.seed(1)
    post = RemotePost(id="1000", media_url=f"{fake.base_url}/cdn/v/1000.mp4?oe=1")
    async with make(MemoryCredentials(), fake.base_url) as adapter:
        result = await adapter.download(post, tmp_path)
    assert result.size == len(fake.reels[0].video) and fake.logins == 0


async def test_no_secret_reaches_the_logs(fake: FakeInstagramPrivate, store: MemoryCredentials,
                                          proxies: ProxyServers, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    base = f"http://{TARGET_HOST}:{fake.port}"
    async with make(store, base, proxy=proxy_spec(proxies, "http_auth")) as adapter:
        await adapter.login()
        fake.seed(1)
        await adapter.list_new({})
    session = store.credentials["session"]
    assert caplog.records  # instagrapi and urllib3 did log
    for secret in (fake.password, PASSWORD, session["authorization_data"]["sessionid"],
                   session["cookies"]["csrftoken"]):
        assert secret not in caplog.text


def test_cursor_times_are_aware() -> None:
    from core.platforms.instagram_private_media import Cursor

    naive = Cursor.of({"last_id": "1", "last_taken_at": "2024-01-01T00:00:00"})
    assert naive.last_taken_at == datetime(2024, 1, 1, tzinfo=UTC)
    later = RemotePost(id="2", published_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=1))
    assert naive.is_new(later) and not naive.passed(later)
