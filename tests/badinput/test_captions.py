"""Captions and names no one planned for: emoji (with joiners), right-to-left scripts, HTML,
5,000 characters, NUL and control characters, half an emoji (a lone surrogate), 60 hashtags.

Through core/pipeline/metadata.py each gives metadata within YouTube's rules (title <= 100,
no '<' '>', one line; description <= 5000 bytes; tags <= 500 characters) and Instagram's
(caption <= 2200 characters and 30 hashtags), keeping what the author wrote. Through a poll
and a forward they are stored and published without a crash. In alerts and the bot's views
they are escaped text in messages the Bot API accepts.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import views
from bot.handlers.accounts import account_card, account_list
from bot.handlers.proxies import proxy_card, proxy_list
from core.models import (
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    Direction,
    Job,
    JobStatus,
    LogEntry,
    LogLevel,
    Notification,
    Platform,
    Proxy,
    ProxyType,
    SourcePost,
)
from core.pipeline.metadata import Templates, hashtags, render
from core.platforms.telegram import TelegramSender
from core.services.alerts import AlertKind, AlertService
from tests.badinput.support import EMOJI, LONG, MARKUP, RTL, StrictTelegram, check_message
from tests.core.pipeline.test_forward import T0, make_world
from tests.fakes.media import make_clip

CAPTIONS: dict[str, str] = {
    "emoji": f"{EMOJI} sunset {EMOJI * 20} #fun",
    "rtl": f"{RTL} #سفر #טיול",
    "html": f"{MARKUP} <b>&amp;</b> #tag",
    "5000 characters": ("travel notes " * 400)[:4990] + " #long",
    "5000 emoji": "😀" * 5000,
    "control": "line one\x00\x01\x07\x1b[31mred\x7f\r\nline two\u2028 #x",
    "half an emoji": "cut here \ud83d then more #tag",
    "60 hashtags": " ".join(f"#t{i}" for i in range(60)),
    "only markup": "<<<>>>",
    "empty": "",
    "blank": "  \n\t ",
}
JOINED = ("👨‍👩‍👧", "🏳️‍🌈")  # one glyph each only while their zero-width joiners stay


def _controls(text: str, allowed: str = "") -> list[str]:
    return [f"U+{ord(c):04X}" for c in text
            if unicodedata.category(c) in ("Cc", "Cs") and c not in allowed]


def _youtube_ok(out: object, caption: str) -> None:
    title, description, tags = out.title, out.description, out.tags  # type: ignore[attr-defined]
    assert 1 <= len(title) <= 100 and "\n" not in title and not set("<>") & set(title), title
    assert not _controls(title), _controls(title)
    assert len(description.encode("utf-8")) <= 5000 and not set("<>") & set(description)
    assert not _controls(description, "\n\t"), _controls(description, "\n\t")
    assert sum(len(t) for t in tags) + len(tags) - 1 <= 500 if tags else True
    assert all(t and not set("<>,") & set(t) for t in tags), tags
    for glyph in JOINED:
        if glyph in caption:
            assert glyph in title + description, f"{glyph!r} was split"


def _instagram_ok(out: object, caption: str) -> None:
    text = out.caption  # type: ignore[attr-defined]
    assert len(text) <= 2200 and len(hashtags(text)) <= 30
    assert not _controls(text, "\n\t"), _controls(text, "\n\t")
    text.encode("utf-8")  # no half characters left to choke an HTTP client
    for kept in (EMOJI, "<b>bold</b>", "שלום עולם"):
        if kept in caption:
            assert kept in text  # Instagram shows text as typed: nothing to strip


@pytest.mark.parametrize("name", list(CAPTIONS))
def test_metadata_is_within_each_platforms_rules(name: str) -> None:
    caption = CAPTIONS[name]
    youtube = render(Templates.from_json(None, Platform.YOUTUBE), caption=caption,
                     destination=Platform.YOUTUBE, source_url="https://example.invalid/reel/1")
    _youtube_ok(youtube, caption)
    instagram = render(Templates.from_json(None, Platform.INSTAGRAM), caption=caption,
                       destination=Platform.INSTAGRAM)
    _instagram_ok(instagram, caption)


def test_what_the_author_wrote_is_kept() -> None:
    out = render(Templates.from_json(None, Platform.YOUTUBE), caption=CAPTIONS["emoji"],
                 destination=Platform.YOUTUBE)
    assert out.title.startswith(f"{EMOJI} sunset")
    rtl = render(Templates.from_json(None, Platform.YOUTUBE), caption=CAPTIONS["rtl"],
                 destination=Platform.YOUTUBE)
    assert rtl.title.startswith(RTL) and rtl.tags[:2] == ("سفر", "טיול")
    markup = render(Templates.from_json(None, Platform.YOUTUBE), caption=CAPTIONS["html"],
                    destination=Platform.YOUTUBE)
    assert markup.title.startswith("bbold/b scriptalert(1)/script &")  # YouTube refuses '<' and '>'


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 3.5 s, 30 fps, 9:16, faststart: fit for Shorts and Reels as it is, so no run encodes.
    return make_clip(tmp_path_factory.mktemp("captions") / "reel.mp4")


@pytest.mark.parametrize("direction", ["instagram_to_youtube", "youtube_to_instagram"])
async def test_hostile_captions_are_stored_forwarded_and_published(db: str, clip: Path, tmp_path: Path,
                                                                   direction: str) -> None:
    w = await make_world(clip, tmp_path)
    if direction == "youtube_to_instagram":
        await Connection.filter(id=w.connection.id).update(direction=Direction.YOUTUBE_TO_INSTAGRAM)
    w.clock.advance(60)
    for i, caption in enumerate(CAPTIONS.values()):
        w.src.add_post(caption=caption, published_at=T0 + timedelta(seconds=30 + i))
    ids = await w.poll()  # no caption may stop a poll: the same post would block it forever
    assert len(ids) == len(CAPTIONS)
    stored = {p.source_post_id: p.caption for p in await SourcePost.all()}
    assert "\x00" not in "".join(stored.values())
    for job_id in ids:
        outcome = await w.run(job_id)
        assert outcome.status is JobStatus.SUCCESS, (job_id, outcome.error)
    assert len(w.dst.published) == len(CAPTIONS)
    for published in w.dst.published:
        if direction == "instagram_to_youtube":
            _youtube_ok(type("Out", (), published | {"tags": tuple(published["tags"])})(), "")
        else:
            _instagram_ok(type("Out", (), published)(), "")


# ---- alerts --------------------------------------------------------------------------------

HOSTILE_FIELDS = [EMOJI * 10, RTL, MARKUP, LONG, "a\x00b\x07c", "&lt;b&gt; & &amp; &#x27;", "<" * 3000]


async def test_alerts_escape_and_fit_whatever_they_carry(db: str) -> None:
    async with StrictTelegram() as tg:
        alerts = AlertService(TelegramSender(tg.base_url, tg.token), chat_id="-1001234567890")
        cfg = await alerts.config()
        for value in HOSTILE_FIELDS:
            for kind in (AlertKind.JOB_FAILED, AlertKind.CAPTCHA_DETECTED, AlertKind.CONNECTION_PAUSED):
                row = await alerts.notify(kind, connection=f'Insta→YouTube - "{value[:100]}"', job_id=7,
                                          account=value[:64], account_id=3, error=f"video_corrupt: {value}",
                                          details=value, action=value, affected=[value[:100], "b"])
                assert row is not None
                text, _ = alerts.render(row, cfg)
                check_message(text)
        # The cut at the length limit never splits a tag: errors of every length around it.
        for length in range(3880, 4020, 3):
            row = await alerts.notify(AlertKind.JOB_FAILED, job_id=1, error="e" * length,
                                      action="Retry later")
            assert row is not None
            check_message(alerts.render(row, cfg)[0])
        await Notification.all().delete()
        for value in HOSTILE_FIELDS:
            await alerts.notify(AlertKind.JOB_FAILED, connection=value[:100], job_id=1, error=value)
        report = await alerts.deliver()  # more than the flood threshold: one summary
        assert report.sent == 1 and report.failed == 0 and tg.refused == []
        await Notification.all().delete()
        await alerts.notify(AlertKind.JOB_FAILED, connection=MARKUP, job_id=2, error=LONG, action=RTL)
        report = await alerts.deliver()
        assert report.sent == 1 and report.failed == 0 and tg.refused == [], (report, tg.refused)


# ---- bot views -----------------------------------------------------------------------------

def _keyboard_ok(markup: object) -> None:
    for row in markup.inline_keyboard:  # type: ignore[attr-defined]
        for button in row:
            assert button.text.strip()
            if button.callback_data is not None:
                assert 1 <= len(button.callback_data.encode()) <= 64


@pytest.mark.parametrize("value", [EMOJI * 10, RTL, MARKUP, "x" * 100, "&amp; <i>"], ids=range(5))
async def test_bot_views_show_any_name_as_escaped_text(db: str, value: str) -> None:
    name = value[:100]
    src = await Account.create(platform=Platform.INSTAGRAM, alias=value[:64], username=value[:255],
                               auth_method=AuthMethod.PRIVATE_API, status=AccountStatus.CAPTCHA_DETECTED,
                               status_reason=LONG)
    dst = await Account.create(platform=Platform.YOUTUBE, alias=(value + "2")[-64:],
                               auth_method=AuthMethod.OAUTH, profile={"channel_title": value})
    proxy = await Proxy.create(alias=value[:64], type=ProxyType.SOCKS5, host="127.0.0.1", port=1080,
                               username="u", password="p", last_error=LONG)
    conn = await Connection.create(name=name, direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=src,
                                   destination_account=dst, proxy=proxy, status=ConnectionStatus.PAUSED,
                                   pause_reason=LONG, filters={"caption_keywords": [value[:100]]})
    post = await SourcePost.create(connection=conn, source_post_id=value[:128], caption=LONG)
    job = await Job.create(connection=conn, source_post=post, status=JobStatus.FAILED, dead_letter=True,
                           error_code="video_corrupt", error_message=MARKUP * 100,
                           progress_message=LONG, destination_url=value)
    for i in range(12):
        await LogEntry.create(level=LogLevel.ERROR, job=job, connection=conn, message=f"{i} {MARKUP * 50}")
    conn = await Connection.get(id=conn.id).prefetch_related("source_account", "destination_account", "proxy")
    job = await Job.get(id=job.id).prefetch_related("connection", "source_post")
    logs = list(await LogEntry.all().order_by("-id"))
    now = datetime.now(UTC)
    rendered = [views.connection_list([conn] * 9, 0), views.connection_card(conn, "Asia/Kolkata"),
                views.confirm_delete(conn, 0), views.job_list("Dead letter", 9, [job] * 9, 0,
                                                              views.JobAction.DLQ, "none"),
                views.job_card(job, logs, "UTC"), views.log_list(12, logs, "error", "UTC"),
                account_list([src, dst]),
                account_card(src, {"token_expiry": now.isoformat(), "days_left": 1.5, "auto_refresh": True}),
                account_card(dst, {}), proxy_list([proxy] * 9), proxy_card(proxy, "UTC")]
    for text, markup in rendered:
        shown = check_message(text)
        assert "<script>" not in text and (value[:20] in shown or text.startswith("🧾"))  # logs: no names
        _keyboard_ok(markup)
    report = {"dry_run_results": {
        "issues": [LONG, MARKUP] * 8, "posts_found": 2, "videos_downloaded": 2, "total_size_mb": 1,
        "transformed_size_mb": 1, "transformations": {"upscale_applied": 0, "greenscreen_applied": 0},
        "destination_validation": "passed", "estimated_upload_time_minutes": 1,
        "sample_posts": [{"source_id": value, "transformation_result": LONG, "filtered": MARKUP}] * 5}}
    check_message(views.dry_run_report(report))
    check_message(views.run_now_result({"message": MARKUP, "jobs_created": [
        {"job_id": i, "source_post_id": value} for i in range(30)], "filtered": 3}))
