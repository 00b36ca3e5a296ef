"""The Instagram Graph adapter over the wire: a fake Graph API, upload host and CDN on 127.0.0.1,
and real local proxies. Nothing here patches the adapter or aiohttp."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.errors import (
    AccountSuspended,
    AuthError,
    ErrorCode,
    ForwarderError,
    MediaError,
    NotFound,
    QuotaExceeded,
    TransientError,
)
from core.platforms.base import (
    Destination,
    MemoryCredentials,
    PublishState,
    RemotePost,
    Source,
    UploadRequest,
)
from core.platforms.instagram_graph import InstagramGraphAdapter
from core.platforms.proxy import ProxySpec
from core.redis_embedded import free_port
from tests.fakes.instagram_graph import VERSION, FakeInstagramGraph
from tests.fakes.proxies import PASSWORD, TARGET_HOST, USERNAME, ProxyServers, refuse_local_dns

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
VIDEO_SIZE = 2_500_000

MakeAdapter = Callable[..., InstagramGraphAdapter]


class Crash(Exception):
    """The worker dies at a checkpoint."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeInstagramGraph]:
    server = FakeInstagramGraph()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make(fake: FakeInstagramGraph) -> AsyncIterator[MakeAdapter]:
    made: list[InstagramGraphAdapter] = []

    def build(creds: dict[str, Any] | None = None, **kwargs: Any) -> InstagramGraphAdapter:
        options: dict[str, Any] = {"api_base": fake.api_base, "upload_base": fake.upload_base,
                                   "instagram_base": fake.instagram_base, "version": VERSION,
                                   "poll_interval": 0.0, "poll_timeout": 5.0, "timeout": 5.0}
        options.update(kwargs)
        adapter = InstagramGraphAdapter(MemoryCredentials(creds or fake.credentials()), **options)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "reel.mp4"
    path.write_bytes(os.urandom(VIDEO_SIZE))
    return path


class States:
    """A save_state that records every checkpoint and can crash at one."""

    def __init__(self, fake: FakeInstagramGraph, crash_when: Callable[[dict[str, Any]], bool] | None = None):
        self.fake = fake
        self.saved: list[dict[str, Any]] = []
        self.uploads_before: list[int] = []
        self.crash_when = crash_when

    async def __call__(self, state: dict[str, Any]) -> None:
        self.saved.append(dict(state))
        self.uploads_before.append(len(self.fake.seen("POST", "/ig-api-upload/")))
        if self.crash_when is not None and self.crash_when(state):
            raise Crash(str(state))

    @property
    def last(self) -> dict[str, Any]:
        return self.saved[-1]


async def container_status(fake: FakeInstagramGraph, container_id: str) -> str:
    """What Graph says about a container, asked directly."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.versioned()}/{container_id}", params={
                "fields": "status_code", "access_token": fake.access_token}) as response:
            return str((await response.json())["status_code"])


def request_for(video: Path, caption: str = "Sunset over the pier #reels", url: str | None = None
                ) -> UploadRequest:
    return UploadRequest(video_path=video, caption=caption, public_video_url=url)


# ---- identity ------------------------------------------------------------------------------

async def test_adapter_is_a_source_and_a_destination(make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    async with make() as adapter:
        assert isinstance(adapter, Source) and isinstance(adapter, Destination)
        assert fake.access_token not in repr(adapter)


async def test_identify(make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    info = await make().identify()
    assert (info.external_id, info.username) == (fake.ig_user_id, "forwarder.test")
    assert info.title == "Forwarder Test"
    call = fake.seen("GET", f"/{VERSION}/{fake.ig_user_id}")[-1]
    assert call.query["fields"] == "id,username,name"
    assert call.query["access_token"] == fake.access_token


async def test_identify_resolves_the_page_and_stores_the_account(make: MakeAdapter,
                                                                 fake: FakeInstagramGraph) -> None:
    adapter = make({"access_token": fake.access_token, "page_id": fake.page_id})
    info = await adapter.identify()
    assert info.external_id == fake.ig_user_id
    assert info.extra == {"login_type": "facebook", "page_id": fake.page_id}
    store = adapter.credentials
    assert isinstance(store, MemoryCredentials) and store.credentials["ig_user_id"] == fake.ig_user_id
    assert fake.seen("GET", f"/{fake.page_id}")[0].query["fields"] == "instagram_business_account"


# ---- listing ---------------------------------------------------------------------------------

def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def seed_feed(fake: FakeInstagramGraph, count: int) -> list[str]:
    """``count`` posts an hour apart, every fifth a photo, every seventh a feed video; ids oldest first."""
    ids = []
    for n in range(count):
        kind = ("IMAGE", "FEED") if n % 5 == 4 else ("VIDEO", "FEED") if n % 7 == 6 else ("VIDEO", "REELS")
        item = fake.seed(f"post {n}", NOW - timedelta(hours=count - n), media_type=kind[0], product=kind[1])
        ids.append(item.id)
    return ids


async def test_list_new_without_cursor_lists_the_newest(make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    ids = seed_feed(fake, 12)
    result = await make().list_new({}, limit=4)
    assert result.method == "graph" and result.units_spent == 1
    assert [p.caption for p in result.posts] == ["post 11", "post 10", "post 8", "post 7"]
    assert result.cursor == {"last_id": ids[-1], "last_timestamp": "2026-11-20T11:00:00+0000"}
    first = result.posts[0]
    assert first.is_short and first.skip_reason is None and first.published_at == NOW - timedelta(hours=1)
    assert first.permalink and first.media_url and first.media_url.startswith(fake.base_url)


async def test_feed_videos_are_listed_with_a_skip_reason_and_photos_left_out(
        make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    seed_feed(fake, 8)
    result = await make().list_new({}, limit=20)
    by_caption = {p.caption: p for p in result.posts}
    assert "post 4" not in by_caption  # a photo
    feed_video = by_caption["post 6"]
    assert feed_video.skip_reason == "not a reel (feed video)" and feed_video.is_short is False
    assert len(result.posts) == 7


async def test_list_new_with_cursor_follows_paging(make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    ids = seed_feed(fake, 60)
    cursor = {"last_id": ids[30], "last_timestamp": stamp(NOW - timedelta(hours=30))}
    result = await make().list_new(cursor, limit=25)  # 29 newer items, 23 of them videos: two pages
    pages = fake.seen("GET", "/media")
    assert len(pages) == 2 and result.units_spent == 2
    assert "after" not in pages[0].query and pages[1].query["after"]
    captions = [p.caption for p in result.posts]
    assert captions[0] == "post 58" and captions[-1] == "post 31"  # post 59 is a photo
    assert len(captions) == 23 and all(int(c.split()[1]) > 30 for c in captions)
    assert result.cursor["last_id"] == ids[-1]
    again = await make().list_new(result.cursor, limit=50)
    assert again.posts == () and again.cursor == result.cursor


async def test_list_new_with_more_than_limit_delivers_the_oldest_first(
        make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    ids = [fake.seed(f"reel {n}", NOW - timedelta(hours=10 - n)).id for n in range(10)]
    cursor = {"last_id": ids[1], "last_timestamp": stamp(NOW - timedelta(hours=9))}
    adapter = make()
    first = await adapter.list_new(cursor, limit=3)
    assert [p.caption for p in first.posts] == ["reel 4", "reel 3", "reel 2"]
    second = await adapter.list_new(first.cursor, limit=3)
    assert [p.caption for p in second.posts] == ["reel 7", "reel 6", "reel 5"]
    third = await adapter.list_new(second.cursor, limit=3)
    assert [p.caption for p in third.posts] == ["reel 9", "reel 8"]
    assert third.cursor["last_id"] == ids[-1]


async def test_list_range(make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    for day in range(10):
        fake.seed(f"day {day}", NOW - timedelta(days=day))
    since, until = NOW - timedelta(days=6, hours=1), NOW - timedelta(days=2, hours=1)
    result = await make().list_range(since, until, limit=10)
    assert [p.caption for p in result.posts] == ["day 3", "day 4", "day 5", "day 6"]
    query = fake.seen("GET", "/media")[0].query
    assert (int(query["since"]), int(query["until"])) == (int(since.timestamp()), int(until.timestamp()))
    limited = await make().list_range(since, until, limit=2)
    assert [p.caption for p in limited.posts] == ["day 3", "day 4"]


# ---- download --------------------------------------------------------------------------------

async def test_download_streams_the_video(make: MakeAdapter, fake: FakeInstagramGraph,
                                          tmp_path: Path) -> None:
    data = os.urandom(300_000)
    fake.seed("to download", NOW, video=data)
    post = (await make().list_new({}, limit=1)).posts[0]
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    got = await make().download(post, tmp_path / "dl", progress)
    assert got.path == tmp_path / "dl" / f"{post.id}.mp4" and got.path.read_bytes() == data
    assert (got.size, got.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert seen[-1] == (len(data), len(data))
    assert [p.name for p in (tmp_path / "dl").iterdir()] == [got.path.name]  # no partial file left


async def test_download_with_an_expired_cdn_url_asks_for_a_fresh_one(
        make: MakeAdapter, fake: FakeInstagramGraph, tmp_path: Path) -> None:
    item = fake.seed("old listing", NOW, video=b"fresh bytes")
    stale = RemotePost(id=item.id, media_url=f"{fake.base_url}/cdn/{item.id}.mp4")  # signature gone
    got = await make().download(stale, tmp_path)
    assert got.path.read_bytes() == b"fresh bytes"
    assert fake.seen("GET", f"/{VERSION}/{item.id}")[0].query["fields"] == "media_url"


async def test_download_of_a_deleted_post_is_not_found(make: MakeAdapter, fake: FakeInstagramGraph,
                                                       tmp_path: Path) -> None:
    gone = RemotePost(id="17900000000404", media_url=f"{fake.base_url}/cdn/17900000000404.mp4")
    with pytest.raises(NotFound):
        await make().download(gone, tmp_path)
    assert list(tmp_path.iterdir()) == []


# ---- upload ----------------------------------------------------------------------------------

async def test_upload_by_video_url(make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    url = fake.host_file("signed-reel.mp4", video.read_bytes())
    states = States(fake)
    adapter = make()
    result = await adapter.upload(request_for(video, url=url), states)
    [reel] = fake.published("Sunset over the pier #reels")
    assert result.post_id == reel.id and reel.video == video.read_bytes()  # Meta fetched the URL
    assert result.url == f"https://www.instagram.com/reel/{reel.shortcode}/" and not result.already_published
    created = fake.seen("POST", "/media")[0].form
    assert (created["media_type"], created["video_url"], created["share_to_feed"]) == ("REELS", url, "true")
    assert states.saved[0]["container_id"] == reel.container_id and "media_id" not in states.saved[0]
    assert states.last["media_id"] == reel.id
    assert fake.publishes == [reel.container_id]
    assert (await adapter.verify(result.post_id)).state is PublishState.LIVE


async def test_upload_resumable(make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    states = States(fake)
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    result = await make().upload(request_for(video), states, progress)
    [reel] = fake.published()
    assert result.post_id == reel.id and reel.video == video.read_bytes()
    assert states.saved[0] == {"method": "graph", "container_id": reel.container_id, "upload": "resumable",
                               "file_size": VIDEO_SIZE, "created_at": states.saved[0]["created_at"]}
    assert states.uploads_before[0] == 0  # saved before the first byte went out
    assert [s.get("uploaded") for s in states.saved] == [None, True, True]
    upload = fake.seen("POST", "/ig-api-upload/")[0]
    assert upload.headers["Authorization"] == f"OAuth {fake.access_token}"
    assert (upload.headers["offset"], upload.headers["file_size"]) == ("0", str(VIDEO_SIZE))
    assert upload.path == f"/ig-api-upload/{VERSION}/{reel.container_id}"
    assert seen[-1] == (VIDEO_SIZE, VIDEO_SIZE)
    assert len(fake.publishes) == 1


async def test_upload_broken_mid_way_never_asks_an_undocumented_offset(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    # Meta documents no request that reports the bytes the upload host holds [resumable]; the old
    # adapter sent GET /ig-api-upload/{v}/{id} and went on at the offset the (old) fake made up.
    fake.cut_uploads = [700_000]
    states = States(fake)
    with pytest.raises(TransientError):
        await make().upload(request_for(video), states)
    assert fake.seen("GET", "/ig-api-upload/") == []
    assert [r.headers["offset"] for r in fake.seen("POST", "/ig-api-upload/")] == ["0"]
    assert fake.publishes == [] and "uploaded" not in states.last


async def test_resume_after_the_upload_broke_starts_a_new_container_and_publishes_once(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    fake.cut_uploads = [500_000]
    states = States(fake)
    with pytest.raises(TransientError):
        await make().upload(request_for(video), states)
    broken = states.last["container_id"]
    result = await make().resume(states.last, request_for(video), states)
    assert states.last["container_id"] != broken and not result.already_published
    # The whole file again, by the documented request (offset 0), to the new container.
    last = fake.seen("POST", "/ig-api-upload/")[-1]
    assert last.headers["offset"] == "0" and last.path.endswith(states.last["container_id"])
    [reel] = fake.published()
    assert reel.video == video.read_bytes() and result.post_id == reel.id
    assert fake.publishes == [states.last["container_id"]]  # the broken container is never published


async def test_publish_reply_lost_is_recovered_without_publishing_again(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    fake.seed("an older post with another caption", NOW - timedelta(days=3))
    fake.drop_publish_replies = 1
    states = States(fake)
    result = await make().upload(request_for(video), states)
    [reel] = fake.published()
    assert result.post_id == reel.id and states.last["media_id"] == reel.id
    assert len(fake.seen("POST", "/media_publish")) == 1 and fake.publishes == [reel.container_id]


async def test_resume_of_a_published_container_never_publishes_again(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    fake.drop_publish_replies = 1
    states = States(fake, crash_when=lambda s: "media_id" in s)  # the worker dies as it records success
    with pytest.raises(Crash):
        await make().upload(request_for(video), states)
    crashed = {k: v for k, v in states.last.items() if k != "media_id"}  # the checkpoint never landed
    publishes = len(fake.seen("POST", "/media_publish"))
    result = await make().resume(crashed, request_for(video), States(fake))
    [reel] = fake.published()
    assert result.already_published and result.post_id == reel.id and result.url
    assert len(fake.seen("POST", "/media_publish")) == publishes == 1
    # The fake refuses a second publish of the container, as Meta does.
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake.versioned()}/{fake.ig_user_id}/media_publish",
                                data={"creation_id": crashed["container_id"],
                                      "access_token": fake.access_token}) as response:
            assert response.status == 400 and (await response.json())["error"]["code"] == 9007
    assert fake.publishes == [reel.container_id]


async def test_resume_of_a_finished_container_publishes_once(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    states = States(fake, crash_when=lambda s: bool(s.get("uploaded")) and "media_id" not in s)
    with pytest.raises(Crash):
        await make().upload(request_for(video), states)
    container_id = states.last["container_id"]
    # The container finished processing while the worker was down.
    assert (await container_status(fake, container_id)) == "FINISHED"
    result = await make().resume(states.last, request_for(video), states)
    assert fake.publishes == [container_id] and not result.already_published
    assert result.resumed_from == VIDEO_SIZE and states.last["media_id"] == result.post_id
    assert len(fake.seen("POST", "/ig-api-upload/")) == 1  # no byte sent twice


async def test_resume_of_a_processing_container_keeps_polling(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    fake.container_polls = 4
    url = fake.host_file("reel.mp4", video.read_bytes())
    states = States(fake, crash_when=lambda s: "media_id" not in s)
    with pytest.raises(Crash):
        await make().upload(request_for(video, url=url), states)
    assert (await container_status(fake, states.last["container_id"])) == "IN_PROGRESS"
    result = await make().resume(states.last, request_for(video, url=url), States(fake))
    assert len(fake.seen("GET", f"/{states.last['container_id']}")) == 4  # polled on to FINISHED
    assert len(fake.containers) == 1 and fake.publishes == [states.last["container_id"]]
    assert fake.published()[0].id == result.post_id


async def test_resume_of_an_unknown_container_uploads_afresh(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    states = States(fake)
    result = await make().resume({"method": "graph", "container_id": "18000000000404"},
                                 request_for(video), states)
    [reel] = fake.published()
    assert result.post_id == reel.id
    assert states.saved[0]["container_id"] == reel.container_id != "18000000000404"


@pytest.mark.parametrize("outcome", [("EXPIRED", "Expired: not published within 24 hours."),
                                     ("ERROR", "Error: Media upload has failed with error code 2207001")])
async def test_resume_of_a_dead_container_uploads_afresh(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path, outcome: tuple[str, str]) -> None:
    fake.next_outcome = outcome
    states = States(fake)
    with pytest.raises(TransientError):
        await make().upload(request_for(video), states)
    dead = states.last["container_id"]
    result = await make().resume(states.last, request_for(video), states)
    [reel] = fake.published()
    assert reel.container_id != dead and result.post_id == reel.id and fake.publishes == [reel.container_id]


async def test_resume_with_a_media_id_is_already_published(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    item = fake.seed("done before", NOW)
    result = await make().resume({"method": "graph", "container_id": "1", "media_id": item.id},
                                 request_for(video), States(fake))
    assert result.already_published and result.post_id == item.id and result.url
    assert [r for r in fake.requests if r.method == "POST"] == []


@pytest.mark.parametrize(("status", "code"), [
    ("Error: Media upload has failed with error code 2207026", ErrorCode.UNSUPPORTED_CODEC),
    ("Error: Media upload has failed with error code 2207004", ErrorCode.VIDEO_TOO_LARGE),
    ("Error: The video file is not readable.", ErrorCode.VIDEO_CORRUPT),
])
async def test_container_error_is_a_media_error(make: MakeAdapter, fake: FakeInstagramGraph, video: Path,
                                                status: str, code: ErrorCode) -> None:
    fake.next_outcome = ("ERROR", status)
    with pytest.raises(MediaError) as caught:
        await make().upload(request_for(video), States(fake))
    assert caught.value.code is code and status in caught.value.message and fake.publishes == []


async def test_container_still_processing_at_the_poll_timeout(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    fake.container_polls = 10**9
    with pytest.raises(TransientError) as caught:
        await make(poll_timeout=0.05, poll_interval=0.01).upload(request_for(video), States(fake))
    assert "still processing" in caught.value.message and fake.publishes == []


# ---- publishing limit ------------------------------------------------------------------------

async def test_publishing_limit_reached_defers_to_the_oldest_post_leaving_the_window(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    fake.quota_usage, fake.quota_total = 50, 50
    fake.seed("twenty hours ago", NOW - timedelta(hours=20))
    fake.seed("three hours ago", NOW - timedelta(hours=3))
    fake.seed("two days ago", NOW - timedelta(days=2))
    with pytest.raises(QuotaExceeded) as caught:
        await make(clock=lambda: NOW).upload(request_for(video), States(fake))
    assert caught.value.code is ErrorCode.QUOTA_EXCEEDED
    assert caught.value.reset_at == NOW + timedelta(hours=4)
    assert caught.value.to_dict()["details"]["reset_at"] == (NOW + timedelta(hours=4)).isoformat()
    assert fake.containers == {}  # nothing was created


async def test_publishing_limit_with_nothing_listed_defers_a_whole_window(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    fake.quota_usage = fake.quota_total
    with pytest.raises(QuotaExceeded) as caught:
        await make(clock=lambda: NOW).upload(request_for(video), States(fake))
    assert caught.value.reset_at == NOW + timedelta(days=1)


async def test_publish_refused_for_the_limit_is_quota_exceeded(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    fake.seed("an hour ago", NOW - timedelta(hours=1))
    fake.fail_next("/media_publish", 9, 2207042, message="You reached maximum number of posts allowed")
    states = States(fake)
    with pytest.raises(QuotaExceeded) as caught:
        await make(clock=lambda: NOW).upload(request_for(video), states)
    assert caught.value.reset_at == NOW + timedelta(hours=23)
    assert fake.publishes == [] and states.last["container_id"]


# ---- verify ----------------------------------------------------------------------------------

async def test_verify_live_and_missing(make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    item = fake.seed("live", NOW)
    adapter = make()
    live = await adapter.verify(item.id)
    assert live.state is PublishState.LIVE and live.url == f"https://www.instagram.com/reel/{item.shortcode}/"
    assert live.detail == "REELS"
    assert fake.seen("GET", f"/{item.id}")[0].query["fields"] == "id,permalink,media_product_type,timestamp"
    missing = await adapter.verify("17900000000404")
    assert missing.state is PublishState.MISSING and missing.post_id == "17900000000404"


# ---- token refresh ---------------------------------------------------------------------------

async def test_refresh_by_fb_exchange_token(make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    adapter = make(fake.credentials(app_id=fake.app_id, app_secret=fake.app_secret), clock=lambda: NOW)
    expiry = await adapter.refresh_token()
    assert expiry == NOW + timedelta(seconds=fake.expires_in)
    store = adapter.credentials
    assert isinstance(store, MemoryCredentials)
    new = store.credentials["access_token"]
    assert new != fake.access_token and store.credentials["token_expires_at"] == expiry.isoformat()
    query = fake.seen("GET", "/oauth/access_token")[0].query
    assert query == {"grant_type": "fb_exchange_token", "client_id": fake.app_id,
                     "client_secret": fake.app_secret, "fb_exchange_token": fake.access_token}
    await adapter.identify()
    assert fake.seen("GET", f"/{fake.ig_user_id}")[-1].query["access_token"] == new


def host_of(record: Any) -> str:
    return f"http://{record.headers['Host']}"


async def test_refresh_by_ig_refresh_token_on_the_instagram_host(make: MakeAdapter,
                                                                 fake: FakeInstagramGraph) -> None:
    adapter = make(fake.ig_credentials(), clock=lambda: NOW)
    assert await adapter.refresh_token() == NOW + timedelta(seconds=fake.expires_in)
    [sent] = fake.seen("GET", "/refresh_access_token")
    assert sent.query == {"grant_type": "ig_refresh_token", "access_token": fake.ig_access_token}
    assert host_of(sent) == fake.instagram_base and sent.path == "/refresh_access_token"
    store = adapter.credentials
    assert isinstance(store, MemoryCredentials) and store.credentials["access_token"].startswith("IGAA")


async def test_a_facebook_login_token_is_never_sent_to_ig_refresh_token(
        make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    # The old adapter refreshed every token stored without app credentials (every account the bot
    # added) with ig_refresh_token on graph.facebook.com, an endpoint that does not serve it.
    adapter = make(fake.credentials())
    with pytest.raises(AuthError) as caught:
        await adapter.refresh_token()
    assert caught.value.code is ErrorCode.INVALID_CREDENTIALS
    assert "app" in caught.value.message and "Update credentials" in caught.value.message
    assert fake.seen("GET", "refresh_access_token") == [] and fake.seen("GET", "/oauth/") == []


async def test_the_fake_refuses_a_token_on_the_other_login_types_host(fake: FakeInstagramGraph) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base}/refresh_access_token", params={
                "grant_type": "ig_refresh_token", "access_token": fake.access_token}) as response:
            assert response.status >= 400
        async with session.get(f"{fake.instagram_base}/{VERSION}/{fake.ig_user_id}", params={
                "fields": "id", "access_token": fake.access_token}) as response:
            assert response.status == 400 and (await response.json())["error"]["code"] == 190


async def test_instagram_login_account_is_identified_by_me_on_its_host(make: MakeAdapter,
                                                                      fake: FakeInstagramGraph) -> None:
    adapter = make(fake.ig_credentials())
    info = await adapter.identify()
    assert info.external_id == fake.ig_user_id and info.username == fake.username
    assert info.extra == {"login_type": "instagram"}
    assert {host_of(r) for r in fake.requests} == {fake.instagram_base}
    store = adapter.credentials
    assert isinstance(store, MemoryCredentials) and store.credentials["ig_user_id"] == fake.ig_user_id


async def test_instagram_login_publishes_by_video_url_on_its_host(make: MakeAdapter, fake: FakeInstagramGraph,
                                                                  video: Path) -> None:
    url = fake.host_file("reel.mp4", video.read_bytes())
    result = await make(fake.ig_credentials()).upload(request_for(video, url=url), States(fake))
    [reel] = fake.published()
    assert result.post_id == reel.id
    graph_calls = [r for r in fake.requests if not r.path.startswith("/files/")]
    assert {host_of(r) for r in graph_calls} == {fake.instagram_base}


async def test_instagram_login_without_a_public_link_is_a_configuration_error(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    # [resumable] is for Facebook Login apps only: no container is made that could never get bytes.
    with pytest.raises(ForwarderError) as caught:
        await make(fake.ig_credentials()).upload(request_for(video), States(fake))
    assert caught.value.code is ErrorCode.CONFIGURATION and not caught.value.retriable
    assert "PUBLIC_BASE_URL" in caught.value.hint and fake.containers == {}


@pytest.mark.parametrize("kind", ["facebook", "instagram"])
async def test_refresh_of_a_dead_token_requires_reauth(make: MakeAdapter, fake: FakeInstagramGraph,
                                                       kind: str) -> None:
    if kind == "facebook":
        fake.expire_token()
        creds = fake.credentials(app_id=fake.app_id, app_secret=fake.app_secret)
    else:
        fake.expire_token(fake.ig_access_token)
        creds = fake.ig_credentials()
    adapter = make(creds)
    with pytest.raises(AuthError) as caught:
        await adapter.refresh_token()
    assert caught.value.code is ErrorCode.REQUIRES_REAUTH
    store = adapter.credentials
    assert isinstance(store, MemoryCredentials) and store.saves == 0
    assert_no_secret(caught.value, fake.access_token, fake.ig_access_token, fake.app_secret)


async def test_stored_rows_without_a_login_type_are_typed_by_their_token(make: MakeAdapter,
                                                                         fake: FakeInstagramGraph) -> None:
    legacy = {"access_token": fake.ig_access_token, "ig_user_id": fake.ig_user_id}
    await make(legacy).refresh_token()
    assert host_of(fake.seen("GET", "/refresh_access_token")[0]) == fake.instagram_base


# ---- error mapping ---------------------------------------------------------------------------

BUC = '{"1784": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 15}]}'
APP = '{"call_count": 100, "total_time": 20, "estimated_time_to_regain_access": 5}'


@pytest.mark.parametrize(("code", "subcode", "status", "headers", "kind", "expected", "retry_after"), [
    (190, None, 400, None, AuthError, ErrorCode.TOKEN_EXPIRED, None),
    (190, 463, 400, None, AuthError, ErrorCode.TOKEN_EXPIRED, None),
    (190, 460, 400, None, AuthError, ErrorCode.REQUIRES_REAUTH, None),
    (190, 467, 400, None, AuthError, ErrorCode.REQUIRES_REAUTH, None),
    (4, None, 400, None, TransientError, ErrorCode.API_RATE_LIMIT, 600.0),
    (17, None, 400, {"X-Business-Use-Case-Usage": BUC}, TransientError, ErrorCode.API_RATE_LIMIT, 900.0),
    (32, None, 400, {"X-App-Usage": APP}, TransientError, ErrorCode.API_RATE_LIMIT, 300.0),
    (613, None, 400, None, TransientError, ErrorCode.API_RATE_LIMIT, 600.0),
    (80002, None, 400, {"X-Business-Use-Case-Usage": BUC}, TransientError, ErrorCode.API_RATE_LIMIT, 900.0),
    (10, None, 403, None, AuthError, ErrorCode.INVALID_CREDENTIALS, None),
    (200, None, 403, None, AuthError, ErrorCode.INVALID_CREDENTIALS, None),
    (299, None, 403, None, AuthError, ErrorCode.INVALID_CREDENTIALS, None),
    (100, 33, 400, None, NotFound, ErrorCode.NOT_FOUND, None),
    (1, None, 500, None, TransientError, ErrorCode.API_TEMPORARY_ERROR, None),
    (2, None, 503, None, TransientError, ErrorCode.API_TEMPORARY_ERROR, None),
    (368, None, 400, None, AccountSuspended, ErrorCode.ACTION_BLOCKED, None),
    (9, None, 400, None, QuotaExceeded, ErrorCode.QUOTA_EXCEEDED, None),
    (9, 2207042, 400, None, QuotaExceeded, ErrorCode.QUOTA_EXCEEDED, None),
    (352, 2207026, 400, None, MediaError, ErrorCode.UNSUPPORTED_CODEC, None),
    (-2, 2207004, 400, None, MediaError, ErrorCode.VIDEO_TOO_LARGE, None),
    (-2, 2207003, 400, None, TransientError, ErrorCode.NETWORK_TIMEOUT, None),
    (-1, 2207057, 400, None, MediaError, ErrorCode.VIDEO_CORRUPT, None),
    # [ig-errors] 4/2207051: a publish restricted as possible spam, not the throttle code 4
    (4, 2207051, 400, None, AccountSuspended, ErrorCode.ACTION_BLOCKED, None),
    (4, 2207051, 400, {"X-App-Usage": APP}, AccountSuspended, ErrorCode.ACTION_BLOCKED, None),
    # [graph-errors] 100 without a subcode: an invalid parameter, the same request fails again
    (100, None, 400, None, ForwarderError, ErrorCode.REQUEST_REJECTED, None),
    (100, 1234, 400, None, ForwarderError, ErrorCode.REQUEST_REJECTED, None),
    (12345, None, 400, None, ForwarderError, ErrorCode.INTERNAL_ERROR, None),
])
async def test_graph_error_mapping(make: MakeAdapter, fake: FakeInstagramGraph, code: int,
                                   subcode: int | None, status: int, headers: dict[str, str] | None,
                                   kind: type[ForwarderError],
                                   expected: ErrorCode, retry_after: float | None) -> None:
    echoed = f"Injected failure at {fake.api_base}/{fake.ig_user_id}?access_token={fake.access_token}"
    fake.fail_next(f"/{fake.ig_user_id}", code, subcode, http_status=status, headers=headers, message=echoed)
    with pytest.raises(ForwarderError) as caught:
        await make().identify()
    assert_no_secret(caught.value, fake.access_token)
    assert type(caught.value) is kind and caught.value.code is expected
    assert caught.value.retry_after == retry_after
    assert caught.value.details["graph_code"] == code and "Injected failure" in caught.value.message


@pytest.mark.parametrize(("status", "expected"), [(502, ErrorCode.API_TEMPORARY_ERROR),
                                                  (503, ErrorCode.API_TEMPORARY_ERROR),
                                                  (429, ErrorCode.API_RATE_LIMIT)])
async def test_bare_http_errors(make: MakeAdapter, fake: FakeInstagramGraph, status: int,
                                expected: ErrorCode) -> None:
    fake.fail_next_status("/media", status)
    with pytest.raises(TransientError) as caught:
        await make().list_new({})
    assert caught.value.code is expected and str(status) in caught.value.message


async def test_timeout_is_network_timeout(make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    fake.delay_next(f"/{fake.ig_user_id}", 0.4)
    with pytest.raises(TransientError) as caught:
        await make(timeout=0.1).identify()
    assert caught.value.code is ErrorCode.NETWORK_TIMEOUT


async def test_refused_connection_is_transient(make: MakeAdapter) -> None:
    adapter = make(api_base=f"http://127.0.0.1:{free_port()}/{VERSION}")
    with pytest.raises(TransientError) as caught:
        await adapter.identify()
    assert caught.value.code is ErrorCode.API_TEMPORARY_ERROR and "connection failed" in caught.value.message


async def test_upload_host_rejecting_the_token_is_an_auth_error(
        make: MakeAdapter, fake: FakeInstagramGraph, video: Path) -> None:
    states = States(fake)

    async def expire_after_container(state: dict[str, Any]) -> None:
        await states(state)
        fake.expire_token()

    with pytest.raises(AuthError) as caught:
        await make().upload(request_for(video), expire_after_container)
    assert caught.value.code is ErrorCode.TOKEN_EXPIRED and "NotAuthorizedError" in caught.value.message
    assert states.saved[0]["container_id"]


# ---- secrets ---------------------------------------------------------------------------------

def assert_no_secret(error: ForwarderError, *secrets: str) -> None:
    texts = [str(error), repr(error), str(error.to_dict()), error.message, error.hint]
    for secret in secrets:
        assert all(secret not in text for text in texts), f"a secret leaked into {error!r}"


async def test_tokens_never_appear_in_errors(make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    token = fake.access_token
    errors: list[ForwarderError] = []
    fake.tokens.pop(token)  # the fake now echoes it: "Malformed access token EAAG..."
    with pytest.raises(AuthError) as caught:
        await make().identify()
    errors.append(caught.value)
    fake.tokens[token] = "valid"
    fake.fail_next("/media", 100, message=f"Bad request {fake.api_base}/x?access_token={token}&limit=1")
    with pytest.raises(ForwarderError) as caught_url:
        await make().list_new({})
    errors.append(caught_url.value)
    with pytest.raises(TransientError) as caught_down:
        await make(api_base=f"http://127.0.0.1:{free_port()}/{VERSION}").list_new({})
    errors.append(caught_down.value)
    fake.fail_next("/oauth/access_token", 101, message=f"Invalid client_secret {fake.app_secret}")
    with pytest.raises(ForwarderError) as caught_secret:
        await make(fake.credentials(app_id=fake.app_id, app_secret=fake.app_secret)).refresh_token()
    errors.append(caught_secret.value)
    assert "Malformed access token ***" in errors[0].message
    for error in errors:
        assert_no_secret(error, token, fake.app_secret)


# ---- proxies ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proxies() -> Iterator[ProxyServers]:
    servers = ProxyServers(modes=("http_auth", "socks5_auth")).start()
    yield servers
    servers.close()


@pytest.fixture
def local_dns_refused(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """This process resolves only IP literals, so a name reaches the fake only through the proxy."""
    return refuse_local_dns(monkeypatch)


def proxy_spec(proxies: ProxyServers, mode: str, password: str = PASSWORD) -> ProxySpec:
    return ProxySpec(mode.removesuffix("_auth"), "127.0.0.1", proxies.ports[mode], USERNAME, password,
                     alias=f"{mode} proxy")


@pytest.mark.parametrize("mode", ["http_auth", "socks5_auth"])
async def test_traffic_through_a_proxy(mode: str, make: MakeAdapter, fake: FakeInstagramGraph,
                                       proxies: ProxyServers, video: Path, tmp_path: Path,
                                       local_dns_refused: list[str]) -> None:
    fake.seed("through the proxy", NOW, video=b"proxied bytes")
    origin = f"http://{TARGET_HOST}:{fake.port}"
    before = proxies.connections()
    adapter = make(api_base=origin, upload_base=origin,
                   proxy=proxy_spec(proxies, mode))
    assert (await adapter.identify()).external_id == fake.ig_user_id
    post = (await adapter.list_new({}, limit=1)).posts[0]
    assert post.media_url and post.media_url.startswith(origin)
    assert (await adapter.download(post, tmp_path / "dl")).path.read_bytes() == b"proxied bytes"
    result = await adapter.upload(request_for(video), States(fake))
    assert fake.published("Sunset over the pier #reels")[0].id == result.post_id
    assert proxies.connections() > before  # the proxy resolved the fake's name: traffic went through it
    assert local_dns_refused == []
    assert all(r.headers["Host"] == f"{TARGET_HOST}:{fake.port}" for r in fake.requests)


@pytest.mark.parametrize("mode", ["http_auth", "socks5_auth"])
async def test_wrong_proxy_password_is_a_proxy_error(mode: str, make: MakeAdapter, fake: FakeInstagramGraph,
                                                     proxies: ProxyServers) -> None:
    adapter = make(proxy=proxy_spec(proxies, mode, password="wrong-password"))
    with pytest.raises(TransientError) as caught:
        await adapter.identify()
    assert caught.value.code is ErrorCode.PROXY_ERROR and "username/password" in caught.value.message
    assert_no_secret(caught.value, fake.access_token, "wrong-password")
    assert fake.requests == []


# ---- what Meta documents, and the old adapter did not follow ---------------------------------

async def test_a_copyrighted_reel_is_listed_as_skipped_and_never_downloaded(
        make: MakeAdapter, fake: FakeInstagramGraph, tmp_path: Path) -> None:
    # [media]: media_url is omitted for media with copyrighted content (licensed music).
    fake.seed("with licensed music", NOW - timedelta(hours=1), copyrighted=True)
    fake.seed("own sound", NOW - timedelta(hours=2))
    adapter = make()
    listed = await adapter.list_new({})
    by_caption = {post.caption: post for post in listed.posts}
    assert by_caption["own sound"].skip_reason is None
    skipped = by_caption["with licensed music"]
    assert skipped.skip_reason is not None and "copyrighted" in skipped.skip_reason
    before = len(fake.requests)
    with pytest.raises(NotFound) as caught:
        await adapter.download(skipped, tmp_path)
    assert not caught.value.retriable and len(fake.requests) == before


async def test_a_copyrighted_reel_met_at_download_is_not_found_not_retried(
        make: MakeAdapter, fake: FakeInstagramGraph, tmp_path: Path) -> None:
    item = fake.seed("licensed", NOW, copyrighted=True)
    post = RemotePost(id=item.id, caption="licensed", published_at=NOW)  # recorded before the skip rule
    with pytest.raises(NotFound) as caught:
        await make().download(post, tmp_path)
    assert "copyrighted" in caught.value.message and not caught.value.retriable


async def test_calls_hold_back_near_meta_limits_before_meta_throttles(
        make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    # [rate-limits]: usage headers are percentages; at 100 Meta throttles.
    fake.usage_headers = {"X-App-Usage": '{"call_count": 97, "total_time": 12, "total_cputime": 9}'}
    adapter = make()
    await adapter.identify()
    sent = len(fake.requests)
    with pytest.raises(TransientError) as caught:
        await adapter.verify("17900000001")
    assert caught.value.code is ErrorCode.API_RATE_LIMIT and caught.value.retry_after
    assert len(fake.requests) == sent  # held back: nothing was sent


def test_the_pacer_slows_down_from_three_quarters_of_a_limit() -> None:
    from core.platforms.instagram_graph_http import MAX_PACE, Pacer

    now = [1000.0]
    pacer = Pacer(clock=lambda: now[0])
    assert pacer.delay() == 0 and pacer.hold("x") is None
    buc = '{"1784": [{"type": "instagram", "call_count": 85, "total_time": 3, "total_cputime": 2}]}'
    pacer.observe({"X-Business-Use-Case-Usage": buc})
    assert 0 < pacer.delay() < MAX_PACE and pacer.hold("x") is None
    pacer.observe({"X-App-Usage": '{"call_count": 40, "total_time": 5, "total_cputime": 5}'})
    assert pacer.delay() == 0
    pacer.observe({"X-App-Usage": '{"call_count": 99, "total_time": 5, "total_cputime": 5}'})
    assert pacer.hold("x") is not None
    now[0] += 3600  # a reading an hour old says nothing about Meta's rolling window
    assert pacer.hold("x") is None and pacer.delay() == 0


def test_container_status_is_polled_at_metas_cadence_by_default(fake: FakeInstagramGraph) -> None:
    from core.platforms.factory import PlatformFactory
    from core.platforms.quota import QuotaLedger
    from core.settings import Settings

    # "We recommend querying a container's status once per minute" (content publishing guide);
    # the old default was every 5 s for 10 minutes (up to 120 calls a reel).
    adapter = InstagramGraphAdapter(MemoryCredentials({}), api_base=fake.api_base,
                                    instagram_base=fake.instagram_base, upload_base=fake.upload_base,
                                    version=VERSION)
    assert adapter.poll_interval >= 60 and adapter.poll_timeout / adapter.poll_interval <= 30
    assert PlatformFactory(Settings(), QuotaLedger()).graph_poll_interval is None


async def test_the_default_version_is_current_and_any_version_is_served(
        make: MakeAdapter, fake: FakeInstagramGraph) -> None:
    from core.settings import Settings

    assert Settings().graph_api_version == "v26.0"  # v21.0 is served only until 21 January 2027
    await make(version="v21.0").identify()
    await make(version="v26.0").identify()
    assert {r.path.split("/")[1] for r in fake.requests} == {"v21.0", "v26.0"}
