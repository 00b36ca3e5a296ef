"""The alert outbox over the fake Bot API: formatting, limits, 429, restarts, floods, and the
alerts the pipeline raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import AuthError, ChallengeRequired, ErrorCode, ForwarderError, TransientError
from core.models import DeliveryStatus, Notification
from core.platforms.telegram import TelegramSender
from core.services.alerts import AlertKind, AlertService
from tests.core.pipeline.test_forward import T0, World, make_world
from tests.fakes.clock import Clock
from tests.fakes.media import make_clip
from tests.fakes.telegram import FakeTelegram

CHANNEL = "-1001234567890"
START = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def service(tg: FakeTelegram, clock: Clock, **kwargs: object) -> AlertService:
    sender = TelegramSender(tg.base_url, tg.token)
    options: dict[str, object] = {"chat_id": CHANNEL, "timezone": "Asia/Kolkata", "clock": clock,
                                  "public_base_url": "https://forwarder.example"}
    options.update(kwargs)
    return AlertService(sender, **options)  # type: ignore[arg-type]


def sends(tg: FakeTelegram) -> list[dict[str, object]]:
    return [c.params for c in tg.calls_of("sendMessage") if c.error_code is None]


async def test_job_failed_message_and_buttons(db: str, tg: FakeTelegram) -> None:
    alerts = service(tg, Clock(START))
    await alerts.configure(instance="SnapcoreForwarder")
    await alerts.notify(AlertKind.JOB_FAILED, connection='Insta→YouTube - "Travel"', job_id=1586,
                        error="quota_exceeded: YouTube quota used up", attempts="3/3 (exhausted)",
                        status="MOVED TO DEAD-LETTER QUEUE", action="Wait for the reset")
    report = await alerts.deliver()
    assert report.sent == 1
    [params] = sends(tg)
    text = str(params["text"])
    assert text.startswith("⚠️ <b>[SnapcoreForwarder] ALERT: JOB FAILED</b>")
    assert "Time: 2026-03-09 19:30:00 IST" in text  # 14:00 UTC in the configured time zone
    assert "Job ID: 1586" in text and "Retry attempts: 3/3 (exhausted)" in text
    assert "Connection: Insta→YouTube - &quot;Travel&quot;" in text
    assert params["reply_markup"] == {"inline_keyboard": [
        [{"text": "🔁 Retry", "callback_data": "al:retry:1586"}],
        [{"text": "📄 Open job", "url": "https://forwarder.example/app#/jobs/1586"}]]}
    assert (await Notification.get()).status is DeliveryStatus.SENT
    assert (await alerts.deliver()).sent == 0  # never twice


async def test_disabled_kinds_and_missing_chat(db: str, tg: FakeTelegram) -> None:
    alerts = service(tg, Clock(START))
    assert await alerts.notify(AlertKind.JOB_RETRY, job_id=1) is None  # optional, off by default
    await alerts.configure(enabled=[AlertKind.JOB_RETRY])
    assert await alerts.notify(AlertKind.JOB_RETRY, job_id=1) is not None
    assert await alerts.notify(AlertKind.JOB_FAILED, job_id=1) is None
    assert await service(tg, Clock(START), chat_id=None).notify(AlertKind.JOB_RETRY) is None
    with pytest.raises(ForwarderError) as info:
        await service(tg, Clock(START), chat_id=None).test()
    assert "ALERT_CHAT_ID" in info.value.message


async def test_retry_after_is_honoured(db: str, tg: FakeTelegram) -> None:
    clock = Clock(START)
    alerts = service(tg, clock)
    await alerts.notify(AlertKind.PROXY_UNHEALTHY, proxy="US_1 (10.0.0.1:8080)", failed_checks=3)
    tg.fail_next("sendMessage", error_code=429, retry_after=30)
    first = await alerts.deliver()
    assert first.sent == 0 and first.blocked_until == clock.now + timedelta(seconds=30)
    clock.now += timedelta(seconds=10)
    assert (await alerts.deliver()).waiting == 1 and len(tg.calls_of("sendMessage")) == 1  # not asked again
    clock.now += timedelta(seconds=21)
    assert (await alerts.deliver()).sent == 1
    assert len(sends(tg)) == 1


async def test_pending_alerts_survive_a_restart(db: str, tg: FakeTelegram) -> None:
    await service(tg, Clock(START)).notify(AlertKind.TOKEN_EXPIRED, account="tube", status="EXPIRED")
    await service(tg, Clock(START)).notify(AlertKind.CAPTCHA_DETECTED, account="insta", account_id=4)
    fresh = service(tg, Clock(START))  # a new process
    assert (await fresh.deliver()).sent == 2
    assert (await service(tg, Clock(START)).deliver()).sent == 0
    texts = [str(p["text"]) for p in sends(tg)]
    assert "ACCESS TOKEN EXPIRED" in texts[0] and "CAPTCHA DETECTED" in texts[1]
    assert "al:solved:4" in str(sends(tg)[1]["reply_markup"])


async def test_a_flood_becomes_one_summary(db: str, tg: FakeTelegram) -> None:
    alerts = service(tg, Clock(START))
    for i in range(50):
        await alerts.notify(AlertKind.JOB_FAILED, job_id=i, connection="c", error=f"e{i}")
    report = await alerts.deliver()
    assert (report.sent, report.merged) == (1, 50)
    [params] = sends(tg)
    text = str(params["text"])
    assert "50 ALERTS" in text and "Job Failed: 50" in text and "Job 0 (c): e0" in text
    assert await Notification.filter(status=DeliveryStatus.SENT).count() == 50
    print(f"flood: 50 failures in one minute -> {len(sends(tg))} message(s) sent")


async def test_per_chat_rate_limit(db: str, tg: FakeTelegram) -> None:
    clock = Clock(START)
    alerts = service(tg, clock, per_minute=3, flood_threshold=100)
    for i in range(5):
        await alerts.notify(AlertKind.JOB_FAILED, job_id=i)
    assert (await alerts.deliver()).sent == 3
    assert (await alerts.deliver()).sent == 0
    clock.now += timedelta(seconds=61)
    assert (await alerts.deliver()).sent == 2


async def test_a_chat_the_bot_cannot_post_to_fails_clearly(db: str, tg: FakeTelegram) -> None:
    tg.block_chat(int(CHANNEL))
    alerts = service(tg, Clock(START))
    await alerts.notify(AlertKind.TEST)
    report = await alerts.deliver()
    assert report.failed == 1 and "Telegram refused the alert (403" in report.errors[0]
    assert (await Notification.get()).status is DeliveryStatus.FAILED


# ---- alerts raised by the pipeline ----------------------------------------------------------

@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("alerts") / "reel.mp4")


async def pipeline(clip: Path, tmp_path: Path) -> tuple[World, AlertService]:
    world = await make_world(clip, tmp_path)
    alerts = AlertService(None, chat_id=CHANNEL, clock=world.clock)
    world.forward.alerts = alerts
    world.jobs.alerts = alerts
    return world, alerts


async def kinds() -> list[str]:
    return [n.kind for n in await Notification.all().order_by("id")]


async def test_pipeline_alerts(db: str, clip: Path, tmp_path: Path) -> None:
    w, _ = await pipeline(clip, tmp_path)
    w.clock.advance(1)
    for _ in range(3):
        w.src.add_post(published_at=T0 + timedelta(seconds=1))
    first, second, third = await w.poll()
    # success after a retry
    w.src.fail("download", TransientError("timeout", code=ErrorCode.NETWORK_TIMEOUT))
    await w.run(first)
    w.clock.advance(10)
    await w.run(first)
    assert await kinds() == ["success_after_retry"]
    # a challenge: one alert, even when a second job meets it; resolved: one more
    w.src.fail("download", ChallengeRequired("challenge", details={"checkpoint_url": "https://ig/c/1"}))
    await w.run(second)
    await w.jobs.resolve_captcha(w.source.id)
    assert await kinds() == ["success_after_retry", "captcha_detected", "captcha_resolved"]
    payload = (await Notification.filter(kind="captcha_detected").first()).payload  # type: ignore[union-attr]
    assert payload["details"] == "https://ig/c/1" and payload["account_id"] == w.source.id
    # an expired token: the token alert and the failed job, with the dead-letter status
    w.dst.fail("upload_start", AuthError("token rejected", code=ErrorCode.TOKEN_EXPIRED))
    await w.run(third)
    assert (await kinds())[-2:] == ["token_expired", "job_failed"]
    failed = (await Notification.filter(kind="job_failed").first()).payload  # type: ignore[union-attr]
    assert failed["status"] == "MOVED TO DEAD-LETTER QUEUE" and failed["job_id"] == third


async def test_with_no_alert_chat_every_admin_gets_the_alert_privately(db: str, tg: FakeTelegram) -> None:
    # .env.example and `forwarder check` promise it; alerts used to be dropped on a default install.
    alerts = service(tg, Clock(START), chat_id=None, admin_ids=[1001, 1002])
    await alerts.notify(AlertKind.JOB_FAILED, connection="c", job_id=7, error="x", attempts="3/3",
                        status="MOVED TO DEAD-LETTER QUEUE", action="Retry it")
    report = await alerts.deliver()
    assert report.sent == 2
    sent = sends(tg)
    assert sorted(str(p["chat_id"]) for p in sent) == ["1001", "1002"]
    assert all(p["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "al:retry:7"  # type: ignore[index]
               for p in sent)
    nobody = service(tg, Clock(START), chat_id=None)
    assert await nobody.notify(AlertKind.JOB_FAILED, job_id=8) is None
