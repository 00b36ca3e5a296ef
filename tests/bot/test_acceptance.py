"""Issue 6's acceptance, as a new user: from an empty database, only the chat and the wire fakes:
add an Instagram and a YouTube account, create a connection with the wizard, run it, see the
forwarded post's link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.callbacks import AccAction, AccCB, ConnAction, ConnCB, JobAction, JobCB, WizCB
from core.bootstrap import Runtime
from core.models import Account, AccountStatus, Connection, Job, JobStatus
from jobs.worker import build_worker
from tests.bot.conftest import ADMIN, BotHarness
from tests.bot.test_areas import latest, press
from tests.core.test_accounts import SECRET
from tests.fakes.google_oauth import FakeGoogleOAuth
from tests.fakes.instagram_private import FakeInstagramPrivate, FakeReel
from tests.fakes.media import make_clip
from tests.fakes.wiring import wire
from tests.fakes.youtube import FakeYouTube


@pytest.fixture
async def world(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                ) -> AsyncIterator[dict[str, Any]]:
    """Every service of the runtime pointed at the wire fakes."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    ig, google, yt = FakeInstagramPrivate(), FakeGoogleOAuth(), FakeYouTube()
    for fake in (ig, google, yt):
        await fake.start()
    yt.trust(google)
    wire(runtime, ig=ig, google=google, yt=yt)
    runtime.services.platforms.instagram_configure_wait = 0
    clip = make_clip(tmp_path / "reel.mp4").read_bytes()
    yield {"ig": ig, "google": google, "yt": yt, "clip": clip}
    for fake in (ig, google, yt):
        await fake.stop()


async def say(h: BotHarness, text: str, expect: str) -> dict[str, Any]:
    mark = len(h.tg.calls)
    h.tg.send_message(ADMIN, text)
    return await latest(h, mark, expect)


async def tap(h: BotHarness, message: dict[str, Any], data: str, expect: str) -> dict[str, Any]:
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, message["message_id"], data)
    return await latest(h, mark, expect)


async def test_a_new_user_forwards_a_reel_from_the_chat(harness: BotHarness, runtime: Runtime,
                                                        world: dict[str, Any]) -> None:
    h, ig, yt = harness, world["ig"], world["yt"]
    # 1. An Instagram account.
    listing = await say(h, "/accounts", "No account yet")
    await tap(h, listing, AccCB(action=AccAction.ADD).pack(), "Which kind of account?")
    await tap(h, listing, AccCB(action=AccAction.ADD_IG).pack(), "A short name")
    await say(h, "travel reels", "The Instagram username")
    await say(h, ig.username, "The password")
    await say(h, ig.password, "✅ Added <b>travel reels</b>")
    # 2. A YouTube account: client_secret.json, consent, the redirected address pasted back.
    listing = await say(h, "/accounts", "Accounts")
    await tap(h, listing, AccCB(action=AccAction.ADD).pack(), "Which kind of account?")
    await tap(h, listing, AccCB(action=AccAction.ADD_YT).pack(), "A short name")
    await say(h, "tech shorts", "client_secret.json")
    mark = len(h.tg.calls)
    h.tg.send_document(ADMIN, "client_secret.json", SECRET)
    consent = await latest(h, mark, "Authorize YouTube")
    url = consent["reply_markup"]["inline_keyboard"][0][0]["url"]
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as resp:
        redirected = resp.headers["Location"]
    await say(h, redirected, "YouTube connected")
    assert {a.status for a in await Account.all()} == {AccountStatus.ACTIVE}
    insta, tube = await Account.get(alias="travel reels"), await Account.get(alias="tech shorts")
    # 3. A connection through the wizard.
    listing = await say(h, "/connections", "No connection yet")
    step = await tap(h, listing, ConnCB(action=ConnAction.NEW).pack(), "step 1/7")
    step = await say(h, "Travel to Tech", "Which direction?")
    step = await tap(h, step, WizCB(step="type", value="instagram_to_youtube").pack(), "Choose the source")
    step = await tap(h, step, WizCB(step="source", value=str(insta.id)).pack(), "Choose the destination")
    step = await tap(h, step, WizCB(step="dest", value=str(tube.id)).pack(), "Which proxy")
    step = await tap(h, step, WizCB(step="proxy", value="0").pack(), "step 4/7")
    step = await tap(h, step, WizCB(step="filters", value="next").pack(), "step 5/7")
    step = await tap(h, step, WizCB(step="schedule", value="next").pack(), "step 6/7")
    step = await tap(h, step, WizCB(step="transforms", value="next").pack(), "step 7/7")
    card = await tap(h, step, WizCB(step="save", value="active").pack(), "Saved.")
    connection = await Connection.get(name="Travel to Tech")
    # 4. A new Reel, then Run now.
    ig.reels.append(FakeReel(pk=4242, caption="Sunset over Bali #travel", video=world["clip"],
                             taken_at=int(datetime.now(UTC).timestamp()) + 5))
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, card["message_id"], ConnCB(action=ConnAction.RUN, id=connection.id).pack())
    run = await latest(h, mark, "new post(s) found")
    job = await Job.get()
    assert f"job {job.id}" in run["text"]
    # 5. A worker forwards it; the job card shows the published link.
    worker = build_worker(runtime, burst=True, poll_delay=0)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    job = await Job.get(id=job.id)
    assert job.status is JobStatus.SUCCESS, (job.error_code, job.error_message)
    [video] = yt.uploaded()
    jobs_view = await say(h, "/jobs", "Active jobs")
    history = await tap(h, jobs_view, JobCB(action=JobAction.HISTORY).pack(), "Job history")
    opened = await press(h, history, JobCB(action=JobAction.OPEN, id=job.id).pack())
    assert f"Published: {yt.base_url}/shorts/{video.id}" in opened["text"]
    assert video.title == "Sunset over Bali #Shorts"
