"""Filters, schedules, retry policy and metadata templates: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import ErrorCode
from core.models import Platform
from core.pipeline.metadata import Templates, hashtags, instagram_caption, render
from core.pipeline.rules import Filters, RetryPolicy, RuleError, Schedule

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_forward_all_passes_everything() -> None:
    assert Filters.from_json({"mode": "forward_all_new"}).reject_reason("anything", 30, T0) is None


def test_keywords_any_case_insensitive_and_whole_word() -> None:
    f = Filters.from_json({"mode": "caption_keywords", "caption_keywords": "tech, AI"})
    assert f.reject_reason("New TECHNOLOGY", None, None) is None  # substring match
    assert f.reject_reason("nothing here", None, None) == "caption has none of the keywords: tech, AI"
    whole = Filters.from_json({"caption_keywords": ["tech", "ai"], "whole_word": True})
    assert whole.reject_reason("New TECHNOLOGY and rain", None, None) is not None
    assert whole.reject_reason("Great #AI news", None, None) is None
    assert whole.reject_reason("tech.", None, None) is None


def test_exclude_duration_and_dates() -> None:
    f = Filters.from_json({"exclude_keywords": ["ad"], "min_duration": 5, "max_duration": "60",
                           "date_range": {"from": "2026-03-01", "to": "2026-03-31"}})
    assert f.reject_reason("an AD for you", 30, T0) == "caption contains the excluded keyword 'ad'"
    assert f.reject_reason("ok", 3, T0) == "shorter than 5 s (3.0 s)"
    assert f.reject_reason("ok", 61, T0) == "longer than 60 s (61.0 s)"
    assert f.reject_reason("ok", None, T0) is None  # unknown duration is checked after the probe
    assert f.reject_reason("ok", 30, T0 - timedelta(days=30), check_dates=True) == \
        "published 2026-02-08 before 2026-03-01"
    assert f.reject_reason("ok", 30, T0 - timedelta(days=30)) is None  # new posts ignore the range


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"mode": "caption_keywords", "caption_keywords": ""}, "caption_keywords", "at least one keyword"),
    ({"min_duration": "abc"}, "min_duration", "not a number"),
    ({"min_duration": 10, "max_duration": 5}, "max_duration", "shorter than the shortest"),
    ({"date_range": {"from": "2026-13-01"}}, "date_range.from", "use YYYY-MM-DD"),
    ({"date_range": {"from": "2026-03-02", "to": "2026-03-01"}}, "date_range.to", "before the start"),
    ({"include_old_posts": True}, "date_range.from", "needs a start date"),
])
def test_filter_errors_name_the_field(data: dict, field: str, words: str) -> None:
    with pytest.raises(RuleError) as info:
        Filters.from_json(data)
    assert info.value.field == field and words in info.value.message


def test_filters_round_trip() -> None:
    f = Filters.from_json({"caption_keywords": ["a"], "date_range": {"from": "2026-01-01"},
                           "include_old_posts": True, "backfill_cap": 7})
    assert Filters.from_json(f.to_json()) == f


def test_continuous_schedule_is_due_by_interval() -> None:
    s = Schedule.from_json({"type": "continuous", "check_interval_minutes": 5})
    assert s.due(None, T0) and not s.due(T0, T0 + timedelta(minutes=3))
    assert s.due(T0, T0 + timedelta(minutes=5))
    assert s.slot(T0) == s.slot(T0 + timedelta(minutes=4)) != s.slot(T0 + timedelta(minutes=5))


def test_windows_in_the_configured_timezone_and_across_midnight() -> None:
    s = Schedule.from_json({"type": "windows", "windows": ["09:00-12:00", "22:00-01:00"],
                            "check_interval_minutes": 10})
    berlin = "Europe/Berlin"  # UTC+1 in March
    assert s.inside(datetime(2026, 3, 10, 8, 30, tzinfo=UTC), berlin)  # 09:30 local
    assert not s.inside(datetime(2026, 3, 10, 11, 0, tzinfo=UTC), berlin)  # 12:00 local: window closed
    assert s.inside(datetime(2026, 3, 10, 23, 30, tzinfo=UTC), berlin)  # 00:30 local
    assert not s.due(None, datetime(2026, 3, 10, 14, 0, tzinfo=UTC), berlin)
    assert Schedule.from_json(s.to_json()) == s


@pytest.mark.parametrize(("data", "field"), [
    ({"check_interval_minutes": 0}, "check_interval_minutes"),
    ({"check_interval_minutes": "five"}, "check_interval_minutes"),
    ({"type": "windows", "windows": ["9-12"]}, "windows[0].start"),
    ({"type": "windows", "windows": ["25:00-26:00"]}, "windows[0].start"),
    ({"type": "windows", "windows": []}, "windows"),
    ({"type": "windows", "windows": ["10:00-10:00"]}, "windows[0].end"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
])
def test_schedule_errors(data: dict, field: str) -> None:
    with pytest.raises(RuleError) as info:
        Schedule.from_json(data)
    assert info.value.field == field


def test_retry_policy_backoff_and_codes() -> None:
    p = RetryPolicy.from_json(None)
    assert [p.delay(n) for n in (1, 2, 3, 4)] == [10, 60, 360, 600]
    assert p.retries(ErrorCode.NETWORK_TIMEOUT) and not p.retries(ErrorCode.INVALID_CREDENTIALS)
    assert not p.retries(ErrorCode.QUOTA_EXCEEDED)  # deferred, never a retry
    custom = RetryPolicy.from_json({"max_attempts": 5, "retry_on_errors": ["network_timeout",
                                    "rate_limit_exceeded"], "no_retry_on_errors": ["proxy_error"]})
    assert custom.retries("api_rate_limit") and not custom.retries("proxy_error")
    with pytest.raises(RuleError) as info:
        RetryPolicy.from_json({"retry_on_errors": ["bogus"]})
    assert info.value.field == "retry_on_errors" and "bogus" in info.value.message
    assert RetryPolicy.from_json(custom.to_json()) == custom


def test_metadata_for_youtube() -> None:
    t = Templates.from_json(
        {"title": "{first_line}", "description": "{caption_text}\n{hashtags}\nvia {source_url}"},
        Platform.YOUTUBE)
    out = render(t, caption="Sunset in <Bali>\nsecond line #travel #sun", destination=Platform.YOUTUBE,
                 source_url="https://ig/reel/x", published_at=T0)
    assert out.title == "Sunset in Bali #Shorts"
    assert out.description == "Sunset in Bali\nsecond line\n#travel #sun #Shorts\nvia https://ig/reel/x"
    assert out.tags == ("travel", "sun", "Shorts")
    long = render(t, caption="x" * 300, destination=Platform.YOUTUBE)
    assert len(long.title) <= 100


def test_metadata_for_instagram_and_limits() -> None:
    t = Templates.from_json({"caption": "{title}\n\n{caption}", "add_hashtags": "#reels"}, Platform.INSTAGRAM)
    out = render(t, caption="desc", destination=Platform.INSTAGRAM, source_title="My video")
    assert out.caption == "My video\n\ndesc\n\n#reels"
    many = " ".join(f"#t{i}" for i in range(40))
    assert len(hashtags(instagram_caption(many))) == 30
    assert len(instagram_caption("é" * 3000)) == 2200
    emoji = render(Templates(), caption="🔥 שלום <b>hi</b>", destination=Platform.INSTAGRAM)
    assert emoji.caption == "🔥 שלום <b>hi</b>"


def test_template_errors() -> None:
    with pytest.raises(RuleError) as info:
        Templates.from_json({"title": "{nope}"})
    assert info.value.field == "title" and "{caption}" in info.value.message
    with pytest.raises(RuleError):
        Templates.from_json({"add_hashtags": ["#ok", "not ok!"]})
    with pytest.raises(RuleError):
        Templates.from_json({"privacy": "secret"})
