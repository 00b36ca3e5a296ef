"""Whole forwards across the wire-level fakes with the real client libraries, on a real ARQ
worker: Instagram (private API) -> YouTube and YouTube -> Instagram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from core import crypto
from core.bootstrap import Runtime, build_services
from core.models import Account, AuthMethod, Job, JobStatus, Platform, SourcePost
from core.settings import Settings
from jobs.queue import ArqQueue
from jobs.worker import build_worker
from tests.fakes.instagram_private import FakeInstagramPrivate, FakeReel
from tests.fakes.media import make_clip
from tests.fakes.youtube import FakeYouTube

TOKEN = "ya29.fake-access"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_clip(tmp_path_factory.mktemp("e2e") / "reel.mp4", size="540x960").read_bytes()


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeYouTube, FakeInstagramPrivate]]:
    yt, ig = FakeYouTube(), FakeInstagramPrivate()
    await yt.start()
    await ig.start()
    yield yt, ig
    await yt.stop()
    await ig.stop()


@pytest.fixture
async def wired(db: str, redis: Redis, settings: Settings, keyring: crypto.KeyRing,
                fakes: tuple[FakeYouTube, FakeInstagramPrivate]) -> AsyncIterator[Runtime]:
    yt, ig = fakes
    custom = settings.model_copy(update={
        "youtube_api_base": yt.base_url + "/", "youtube_web_base": yt.base_url,
        "instagram_api_base": ig.base_url})
    runtime = Runtime(custom, keyring, custom.redis_url or "", redis,
                      build_services(custom, keyring, redis, ArqQueue(redis)))
    runtime.services.platforms.instagram_configure_wait = 0  # the fake transcodes at once
    yield runtime


async def accounts(yt: FakeYouTube, ig: FakeInstagramPrivate, *, token_hours: float = 1,
                   project: str = "p") -> tuple[Account, Account]:
    """An Instagram (private API) and a YouTube account the fakes accept."""
    insta = await Account.create(platform=Platform.INSTAGRAM, alias="insta", username=ig.username,
                                 auth_method=AuthMethod.PRIVATE_API,
                                 credentials={"username": ig.username, "password": ig.password})
    tube = await Account.create(
        platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH, external_id=yt.channel_id,
        credentials={"access_token": TOKEN, "refresh_token": None,
                     "expiry": (datetime.now(UTC) + timedelta(hours=token_hours)).isoformat(),
                     "client_secret": {"installed": {"client_id": "c", "client_secret": "s",
                                                     "project_id": project}}})
    return insta, tube


async def drain(runtime: Runtime) -> Any:
    worker = build_worker(runtime, burst=True, poll_delay=0)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return worker


async def test_instagram_to_youtube(wired: Runtime, fakes: tuple[FakeYouTube, FakeInstagramPrivate],
                                    clip: bytes) -> None:
    yt, ig = fakes
    insta, tube = await accounts(yt, ig)
    now = int(datetime.now(UTC).timestamp())
    ig.reels.append(FakeReel(pk=900, caption="old one", taken_at=now - 86400, video=clip))
    await wired.services.connections.create({
        "name": "ig2yt", "type": "instagram_to_youtube", "source_account_id": insta.id,
        "destination_account_id": tube.id, "status": "active",
        "transform_options": {"upscale": True}})
    ig.reels.append(FakeReel(pk=901, caption="Sunset over the bay #travel", taken_at=now + 5, video=clip))
    await drain(wired)
    [job] = await Job.all()
    assert job.status is JobStatus.SUCCESS, (job.error_code, job.error_message)
    [video] = yt.uploaded()
    assert video.title == "Sunset over the bay #Shorts" and "travel" in video.tags
    assert job.destination_post_id == video.id and "upscale" in job.checkpoint["transform"]["changes"]
    assert len(video.content) == job.bytes_out
    old = await SourcePost.get(source_post_id="900")
    assert old.reason and "before the connection started" in old.reason
    await drain(wired)  # nothing new: still exactly one video
    assert len(yt.uploaded()) == 1


async def test_youtube_to_instagram(wired: Runtime, fakes: tuple[FakeYouTube, FakeInstagramPrivate],
                                    clip: bytes) -> None:
    yt, ig = fakes
    insta, tube = await accounts(yt, ig)
    await wired.services.connections.create({
        "name": "yt2ig", "type": "youtube_to_instagram", "source_account_id": tube.id,
        "destination_account_id": insta.id, "status": "active",
        "metadata_templates": {"caption": "{title}\n\n{caption}", "add_hashtags": "#reels"}})
    yt.add_video(title="My short", description="A description", content=clip,
                 published_at=datetime.now(UTC) + timedelta(seconds=5))
    await drain(wired)
    [job] = await Job.all()
    assert job.status is JobStatus.SUCCESS, (job.error_code, job.error_message)
    [upload] = ig.uploads
    assert upload["caption"] == "My short\n\nA description\n\n#reels"
    assert yt.units == 0  # detection through the feed: no quota spent


async def test_youtube_to_instagram_graph(db: str, redis: Redis, settings: Settings,
                                          keyring: crypto.KeyRing,
                                          fakes: tuple[FakeYouTube, FakeInstagramPrivate],
                                          clip: bytes) -> None:
    from tests.fakes.instagram_graph import FakeInstagramGraph

    yt, _ = fakes
    graph = FakeInstagramGraph()
    await graph.start()
    try:
        custom = settings.model_copy(update={
            "youtube_api_base": yt.base_url + "/", "youtube_web_base": yt.base_url,
            "graph_api_base": graph.api_base, "graph_upload_base": graph.upload_base,
            "instagram_graph_api_base": graph.instagram_base})
        runtime = Runtime(custom, keyring, custom.redis_url or "", redis,
                          build_services(custom, keyring, redis, ArqQueue(redis)))
        runtime.services.platforms.graph_poll_interval = 0
        _, tube = await accounts(yt, FakeInstagramPrivate())
        business = await Account.create(platform=Platform.INSTAGRAM, alias="biz",
                                        auth_method=AuthMethod.GRAPH_API, credentials=graph.credentials())
        await runtime.services.connections.create({
            "name": "yt2graph", "type": "youtube_to_instagram", "source_account_id": tube.id,
            "destination_account_id": business.id, "status": "active"})
        yt.add_video(title="Graph short", description="caption for graph #g", content=clip,
                     published_at=datetime.now(UTC) + timedelta(seconds=5))
        await drain(runtime)
        [job] = await Job.all()
        assert job.status is JobStatus.SUCCESS, (job.error_code, job.error_message)
        [media] = graph.published()
        assert media.caption == "caption for graph #g" and len(graph.publishes) == 1
        assert job.destination_post_id == media.id
    finally:
        await graph.stop()
