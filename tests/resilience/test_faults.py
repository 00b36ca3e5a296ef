"""The fakes' random faults (tests/fakes/faults.py), and what they found in the YouTube upload."""

from __future__ import annotations

import asyncio
import http.client
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.platforms.base import MemoryCredentials, UploadRequest
from core.platforms.youtube_client import YouTubeClient
from core.platforms.youtube_upload import YouTubeDestination
from tests.fakes.faults import LOST, TIMEOUT, RandomFaults
from tests.fakes.instagram_graph import FakeInstagramGraph
from tests.fakes.instagram_private import FakeInstagramPrivate, FakeReel
from tests.fakes.media import make_clip
from tests.fakes.youtube import FakeYouTube

TOKEN = "ya29.fake-access"


async def outcomes(url: str, times: int, headers: dict[str, str] | None = None) -> list[str]:
    """What each of ``times`` GETs got: ``ok``, ``status:body`` for a 5xx, or ``dropped`` (no answer).

    http.client, not aiohttp: aiohttp silently repeats a GET whose connection dropped.
    """
    def get() -> str:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10):
                return "ok"
        except urllib.error.HTTPError as exc:
            return f"{exc.code}:{exc.read()[:40]!r}"
        except http.client.RemoteDisconnected:
            return "dropped"

    return [await asyncio.to_thread(get) for _ in range(times)]


@pytest.fixture
async def youtube() -> AsyncIterator[FakeYouTube]:
    fake = FakeYouTube()
    await fake.start()
    yield fake
    await fake.stop()


async def test_off_by_default_and_only_on_the_chosen_paths(youtube: FakeYouTube) -> None:
    feed, api = youtube.rss_url(), f"{youtube.base_url}/youtube/v3/videos?id=x&part=status"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert youtube.faults is None and await outcomes(api, 20, auth) == ["ok"] * 20
    youtube.faults = RandomFaults(rate=0.5, seed=3, paths=("/youtube/v3/",))
    assert await outcomes(feed, 20) == ["ok"] * 20  # not a chosen path
    got = await outcomes(api, 40, auth)
    faults = youtube.faults
    assert faults.eligible == 40 and sum(faults.injected.values()) == 40 - got.count("ok") > 0
    assert got.count("dropped") == faults.injected[TIMEOUT] + faults.injected[LOST] > 0
    assert any(o.startswith("50") and '{"error"' in o for o in got)


async def test_the_same_seed_fails_the_same_requests(youtube: FakeYouTube) -> None:
    api, auth = f"{youtube.base_url}/youtube/v3/videos?id=x&part=status", {"Authorization": f"Bearer {TOKEN}"}
    runs = []
    for _ in range(2):
        youtube.faults = RandomFaults(rate=0.3, seed=11)
        runs.append([o.split(":")[0] for o in await outcomes(api, 30, auth)])
    assert runs[0] == runs[1] and set(runs[0]) - {"ok"}


async def test_a_timeout_after_handling_did_the_work(youtube: FakeYouTube) -> None:
    youtube.faults = RandomFaults(forced=[LOST])
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await http.post(f"{youtube.base_url}/upload/youtube/v3/videos?uploadType=resumable",
                            headers={"Authorization": f"Bearer {TOKEN}", "X-Upload-Content-Length": "10"},
                            json={"snippet": {"title": "t"}})
    assert len(youtube.sessions) == 1  # the session exists; only the answer was lost


async def test_instagram_fakes_fail_in_their_own_shapes() -> None:
    private, graph = FakeInstagramPrivate(), FakeInstagramGraph()
    await private.start()
    await graph.start()
    try:
        private.reels.append(FakeReel(pk=1, caption="c", taken_at=0))
        private.faults = RandomFaults(forced=["5xx", TIMEOUT, None], paths=("/cdn/",))
        got = await outcomes(f"{private.base_url}/cdn/v/1.mp4?oe=1", 3)
        assert got[0].startswith("50") and "<html>" in got[0] and got[1:] == ["dropped", "ok"]
        url = graph.host_file("a.mp4", b"video")
        graph.faults = RandomFaults(forced=["5xx", LOST, None], paths=("/files/",))
        got = await outcomes(url, 3)
        assert got[0].startswith("50") and '"error"' in got[0] and got[1:] == ["dropped", "ok"]
    finally:
        await private.stop()
        await graph.stop()


@pytest.mark.parametrize("kind", [TIMEOUT, LOST])
async def test_a_dropped_upload_chunk_is_sent_again_with_its_bytes(youtube: FakeYouTube, tmp_path: Path,
                                                                   kind: str) -> None:
    # httplib2 sends a request again by itself when the connection dropped without an answer. The
    # chunk went as a slice of the open file, already read to its end the second time: a PUT with
    # a Content-Length and no body, which hung until the socket timeout (60 s in production).
    video = make_clip(tmp_path / "clip.mp4", seconds=1, fps=10, audio=False)
    youtube.faults = RandomFaults(forced=[None, kind], paths=("/upload/",))  # the session, then the chunk
    store = MemoryCredentials({"access_token": TOKEN, "refresh_token": None,
                               "expiry": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                               "client_secret": {"installed": {"client_id": "c", "client_secret": "s"}}})
    client = YouTubeClient(store, api_base=youtube.base_url + "/", timeout=5, num_retries=0)
    states: list[dict[str, Any]] = []

    async def save(state: dict[str, Any]) -> None:
        states.append(state)

    try:
        result = await YouTubeDestination(client, web_base=youtube.base_url).upload(
            UploadRequest(video_path=video, title="once"), save)
    finally:
        client.close()
    [uploaded] = youtube.uploaded()
    assert result.post_id == uploaded.id and uploaded.content == video.read_bytes()
    assert youtube.faults.injected[kind] == 1 and len(states) == 1
