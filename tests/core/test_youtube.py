"""The YouTube adapters over a wire-level fake, with the real googleapiclient, google-auth and yt-dlp."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import AuthError, ErrorCode, NotFound, QuotaExceeded, TransientError
from core.platforms.base import (
    Destination,
    MemoryCredentials,
    Privacy,
    PublishState,
    RemotePost,
    Source,
    UploadRequest,
)
from core.platforms.proxy import ProxySpec
from core.platforms.quota import QuotaLedger, next_reset
from core.platforms.youtube import YouTubeSource, parse_duration
from core.platforms.youtube_client import YouTubeClient
from core.platforms.youtube_upload import (
    LOCKED_PRIVATE,
    YouTubeDestination,
    youtube_description,
    youtube_tags,
    youtube_title,
)
from tests.fakes.google_oauth import FakeGoogleOAuth
from tests.fakes.media import make_clip
from tests.fakes.proxies import PASSWORD, TARGET_HOST, USERNAME, ProxyServers, refuse_local_dns
from tests.fakes.youtube import FakeYouTube

CHUNK = 256 * 1024
TOKEN = "ya29.fake-access"


@pytest.fixture
async def yt() -> AsyncIterator[FakeYouTube]:
    fake = FakeYouTube()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 1 s vertical MP4."""
    path = tmp_path_factory.mktemp("yt") / "clip.mp4"
    return make_clip(path, seconds=1, fps=10, audio=False).read_bytes()


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "upload.mp4"
    path.write_bytes(os.urandom(4 * CHUNK + 1234))
    return path


def credentials(**extra: Any) -> MemoryCredentials:
    doc: dict[str, Any] = {
        "access_token": TOKEN, "refresh_token": None,
        "expiry": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "client_secret": {"installed": {"client_id": "cid.apps.googleusercontent.com",
                                        "client_secret": "csecret", "project_id": "proj-1"}},
    }
    doc.update(extra)
    return MemoryCredentials(doc)


OPEN: list[YouTubeClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def client(fake: FakeYouTube, store: MemoryCredentials | None = None, **kwargs: Any) -> YouTubeClient:
    kwargs.setdefault("num_retries", 0)
    made = YouTubeClient(store or credentials(), api_base=fake.base_url + "/", **kwargs)
    OPEN.append(made)
    return made


def source(fake: FakeYouTube, **kwargs: Any) -> YouTubeSource:
    return YouTubeSource(client(fake, **kwargs), channel_id=fake.channel_id, web_base=fake.base_url)


def destination(fake: FakeYouTube, **kwargs: Any) -> YouTubeDestination:
    return YouTubeDestination(client(fake, **kwargs), web_base=fake.base_url, chunk_size=CHUNK)


class Saved:
    """A save_state that records what it got and what the fake had seen by then."""

    def __init__(self, fake: FakeYouTube) -> None:
        self.fake = fake
        self.states: list[dict[str, Any]] = []
        self.puts_before: list[int] = []

    async def __call__(self, state: dict[str, Any]) -> None:
        self.states.append(state)
        self.puts_before.append(sum(1 for method, _ in self.fake.calls if method == "PUT"))


# ---- pure rules ---------------------------------------------------------------------------

def test_metadata_rules() -> None:
    assert youtube_title("  <b>Hello</b>\nworld  ") == "bHello/b world"
    assert len(youtube_title("x" * 300)) == 100 and youtube_title("x" * 300).endswith("…")
    assert youtube_title("<<>>") == "Short"
    assert len(youtube_description("é" * 4000).encode()) <= 5000
    assert youtube_description("a <tag> b") == "a tag b"
    tags = youtube_tags(["#Shorts", "two words", "Shorts", ""] + [f"tag{i:03d}" for i in range(200)])
    assert tags[:2] == ["Shorts", "two words"]
    assert sum(len(t) + (2 if " " in t else 0) for t in tags) + len(tags) - 1 <= 500
    assert parse_duration("PT1M5S") == 65 and parse_duration("PT59S") == 59 and parse_duration("P0D") == 0
    assert parse_duration("garbage") is None


def test_adapters_satisfy_the_ports(yt: FakeYouTube) -> None:
    assert isinstance(source(yt), Source)
    assert isinstance(destination(yt), Destination)


# ---- source: detection --------------------------------------------------------------------

async def test_identify(yt: FakeYouTube) -> None:
    info = await source(yt).identify()
    assert (info.external_id, info.title, info.extra["uploads_playlist"]) == (
        yt.channel_id, "Fake Channel", yt.uploads_playlist)


async def test_steady_state_detection_costs_no_quota(yt: FakeYouTube) -> None:
    for _ in range(3):
        yt.add_video(duration=20)
    src = source(yt)
    first = await src.list_new({})
    assert [p.id for p in first.posts] == [v.id for v in reversed(yt.videos)]
    assert all(p.is_short and p.permalink and "/shorts/" in p.permalink for p in first.posts)
    assert first.method == "rss" and first.units_spent == 0

    new = yt.add_video(title="fresh", description="caption #tag", duration=15)
    second = await src.list_new(first.cursor)
    assert [p.id for p in second.posts] == [new.id]
    assert second.posts[0].caption == "caption #tag" and second.posts[0].extra["title"] == "fresh"
    third = await src.list_new(second.cursor)
    assert third.posts == ()
    assert yt.units == 0 and not any("/search" in path for _, path in yt.calls)


async def test_unclassified_entries_cost_one_unit_once(yt: FakeYouTube) -> None:
    src = source(yt)
    base = await src.list_new({})
    short = yt.add_video(duration=40, width=1080, height=1920, rss_shorts_link=False)
    land = yt.add_video(duration=40, width=1920, height=1080, rss_shorts_link=False)
    long = yt.add_video(duration=600, width=1080, height=1920, rss_shorts_link=False)
    square = yt.add_video(duration=180, width=1080, height=1080, rss_shorts_link=False)
    result = await src.list_new(base.cursor)
    by_id = {p.id: p for p in result.posts}
    assert result.units_spent == 1 and yt.unit_log == [("videos.list", 1)]
    assert by_id[short.id].is_short and by_id[short.id].duration == 40 and by_id[short.id].skip_reason is None
    assert by_id[square.id].is_short
    assert by_id[land.id].skip_reason == "not a Short: landscape (853x480)"
    assert by_id[long.id].skip_reason == "not a Short: 600 s is longer than 180 s"
    again = await src.list_new(result.cursor)
    assert again.posts == () and yt.units == 1


async def test_feed_down_falls_back_to_the_uploads_playlist(yt: FakeYouTube) -> None:
    src = source(yt)
    old = yt.add_video()
    first = await src.list_new({})
    yt.rss_status = 503
    new = yt.add_video()
    result = await src.list_new(first.cursor)
    assert result.method == "playlist" and [p.id for p in result.posts] == [new.id]
    # channels.list once to resolve the playlist, playlistItems, then videos.list for the details
    assert [w for w, _ in yt.unit_log] == ["channels.list", "playlistItems.list", "videos.list"]
    assert result.cursor["uploads_playlist"] == yt.uploads_playlist
    yt.add_video()
    later = await src.list_new(result.cursor)
    assert len(later.posts) == 1 and later.units_spent == 2  # the playlist id is remembered
    assert old.id not in [p.id for p in later.posts]


async def test_a_full_feed_of_unknown_ids_is_completed_from_the_playlist(yt: FakeYouTube) -> None:
    src = source(yt)
    yt.add_video()
    first = await src.list_new({})
    burst = [yt.add_video() for _ in range(17)]  # more than the feed's 15
    result = await src.list_new(first.cursor, limit=50)
    assert result.method == "playlist"
    assert [p.id for p in result.posts] == [v.id for v in reversed(burst)]


async def test_list_range_for_backfill(yt: FakeYouTube) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    videos = [yt.add_video(published_at=start + timedelta(days=i)) for i in range(10)]
    result = await source(yt).list_range(start + timedelta(days=2), start + timedelta(days=5))
    assert [p.id for p in result.posts] == [v.id for v in reversed(videos[2:6])]
    assert result.units_spent == 3  # channels.list + one playlist page + one videos.list


# ---- source: download ---------------------------------------------------------------------

async def test_download_with_ytdlp(yt: FakeYouTube, clip: bytes, tmp_path: Path) -> None:
    video = yt.add_video(content=clip)
    src = source(yt)
    posts = (await src.list_new({})).posts
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    got = await src.download(posts[0], tmp_path / "dl", progress)
    assert got.path.read_bytes() == clip and got.size == len(clip)
    assert got.path.parent == tmp_path / "dl" and got.path.name == f"{video.id}.mp4"
    await asyncio.sleep(0.05)
    assert seen and seen[-1][0] == len(clip)


async def test_download_of_a_removed_video_is_not_found(yt: FakeYouTube, tmp_path: Path) -> None:
    post = RemotePost(id="gone", permalink=f"{yt.base_url}/shorts/gone")
    with pytest.raises(NotFound):
        await source(yt).download(post, tmp_path)


# ---- destination ---------------------------------------------------------------------------

def request_for(path: Path, **kwargs: Any) -> UploadRequest:
    kwargs.setdefault("title", "My <Short>")
    kwargs.setdefault("privacy", Privacy.UNLISTED)
    return UploadRequest(video_path=path, description="desc", tags=("Shorts", "fun"),
                         notify_subscribers=False, **kwargs)


async def test_upload_checkpoints_the_session_before_any_byte(yt: FakeYouTube, big_file: Path) -> None:
    saved = Saved(yt)
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    result = await destination(yt).upload(request_for(big_file), saved, progress)
    assert saved.puts_before == [0] and saved.states[0]["session_uri"].startswith(yt.base_url)
    [video] = yt.uploaded()
    assert result.post_id == video.id and result.url == f"{yt.base_url}/shorts/{video.id}"
    assert video.content == big_file.read_bytes()
    assert (video.title, video.tags, video.privacy) == ("My Short", ["Shorts", "fun"], "unlisted")
    session = next(iter(yt.sessions.values()))
    assert session.chunks == 5 and session.notify == "false"
    assert seen[-1] == (big_file.stat().st_size, big_file.stat().st_size)


async def test_interrupted_upload_resumes_at_the_chunk_it_reached(yt: FakeYouTube, big_file: Path) -> None:
    saved = Saved(yt)
    dest = destination(yt)
    yt.break_upload_after(2)
    with pytest.raises(TransientError) as info:
        await dest.upload(request_for(big_file), saved)
    assert info.value.code is ErrorCode.API_TEMPORARY_ERROR and yt.uploaded() == []

    # A new process: a fresh adapter resumes from the checkpoint.
    result = await destination(yt).resume(saved.states[-1], request_for(big_file), saved)
    assert result.resumed_from == 2 * CHUNK and not result.already_published
    [video] = yt.uploaded()
    assert video.id == result.post_id and video.content == big_file.read_bytes()
    assert len(yt.sessions) == 1 and len(saved.states) == 1


async def test_resume_after_a_finished_upload_sends_nothing(yt: FakeYouTube, big_file: Path) -> None:
    saved = Saved(yt)
    first = await destination(yt).upload(request_for(big_file), saved)
    puts = sum(1 for m, _ in yt.calls if m == "PUT")
    again = await destination(yt).resume(saved.states[0], request_for(big_file), saved)
    assert again.already_published and again.post_id == first.post_id
    assert sum(1 for m, _ in yt.calls if m == "PUT") == puts + 1  # only the "bytes */N" question
    assert len(yt.uploaded()) == 1


async def test_expired_session_finds_the_finished_video_first(yt: FakeYouTube, big_file: Path) -> None:
    saved = Saved(yt)
    first = await destination(yt).upload(request_for(big_file), saved)
    yt.sessions.clear()  # Google forgot the session
    again = await destination(yt).resume(saved.states[0], request_for(big_file), saved)
    assert again.already_published and again.post_id == first.post_id
    assert len([v for v in yt.videos if v.content]) == 1


async def test_expired_unfinished_session_starts_over_once(yt: FakeYouTube, big_file: Path) -> None:
    saved = Saved(yt)
    yt.break_upload_after(1)
    with pytest.raises(TransientError):
        await destination(yt).upload(request_for(big_file), saved)
    yt.sessions.clear()
    result = await destination(yt).resume(saved.states[0], request_for(big_file), saved)
    assert not result.already_published and len(saved.states) == 2
    assert [v.id for v in yt.uploaded()] == [result.post_id]


async def test_quota_exceeded_over_the_wire(yt: FakeYouTube, big_file: Path) -> None:
    yt.fail_next("/upload/youtube/v3/videos", 403, "quotaExceeded")
    saved = Saved(yt)
    with pytest.raises(QuotaExceeded) as info:
        await destination(yt).upload(request_for(big_file), saved)
    assert info.value.code is ErrorCode.QUOTA_EXCEEDED and saved.states == []
    assert info.value.reset_at == next_reset()
    assert info.value.reset_at.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles")).hour == 0

    yt.fail_next("/upload/youtube/v3/videos", 400, "uploadLimitExceeded")
    with pytest.raises(QuotaExceeded) as limit:
        await destination(yt).upload(request_for(big_file), saved)
    assert limit.value.details["reason"] == "uploadLimitExceeded" and "upload limit" in limit.value.message


async def test_upload_limit_waits_24_hours_from_the_refusal_not_until_pacific_midnight(
        yt: FakeYouTube, big_file: Path) -> None:
    # https://developers.google.com/youtube/v3/docs/videos/insert#errors: badRequest (400)
    # uploadLimitExceeded; YouTube: a channel's cap over a 24-hour period, "try again in 24 hours".
    yt.fail_next("/upload/youtube/v3/videos", 400, "uploadLimitExceeded")
    before = datetime.now(UTC)
    with pytest.raises(QuotaExceeded) as limit:
        await destination(yt).upload(request_for(big_file), Saved(yt))
    after = datetime.now(UTC)
    assert limit.value.details["status"] == 400
    assert before + timedelta(hours=24) <= limit.value.reset_at <= after + timedelta(hours=24)
    assert limit.value.reset_at > next_reset()  # Pacific midnight is always less than 24 h away
    assert yt.uploaded() == []


def test_the_fake_answers_documented_reasons_in_googles_shape(yt: FakeYouTube) -> None:
    with pytest.raises(ValueError, match="Google answers uploadLimitExceeded with 400, not 403"):
        yt.fail_next("/upload/youtube/v3/videos", 403, "uploadLimitExceeded")


async def test_expired_session_with_the_feed_down_finds_the_upload_in_the_playlist(
        yt: FakeYouTube, big_file: Path) -> None:
    saved = Saved(yt)
    first = await destination(yt).upload(request_for(big_file), saved)
    yt.sessions.clear()  # Google forgot the session (404 on the status query)
    yt.rss_status = 503
    again = await destination(yt).resume(saved.states[0], request_for(big_file), saved)
    assert again.already_published and again.post_id == first.post_id
    assert len([v for v in yt.videos if v.content]) == 1 and len(saved.states) == 1
    assert ("playlistItems.list", 1) in yt.unit_log


async def test_expired_session_of_a_private_upload_is_found_in_the_playlist_not_the_feed(
        yt: FakeYouTube, big_file: Path) -> None:
    # An unaudited project's uploads are private, and the public feed leaves private videos out.
    saved = Saved(yt)
    first = await destination(yt).upload(request_for(big_file, privacy=Privacy.PRIVATE), saved)
    yt.sessions.clear()
    rss_before = yt.rss_fetches
    again = await destination(yt).resume(saved.states[0], request_for(big_file, privacy=Privacy.PRIVATE),
                                         saved)
    assert yt.rss_fetches == rss_before + 1  # the free feed was asked first
    assert again.already_published and again.post_id == first.post_id
    assert len([v for v in yt.videos if v.content]) == 1


async def test_expired_session_with_no_way_to_check_uploads_nothing_twice(yt: FakeYouTube,
                                                                          big_file: Path) -> None:
    saved = Saved(yt)
    await destination(yt).upload(request_for(big_file), saved)
    yt.sessions.clear()
    yt.rss_status = 503
    yt.fail_next("/youtube/v3/playlistItems", 500)
    with pytest.raises(TransientError):
        await destination(yt).resume(saved.states[0], request_for(big_file), saved)
    assert len([v for v in yt.videos if v.content]) == 1 and len(saved.states) == 1


@pytest.mark.parametrize(("status", "reason", "code"), [
    (500, "backendError", ErrorCode.API_TEMPORARY_ERROR),
    (503, "backendError", ErrorCode.API_TEMPORARY_ERROR),
    (403, "rateLimitExceeded", ErrorCode.API_RATE_LIMIT),
    (403, "forbidden", ErrorCode.INVALID_CREDENTIALS),
    (404, "channelNotFound", ErrorCode.NOT_FOUND),
])
async def test_api_errors_map_to_the_taxonomy(yt: FakeYouTube, status: int, reason: str,
                                              code: ErrorCode) -> None:
    yt.fail_next("/youtube/v3/channels", status, reason)
    with pytest.raises(Exception) as info:  # noqa: B017 - the type is checked below
        await source(yt).identify()
    assert getattr(info.value, "code", None) is code, info.value


async def test_verify_states(yt: FakeYouTube, big_file: Path) -> None:
    dest = destination(yt)
    result = await dest.upload(request_for(big_file), Saved(yt))
    processing = await dest.verify(result.post_id, request_for(big_file))
    assert processing.state is PublishState.PROCESSING and not processing.locked_private
    video = yt.uploaded()[0]
    video.upload_status = "processed"
    assert (await dest.verify(result.post_id)).state is PublishState.LIVE
    video.privacy = "private"  # what an unaudited project gets
    locked = await dest.verify(result.post_id, request_for(big_file))
    assert locked.locked_private and locked.detail == LOCKED_PRIVATE and locked.privacy == "private"
    video.upload_status, video.rejection_reason = "rejected", "copyright"
    rejected = await dest.verify(result.post_id)
    assert rejected.state is PublishState.REJECTED and rejected.detail == "copyright"
    assert (await dest.verify("nope")).state is PublishState.MISSING


# ---- credentials, quota ledger, proxies ---------------------------------------------------

async def test_rejected_token_without_refresh_token_needs_reauth(yt: FakeYouTube) -> None:
    yt.tokens.clear()
    with pytest.raises(AuthError) as info:
        await source(yt).identify()
    assert info.value.code is ErrorCode.REQUIRES_REAUTH and TOKEN not in str(info.value.to_dict())


async def test_expired_token_is_refreshed_and_saved(yt: FakeYouTube) -> None:
    oauth = FakeGoogleOAuth(client_id="cid.apps.googleusercontent.com", client_secret="csecret")
    await oauth.start()
    try:
        oauth.refresh_tokens["1//refresh"] = "https://www.googleapis.com/auth/youtube.upload"
        yt.trust(oauth)
        store = credentials(access_token="stale", refresh_token="1//refresh",
                            expiry=(datetime.now(UTC) - timedelta(minutes=1)).isoformat())
        src = YouTubeSource(client(yt, store, token_uri=oauth.token_uri), channel_id=yt.channel_id)
        assert (await src.identify()).external_id == yt.channel_id
        assert store.credentials["access_token"] == oauth.access_tokens[-1] and store.saves == 1
        assert datetime.fromisoformat(store.credentials["expiry"]) > datetime.now(UTC)

        oauth.revoke("1//refresh")
        store.credentials["expiry"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        again = YouTubeSource(client(yt, store, token_uri=oauth.token_uri), channel_id=yt.channel_id)
        with pytest.raises(AuthError) as info:
            await again.identify()
        assert info.value.code is ErrorCode.REQUIRES_REAUTH
    finally:
        await oauth.stop()


async def test_quota_ledger_refuses_before_the_call(db: str, yt: FakeYouTube) -> None:
    ledger = QuotaLedger()
    src = YouTubeSource(client(yt, quota=ledger, daily_units=2), channel_id=yt.channel_id)
    await src.identify()
    await src.identify()
    calls = len(yt.calls)
    with pytest.raises(QuotaExceeded):
        await src.identify()
    assert len(yt.calls) == calls  # refused locally, nothing sent
    assert (await ledger.used("proj-1")).units == 2

    dest = YouTubeDestination(client(yt, quota=ledger, daily_uploads=0), web_base=yt.base_url)
    with pytest.raises(QuotaExceeded) as info:
        await dest.upload(UploadRequest(video_path=Path(__file__)), Saved(yt))
    assert "uploads quota" in info.value.message


@pytest.fixture(scope="module")
def proxies() -> Iterator[ProxyServers]:
    servers = ProxyServers().start()
    yield servers
    servers.close()


@pytest.mark.parametrize("mode", ["http_auth", "socks5_auth"])
async def test_api_rss_and_download_through_a_proxy(mode: str, proxies: ProxyServers, yt: FakeYouTube,
                                                   clip: bytes, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake is named by a host only the proxy can resolve: a request that skipped the proxy fails.
    yt.base_url = yt.base_url.replace("127.0.0.1", TARGET_HOST)
    asked = refuse_local_dns(monkeypatch)
    spec = ProxySpec(type=mode.removesuffix("_auth"), host="127.0.0.1", port=proxies.ports[mode],
                     username=USERNAME, password=PASSWORD)
    yt.add_video(content=clip)
    before = proxies.connections()
    src = YouTubeSource(client(yt, proxy=spec), channel_id=yt.channel_id, web_base=yt.base_url, proxy=spec)
    await src.identify()  # googleapiclient over httplib2
    posts = (await src.list_new({})).posts  # the feed over aiohttp
    got = await src.download(posts[0], tmp_path, None)  # yt-dlp
    assert got.path.read_bytes() == clip and yt.media_fetches >= 1 and yt.rss_fetches == 1
    assert proxies.connections() >= before + 3
    assert asked == []  # nothing was resolved on this side (SOCKS5: remote DNS)


@pytest.mark.parametrize("mode", ["http_auth", "socks5_auth"])
async def test_wrong_proxy_password_is_a_proxy_error(mode: str, proxies: ProxyServers,
                                                     yt: FakeYouTube) -> None:
    spec = ProxySpec(type=mode.removesuffix("_auth"), host="127.0.0.1", port=proxies.ports[mode],
                     username=USERNAME, password="S3cr3t-not-this")
    with pytest.raises(TransientError) as info:
        await YouTubeSource(client(yt, proxy=spec), channel_id=yt.channel_id).identify()
    assert info.value.code is ErrorCode.PROXY_ERROR and "S3cr3t" not in str(info.value.to_dict())
    assert "username/password" in info.value.message
