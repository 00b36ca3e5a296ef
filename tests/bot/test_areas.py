"""The connections and jobs areas and the alert buttons, through the real dispatcher and the
fake Bot API, over in-memory platform adapters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from bot.callbacks import (
    AccAction,
    AccCB,
    AnaCB,
    Area,
    ConnAction,
    ConnCB,
    JobAction,
    JobCB,
    MenuCB,
    ProxyAction,
    ProxyCB,
    SetCB,
    WizCB,
)
from bot.middlewares import REFUSAL
from core.bootstrap import Runtime
from core.models import (
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    Job,
    JobStatus,
    Platform,
    Proxy,
)
from core.platforms.factory import PlatformFactory
from core.platforms.quota import QuotaLedger
from core.platforms.telegram import TelegramSender
from core.platforms.youtube_oauth import OAuthService
from core.services.accounts import AccountService
from core.services.alerts import AlertKind, AlertService
from tests.bot.conftest import ADMIN, STRANGER, BotHarness
from tests.core.test_accounts import SECRET
from tests.fakes.google_oauth import FakeGoogleOAuth
from tests.fakes.instagram_private import FakeInstagramPrivate
from tests.fakes.media import make_clip
from tests.fakes.platforms import MemoryPlatforms
from tests.fakes.proxies import PASSWORD, USERNAME, ProxyServers, TargetServer
from tests.fakes.telegram import button_datas, button_texts
from tests.fakes.youtube import FakeYouTube


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("bot") / "reel.mp4")


@pytest.fixture
def memory(runtime: Runtime, clip: Path) -> MemoryPlatforms:
    platforms = MemoryPlatforms(clip)
    for service in (runtime.services.polls, runtime.services.forward, runtime.services.dry_run,
                    runtime.services.jobs):
        service.factory = platforms  # type: ignore[attr-defined]
    return platforms


async def seed(runtime: Runtime, name: str = "ig to yt") -> tuple[Connection, Account, Account]:
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    conn = await runtime.services.connections.create({
        "name": name, "type": "instagram_to_youtube", "source_account_id": src.id,
        "destination_account_id": dst.id, "status": "active"})
    return conn, src, dst


async def reply(h: BotHarness, after: int, method: str = "sendMessage") -> dict[str, Any]:
    call = await h.tg.wait_for(method, lambda c: c.params["chat_id"] == ADMIN, after=after)
    return call.result if method.startswith("send") else call.params


async def press(h: BotHarness, message: dict[str, Any], data: str, method: str = "editMessageText"
                ) -> dict[str, Any]:
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, message["message_id"], data)
    call = await h.tg.wait_for(method, after=mark)
    return call.params if method.startswith("edit") else call.result


async def open_card(h: BotHarness, connection_id: int) -> dict[str, Any]:
    """/connections, then the connection's card in the same message; returns that message."""
    mark = len(h.tg.calls)
    h.tg.send_message(ADMIN, "/connections")
    listing = await reply(h, mark)
    await press(h, listing, ConnCB(action=ConnAction.OPEN, id=connection_id).pack())
    return listing


async def test_connection_list_card_and_lifecycle(harness: BotHarness, runtime: Runtime,
                                                  memory: MemoryPlatforms) -> None:
    conn, _, _ = await seed(runtime)
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/connections")
    listing = await reply(harness, mark)
    assert "🟢 ig to yt — Instagram → YouTube" in listing["text"]
    open_data = ConnCB(action=ConnAction.OPEN, id=conn.id).pack()
    assert open_data in button_datas(listing)
    card = await press(harness, listing, open_data)
    assert "insta → tube" in card["text"] and "Schedule: every 5 min" in card["text"]
    card_msg = {"message_id": card["message_id"]}
    paused = await press(harness, card_msg, ConnCB(action=ConnAction.PAUSE, id=conn.id).pack())
    assert "⏸" in paused["text"] and "paused by the admin" in paused["text"]
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.PAUSED
    resumed = await press(harness, card_msg, ConnCB(action=ConnAction.RESUME, id=conn.id).pack())
    assert resumed["text"].startswith("🟢")
    confirm = await press(harness, card_msg, ConnCB(action=ConnAction.DELETE, id=conn.id).pack())
    assert "Delete <b>ig to yt</b>?" in confirm["text"]
    gone = await press(harness, card_msg, ConnCB(action=ConnAction.DELETE_YES, id=conn.id).pack())
    assert "Deleted <b>ig to yt</b>" in gone["text"] and await Connection.all().count() == 0


async def test_start_is_refused_with_the_reason(harness: BotHarness, runtime: Runtime,
                                                memory: MemoryPlatforms) -> None:
    conn, _, dst = await seed(runtime)
    await runtime.services.connections.stop(conn.id)
    await Account.filter(id=dst.id).update(status=AccountStatus.TOKEN_EXPIRED, status_reason="expired")
    listing = await open_card(harness, conn.id)
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, listing["message_id"], ConnCB(action=ConnAction.START, id=conn.id).pack())
    error = await reply(harness, mark)
    assert error["text"].startswith("❌ Cannot start: Youtube account tube needs attention (expired)")


async def test_run_now_and_dry_run_report_with_previews(harness: BotHarness, runtime: Runtime,
                                                        memory: MemoryPlatforms) -> None:
    conn, src, _ = await seed(runtime)
    memory.world(src).add_post(published_at=datetime.now(UTC) + timedelta(seconds=5), caption="hello #x")
    listing = await open_card(harness, conn.id)
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, listing["message_id"], ConnCB(action=ConnAction.RUN, id=conn.id).pack())
    result = await reply(harness, mark)
    job = await Job.get()
    assert f"job {job.id}" in result["text"] and "1 new post(s) found" in result["text"]
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, listing["message_id"], ConnCB(action=ConnAction.DRY, id=conn.id).pack())
    report = await harness.tg.wait_for("editMessageText", lambda c: "Dry run" in c.params.get("text", "")
                                       and "Nothing was published" in c.params["text"], after=mark)
    assert "Destination credentials: passed" in report.params["text"]
    photo = await harness.tg.wait_for("sendPhoto", after=mark)
    assert photo.files and photo.params["caption"].startswith("before | after")
    assert memory.world(conn.destination_account_id).published == []  # type: ignore[attr-defined]


async def test_jobs_dead_letter_retry_and_logs(harness: BotHarness, runtime: Runtime,
                                               memory: MemoryPlatforms) -> None:
    conn, src, _ = await seed(runtime)
    memory.world(src).add_post(published_at=datetime.now(UTC) + timedelta(seconds=5))
    [job_id] = (await runtime.services.polls.poll(conn.id)).jobs
    await Job.filter(id=job_id).update(status=JobStatus.FAILED, dead_letter=True, error_code="video_corrupt",
                                       error_message="not a video")
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/dlq")
    dlq = await reply(harness, mark)
    assert f"#{job_id}" in dlq["text"] and "video_corrupt" in dlq["text"]
    card = await press(harness, dlq, JobCB(action=JobAction.OPEN, id=job_id).pack())
    assert "Error: video_corrupt — not a video" in card["text"]
    retried = await press(harness, {"message_id": card["message_id"]},
                          JobCB(action=JobAction.RETRY, id=job_id).pack())
    new = await Job.filter(parent_id=job_id).first()
    assert new is not None and f"Job {new.id} created to retry job {job_id}" in retried["text"]
    active = await press(harness, {"message_id": card["message_id"]}, JobCB(action=JobAction.ACTIVE).pack())
    assert f"#{new.id}" in active["text"] and "Active jobs" in active["text"]
    logs = await press(harness, {"message_id": card["message_id"]}, JobCB(action=JobAction.LOGS).pack())
    assert "retry dead-lettered job" in logs["text"]
    errors = await press(harness, {"message_id": card["message_id"]},
                         JobCB(action=JobAction.LOGS, level="error").pack())
    assert "Nothing logged at this level." in errors["text"]
    back = await press(harness, {"message_id": card["message_id"]}, MenuCB(area=Area.MENU).pack())
    assert "Pick an area" in back["text"]


async def test_alert_buttons_mark_solved_and_security_code(harness: BotHarness, runtime: Runtime,
                                                           memory: MemoryPlatforms) -> None:
    conn, src, _ = await seed(runtime)
    await Account.filter(id=src.id).update(status=AccountStatus.CAPTCHA_DETECTED)
    await Connection.filter(id=conn.id).update(status=ConnectionStatus.PAUSED, pause_reason="captcha")
    # The CAPTCHA alert, delivered to the admin's chat through the outbox.
    alerts = AlertService(TelegramSender(harness.tg.base_url, harness.tg.token), chat_id=str(ADMIN))
    await alerts.notify(AlertKind.CAPTCHA_DETECTED, account="insta", account_id=src.id)
    assert (await alerts.deliver()).sent == 1
    alert = harness.tg.last_message(ADMIN)
    assert button_datas(alert) == [f"al:solved:{src.id}", f"al:code:{src.id}"]
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, alert["message_id"], f"al:solved:{src.id}")
    done = await reply(harness, mark)
    assert done["text"].startswith("✅ insta is active again.") and str(conn.id) in done["text"]
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.ACTIVE
    # A challenge that asks for a code: the code message is deleted once read.
    await Account.filter(id=src.id).update(status=AccountStatus.CAPTCHA_DETECTED)
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, alert["message_id"], f"al:code:{src.id}")
    ask = await reply(harness, mark)
    assert "Send the security code" in ask["text"]
    mark = len(harness.tg.calls)
    code = harness.tg.send_message(ADMIN, "123456")
    done = await reply(harness, mark)
    assert done["text"].startswith("✅ insta is active again.")
    deleted = harness.tg.calls_of("deleteMessage")
    assert deleted and deleted[-1].params["message_id"] == code["message"]["message_id"]
    assert memory.world(src).calls["code:123456"] == 1


async def test_analytics_sends_the_figures_and_five_charts(harness: BotHarness, runtime: Runtime,
                                                           memory: MemoryPlatforms) -> None:
    conn, src, _ = await seed(runtime)
    memory.world(src).add_post(published_at=datetime.now(UTC) + timedelta(seconds=5))
    [job_id] = (await runtime.services.polls.poll(conn.id)).jobs
    assert (await runtime.services.forward.run(job_id, "w")).status is JobStatus.SUCCESS
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/analytics")
    summary = await reply(harness, mark)
    assert "Last 30 days" in summary["text"] and "Jobs: 1 · succeeded 1" in summary["text"]
    assert "Success rate: 100.0%" in summary["text"]
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, summary["message_id"], AnaCB(days=7).pack())
    photos = []
    for _ in range(5):
        photos.append(await harness.tg.wait_for("sendPhoto", after=mark))
        mark = harness.tg.calls.index(photos[-1]) + 1
    assert len(photos) == 5 and all(p.files for p in photos)
    assert all(next(iter(p.files.values()))[:8] == b"\x89PNG\r\n\x1a\n" for p in photos)


@pytest.fixture(scope="module")
def http_proxy() -> Iterator[ProxyServers]:
    servers = ProxyServers(modes=("http_auth",)).start()
    yield servers
    servers.close()


async def test_proxies_add_test_and_delete(harness: BotHarness, runtime: Runtime, http_proxy: ProxyServers
                                           ) -> None:
    target = await TargetServer().start()
    try:
        runtime.services.proxies.check_urls = [target.url()]
        mark = len(harness.tg.calls)
        harness.tg.send_message(ADMIN, "/proxies")
        listing = await reply(harness, mark)
        assert "No proxy yet" in listing["text"]
        mark = len(harness.tg.calls)
        harness.tg.press_button(ADMIN, listing["message_id"], ProxyCB(action=ProxyAction.ADD).pack())
        assert "Send the proxy on one line" in (await reply(harness, mark))["text"]
        mark = len(harness.tg.calls)
        bad = harness.tg.send_message(ADMIN, "us1 ftp://h:1")
        assert "type must be one of" in (await reply(harness, mark))["text"]
        mark = len(harness.tg.calls)
        port = http_proxy.ports["http_auth"]
        line = harness.tg.send_message(ADMIN, f"us1 http://{quote(USERNAME)}:{quote(PASSWORD, safe='')}"
                                       f"@127.0.0.1:{port}")
        saved = await reply(harness, mark)
        assert saved["text"].startswith("✅ Saved <b>us1</b>; it answered in")
        deleted = {c.params["message_id"] for c in harness.tg.calls_of("deleteMessage")}
        assert {bad["message"]["message_id"], line["message"]["message_id"]} <= deleted  # secrets gone
        proxy = await Proxy.get(alias="us1")
        assert proxy.password == PASSWORD and proxy.health.value == "healthy"
        card = await press(harness, saved, ProxyCB(action=ProxyAction.DELETE, id=proxy.id).pack())
        assert "Delete proxy <b>us1</b>?" in card["text"]
        gone = await press(harness, saved, ProxyCB(action=ProxyAction.DELETE_YES, id=proxy.id).pack())
        assert "Deleted <b>us1</b>" in gone["text"] and await Proxy.all().count() == 0
    finally:
        await target.close()


@pytest.fixture
async def account_fakes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    """Accounts and OAuth services of the runtime pointed at the fakes."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    ig, google, yt = FakeInstagramPrivate(), FakeGoogleOAuth(), FakeYouTube()
    for fake in (ig, google, yt):
        await fake.start()
    yt.trust(google)
    custom = runtime.settings.model_copy(update={
        "instagram_api_base": ig.base_url, "google_auth_uri": google.auth_uri,
        "google_token_uri": google.token_uri, "youtube_api_base": yt.base_url + "/",
        "youtube_web_base": yt.base_url, "public_base_url": "http://127.0.0.1:9"})
    oauth = OAuthService.from_settings(custom, b"k" * 32)
    runtime.services.oauth = oauth
    runtime.services.accounts = AccountService(PlatformFactory(custom, QuotaLedger()), oauth)
    yield {"ig": ig, "google": google, "yt": yt}
    for fake in (ig, google, yt):
        await fake.stop()


async def test_add_instagram_account_deletes_the_password(harness: BotHarness, runtime: Runtime,
                                                          account_fakes: dict[str, Any]) -> None:
    ig: FakeInstagramPrivate = account_fakes["ig"]
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/accounts")
    listing = await reply(harness, mark)
    chooser = await press(harness, listing, AccCB(action=AccAction.ADD).pack())
    assert "Which kind of account?" in chooser["text"]
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, listing["message_id"], AccCB(action=AccAction.ADD_IG).pack())
    await reply(harness, mark)
    for text in ("insta", ig.username):
        mark = len(harness.tg.calls)
        harness.tg.send_message(ADMIN, text)
        await reply(harness, mark)
    mark = len(harness.tg.calls)
    secret = harness.tg.send_message(ADMIN, ig.password)
    done = await harness.tg.wait_for("sendMessage", lambda c: "Added" in c.params.get("text", ""),
                                     after=mark)
    assert "✅ Added <b>insta</b>" in done.params["text"]
    deleted = {c.params["message_id"] for c in harness.tg.calls_of("deleteMessage")}
    assert secret["message"]["message_id"] in deleted
    account = await Account.get(alias="insta")
    assert account.status is AccountStatus.ACTIVE and account.external_id == str(ig.user_pk)


async def test_add_youtube_with_client_secret_and_pasted_code(harness: BotHarness, runtime: Runtime,
                                                              account_fakes: dict[str, Any]) -> None:
    yt: FakeYouTube = account_fakes["yt"]
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/accounts")
    listing = await reply(harness, mark)
    await press(harness, listing, AccCB(action=AccAction.ADD).pack())
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, listing["message_id"], AccCB(action=AccAction.ADD_YT).pack())
    await reply(harness, mark)
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "tube")
    assert "client_secret.json" in (await reply(harness, mark))["text"]
    mark = len(harness.tg.calls)
    harness.tg.send_document(ADMIN, "client_secret.json", b'{"web": {}}')
    assert "'web.client_id' is missing or empty" in (await reply(harness, mark))["text"]
    mark = len(harness.tg.calls)
    harness.tg.send_document(ADMIN, "client_secret.json", SECRET)
    consent = await reply(harness, mark)
    url = consent["reply_markup"]["inline_keyboard"][0][0]["url"]
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as resp:
        redirected = resp.headers["Location"]  # the page a host without a public URL cannot show
    mark = len(harness.tg.calls)
    pasted = harness.tg.send_message(ADMIN, redirected)
    done = await harness.tg.wait_for("sendMessage", lambda c: "YouTube connected" in c.params.get("text", ""),
                                     after=mark)
    assert "Fake Channel" in done.params["text"] and yt.channel_id in done.params["text"]
    deleted = {c.params["message_id"] for c in harness.tg.calls_of("deleteMessage")}
    assert pasted["message"]["message_id"] in deleted
    account = await Account.get(alias="tube")
    assert account.status is AccountStatus.ACTIVE and account.external_id == yt.channel_id


async def latest(h: BotHarness, after: int, contains: str) -> dict[str, Any]:
    """The message (sent or edited) whose text contains ``contains``, as stored by the fake."""
    for _ in range(250):
        for call in h.tg.calls[after:]:
            if call.method in ("sendMessage", "editMessageText") and contains in call.params.get("text", "") \
                    and call.result is not None:
                sent = call.method == "sendMessage"
                message_id = call.result["message_id"] if sent else call.params["message_id"]
                return h.tg._messages[(ADMIN, message_id)]  # type: ignore[no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no message containing {contains!r}: "
                         + " | ".join(str(c.params.get("text", ""))[:80] for c in h.tg.calls[after:]))


async def test_connection_wizard_end_to_end(harness: BotHarness, runtime: Runtime) -> None:
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    h = harness
    mark = len(h.tg.calls)
    h.tg.send_message(ADMIN, "/connections")
    listing = await reply(h, mark)

    async def tap(message: dict[str, Any], step: str, value: str, expect: str) -> dict[str, Any]:
        mark = len(h.tg.calls)
        h.tg.press_button(ADMIN, message["message_id"], WizCB(step=step, value=value).pack())
        return await latest(h, mark, expect)

    async def say(text: str, expect: str) -> dict[str, Any]:
        mark = len(h.tg.calls)
        h.tg.send_message(ADMIN, text)
        return await latest(h, mark, expect)

    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, listing["message_id"], ConnCB(action=ConnAction.NEW).pack())
    await latest(h, mark, "step 1/7: basic")
    await say("x" * 101, "the name must be 1 to 100 characters")
    step = await say("Travel", "Which direction?")
    back = await tap(step, "back", "type", "Send a name")  # Back goes to the previous step
    step = await say("Travel", "Which direction?")
    step = await tap(step, "type", "instagram_to_youtube", "Choose the source (instagram)")
    step = await tap(step, "source", str(src.id), "Choose the destination (youtube)")
    step = await tap(step, "dest", str(dst.id), "Which proxy")
    step = await tap(step, "proxy", "0", "step 4/7: filters")
    await tap(step, "filters", "keywords", "Send the keywords")
    step = await say("tech, AI", "keywords: tech, AI")
    await tap(step, "filters", "backfill", "date range of old posts")
    await say("2025-13-01", "is not a date; use YYYY-MM-DD")
    step = await say("2025-01-01 2025-02-01", "backfill 2025-01-01")
    step = await tap(step, "filters", "next", "step 5/7: schedule")
    step = await tap(step, "schedule", "15", "every 15 min")
    await tap(step, "schedule", "windows", "Send the daily windows")
    await say("9-12", "'9' is not a time; use HH:MM")
    step = await say("09:00-12:00", "every 15 min within 09:00-12:00")
    step = await tap(step, "schedule", "next", "step 6/7: video")
    step = await tap(step, "transforms", "upscale", "step 6/7: video")
    await asyncio.sleep(0.1)  # the edit carries the new buttons
    assert "✅ Upscale to 1080p" in button_texts(h.tg._messages[(ADMIN, step["message_id"])])
    step = await tap(step, "transforms", "quality", "step 6/7: video")
    await asyncio.sleep(0.1)
    assert "🎚 Quality: maximum_compatibility" in button_texts(h.tg._messages[(ADMIN, step["message_id"])])
    step = await tap(step, "transforms", "next", "step 7/7: review")
    assert "keywords tech, AI" in step["text"] and "upscale on" in step["text"]
    saved = await tap(step, "save", "active", "Saved.")
    assert "🟢 <b>Travel</b>" in saved["text"]
    conn = await Connection.get(name="Travel")
    assert conn.status is ConnectionStatus.ACTIVE and conn.filters["caption_keywords"] == ["tech", "AI"]
    assert conn.schedule["windows"] == [{"start": "09:00", "end": "12:00"}]
    assert conn.transform_options["upscale"] is True
    assert conn.transform_options["quality"] == "maximum_compatibility"
    assert back["text"].startswith("🧭")

    # Editing reuses the steps, filled in; Cancel leaves everything as it was.
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, saved["message_id"], ConnCB(action=ConnAction.EDIT, id=conn.id).pack())
    step = await latest(h, mark, "Editing <b>Travel</b>")
    cancelled = await tap(step, "cancel", "", "Wizard cancelled")
    assert "Nothing was saved" in cancelled["text"] and (await Connection.get(id=conn.id)).name == "Travel"


async def test_settings_change_values_and_alert_kinds(harness: BotHarness, runtime: Runtime) -> None:
    h = harness
    mark = len(h.tg.calls)
    h.tg.send_message(ADMIN, "/settings")
    overview = await reply(h, mark)
    assert "Instance: <b>Forwarder</b>" in overview["text"] and "100 uploads a day" in overview["text"]
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, overview["message_id"], SetCB(section="edit", value="uploads").pack())
    await reply(h, mark)
    mark = len(h.tg.calls)
    h.tg.send_message(ADMIN, "lots")
    assert "is not a whole number" in (await reply(h, mark))["text"]
    mark = len(h.tg.calls)
    h.tg.send_message(ADMIN, "250")
    saved = await reply(h, mark)
    assert "✅ Saved." in saved["text"] and "250 uploads a day" in saved["text"]
    assert runtime.services.platforms.youtube_daily_uploads == 250
    kinds = await press(h, saved, SetCB(section="kinds").pack())
    assert "⬜ job retry" in str(kinds["reply_markup"])
    toggled = await press(h, saved, SetCB(section="toggle", value="job_retry").pack())
    assert "✅ job retry" in str(toggled["reply_markup"])
    assert AlertKind.JOB_RETRY in (await runtime.services.alerts.config()).enabled


async def test_an_opened_running_job_follows_its_progress(harness: BotHarness, runtime: Runtime,
                                                          memory: MemoryPlatforms,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.handlers import jobs as job_handlers

    monkeypatch.setattr(job_handlers, "LIVE_EVERY", 0.1)
    conn, src, _ = await seed(runtime)
    memory.world(src).add_post(published_at=datetime.now(UTC) + timedelta(seconds=5))
    [job_id] = (await runtime.services.polls.poll(conn.id)).jobs
    await Job.filter(id=job_id).update(status=JobStatus.RUNNING, progress_percent=30)
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/jobs")
    listing = await reply(harness, mark)
    card = await press(harness, listing, JobCB(action=JobAction.OPEN, id=job_id).pack())
    assert "30%" in card["text"]
    mark = len(harness.tg.calls)
    await Job.filter(id=job_id).update(progress_percent=70, step="upload")
    live = await harness.tg.wait_for("editMessageText", lambda c: "70%" in c.params["text"], after=mark)
    assert live.params["message_id"] == card["message_id"] and "Step: upload" in live.params["text"]
    mark = len(harness.tg.calls)
    await Job.filter(id=job_id).update(status=JobStatus.SUCCESS, progress_percent=100, step="done")
    final = await harness.tg.wait_for("editMessageText", lambda c: "— success" in c.params["text"],
                                      after=mark)
    assert final.params["message_id"] == card["message_id"]
    for _ in range(50):
        if not job_handlers._live:
            break
        await asyncio.sleep(0.05)
    assert job_handlers._live == {}  # the follower stopped with the job


async def test_pressing_the_same_button_twice_is_quiet_and_stale_buttons_say_why(
        harness: BotHarness, runtime: Runtime) -> None:
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/jobs")
    listing = await reply(harness, mark)
    for _ in range(2):
        await press(harness, listing, JobCB(action=JobAction.ACTIVE).pack(), method="answerCallbackQuery")
    await asyncio.sleep(0.2)
    assert not [c for c in harness.tg.calls[mark:] if c.method == "sendMessage" and "❌" in c.params["text"]]
    # A button of a connection deleted meanwhile (e.g. from the Mini App) explains itself.
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, listing["message_id"], ConnCB(action=ConnAction.OPEN, id=999).pack(),
                            strict=False)
    stale = await reply(harness, mark)
    assert stale["text"].startswith("❌ Connection 999 does not exist")


WIZARD_PATH = [("name", None), ("type", "instagram_to_youtube"), ("source", "SRC"), ("dest", "DST"),
               ("proxy", "0"), ("filters", "next"), ("schedule", "next"), ("transforms", "next")]


@pytest.mark.parametrize("stop_at", range(len(WIZARD_PATH) + 1))
async def test_wizard_cancel_and_wrong_input_at_every_step(harness: BotHarness, runtime: Runtime,
                                                           stop_at: int) -> None:
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    h = harness
    mark = len(h.tg.calls)
    h.tg.send_message(ADMIN, "/connections")
    listing = await reply(h, mark)
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, listing["message_id"], ConnCB(action=ConnAction.NEW).pack())
    step = await latest(h, mark, "step 1/7")
    for name, value in WIZARD_PATH[:stop_at]:
        mark = len(h.tg.calls)
        if value is None:
            h.tg.send_message(ADMIN, "n" * 101)  # a name too long is a wrong input...
            await latest(h, mark, "the name must be 1 to 100 characters")
            mark = len(h.tg.calls)
            h.tg.send_message(ADMIN, "Wizard test")  # ...asked again, then a right one
            step = await latest(h, mark, "Which direction?")
            continue
        # A typed message where a button is expected is answered, and changes nothing.
        h.tg.send_message(ADMIN, "something typed")
        await latest(h, mark, "Choose with the buttons above")
        mark = len(h.tg.calls)
        real = {"SRC": str(src.id), "DST": str(dst.id)}.get(value, value)
        h.tg.press_button(ADMIN, step["message_id"], WizCB(step=name, value=real).pack())
        step = await latest(h, mark, "🧭")
    mark = len(h.tg.calls)
    h.tg.press_button(ADMIN, step["message_id"], WizCB(step="cancel").pack())
    await latest(h, mark, "Wizard cancelled. Nothing was saved.")
    assert await Connection.all().count() == 0


CALLBACKS = [MenuCB(area=Area.CONNECTIONS).pack(), ConnCB(action=ConnAction.DELETE_YES, id=1).pack(),
             JobCB(action=JobAction.RETRY, id=1).pack(), ProxyCB(action=ProxyAction.DELETE_YES, id=1).pack(),
             AccCB(action=AccAction.DELETE_YES, id=1).pack(),
             SetCB(section="toggle", value="job_failed").pack(),
             WizCB(step="save", value="active").pack(), AnaCB(days=7).pack(), "al:retry:1", "al:solved:1",
             "al:code:1"]


@pytest.mark.parametrize("data", CALLBACKS)
async def test_a_stranger_pressing_any_button_changes_nothing(harness: BotHarness, runtime: Runtime,
                                                              data: str) -> None:
    conn, src, _ = await seed(runtime)
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/menu")
    menu_msg = await reply(harness, mark)
    mark = len(harness.tg.calls)
    harness.tg.press_button(STRANGER, menu_msg["message_id"], data, chat_id=ADMIN, strict=False)
    answer = await harness.tg.wait_for("answerCallbackQuery", after=mark)
    assert answer.params.get("text") == REFUSAL
    assert not [c for c in harness.tg.calls[mark:] if c.method in ("editMessageText", "sendPhoto")]
    assert await Connection.filter(id=conn.id).exists() and await Account.filter(id=src.id).exists()


async def test_history_filters_by_connection_status_and_period(harness: BotHarness, runtime: Runtime,
                                                               memory: MemoryPlatforms) -> None:
    conn, src, _ = await seed(runtime)
    for i in range(3):
        memory.world(src).add_post(published_at=datetime.now(UTC) + timedelta(seconds=5 + i))
    ids = (await runtime.services.polls.poll(conn.id)).jobs
    await Job.filter(id=ids[0]).update(status=JobStatus.SUCCESS)
    await Job.filter(id=ids[1]).update(status=JobStatus.FAILED, error_code="video_corrupt")
    await Job.filter(id=ids[2]).update(status=JobStatus.FAILED, error_code="video_corrupt")
    await Job.filter(id=ids[2]).update(created_at=datetime.now(UTC) - timedelta(days=10))
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/connections")
    listing = await reply(harness, mark)
    card = await press(harness, listing, ConnCB(action=ConnAction.OPEN, id=conn.id).pack())
    history = await press(harness, card, JobCB(action=JobAction.HISTORY, id=conn.id).pack())
    assert "Job history of ig to yt — all, any time</b> (3)" in history["text"]
    failed = await press(harness, card, JobCB(action=JobAction.HISTORY, id=conn.id, level="failed.").pack())
    assert "— failed, any time</b> (2)" in failed["text"]
    recent = await press(harness, card, JobCB(action=JobAction.HISTORY, id=conn.id, level="failed.7").pack())
    assert "— failed, last 7 d</b> (1)" in recent["text"] and f"#{ids[1]}" in recent["text"]


async def test_proxy_policy_and_proxy_edit(harness: BotHarness, runtime: Runtime) -> None:
    from bot.callbacks import PolicyCB

    conn, _, _ = await seed(runtime)
    a = await runtime.services.proxies.create("a", "http", "127.0.0.1", 1080)
    b = await runtime.services.proxies.create("b", "socks5", "127.0.0.1", 1081)
    listing = await open_card(harness, conn.id)
    view = await press(harness, listing, ConnCB(action=ConnAction.POLICY, id=conn.id).pack())
    assert "Mode: 📌 Sticky" in view["text"] and "Pool: empty" in view["text"]
    for what, value in (("mode", "round_robin"), ("pool", str(a.id)), ("pool", str(b.id)), ("fallback", "")):
        view = await press(harness, listing, PolicyCB(id=conn.id, what=what, value=value).pack())
    assert "Mode: 🔁 Round robin" in view["text"] and "Pool: a, b" in view["text"]
    assert "direct connection when no proxy is healthy: yes" in view["text"]
    policy = (await Connection.get(id=conn.id)).proxy_policy
    assert policy["mode"] == "round_robin" and policy["pool"] == [a.id, b.id] and policy["fallback_to_direct"]
    # Edit a proxy with a new line; the old health no longer applies.
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/proxies")
    plist = await reply(harness, mark)
    await press(harness, plist, ProxyCB(action=ProxyAction.OPEN, id=a.id).pack())
    mark = len(harness.tg.calls)
    harness.tg.press_button(ADMIN, plist["message_id"], ProxyCB(action=ProxyAction.EDIT, id=a.id).pack())
    assert "new values" in (await reply(harness, mark))["text"]
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "a2 socks5://u:p@127.0.0.1:1099")
    await harness.tg.wait_for("sendMessage", lambda c: "Saved <b>a2</b>" in c.params.get("text", ""),
                              after=mark, timeout=15)
    edited = await Proxy.get(id=a.id)
    assert (edited.alias, edited.type.value, edited.port, edited.username) == ("a2", "socks5", 1099, "u")


async def test_add_a_proxy_step_by_step(harness: BotHarness, runtime: Runtime) -> None:
    mark = len(harness.tg.calls)
    harness.tg.send_message(ADMIN, "/proxies")
    plist = await reply(harness, mark)
    kinds = await press(harness, plist, ProxyCB(action=ProxyAction.STEPS).pack())
    assert "Which kind of proxy?" in kinds["text"]
    mark = len(harness.tg.calls)
    socks = ProxyCB(action=ProxyAction.KIND, kind="socks5").pack()
    harness.tg.press_button(ADMIN, plist["message_id"], socks)
    await reply(harness, mark)
    for text, expect in (("bad host!", "is not a hostname or an IP address"), ("127.0.0.1", "The port"),
                         ("99999", "1-65535"), ("1080", "The username"), ("bob", "The password"),
                         ("s3cret", "A name"),
                         ("home", "Saved <b>home</b>")):
        mark = len(harness.tg.calls)
        sent = harness.tg.send_message(ADMIN, text)
        got = await latest(harness, mark, expect)
        assert expect in got["text"]
        if text == "s3cret":
            password_id = sent["message"]["message_id"]
    proxy = await Proxy.get(alias="home")
    assert (proxy.type.value, proxy.port, proxy.username, proxy.password) == ("socks5", 1080, "bob", "s3cret")
    assert password_id in {c.params["message_id"] for c in harness.tg.calls_of("deleteMessage")}
