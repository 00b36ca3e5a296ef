"""A connection's rules as typed values: filters, schedule and retry policy.

Each is parsed from the connection's JSON column with ``from_json`` (which refuses bad
input with a message naming the field) and written back with ``to_json``. The decisions
are pure functions of their inputs and a clock, so they are tested without a database.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import ERROR_INFO, ErrorCode

MIN_INTERVAL_MINUTES = 1
MAX_INTERVAL_MINUTES = 24 * 60
KEYWORDS_MAX_CHARS = 1000  # all keywords of one list, as shown ("a, b"): they must fit a chat message
MAX_WINDOWS = 24


class RuleError(ValueError):
    """A rule is invalid; ``field`` names it, the message says what to type instead."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _shown(value: Any, limit: int = 40) -> str:
    """A typed value quoted back in a message, cut short (a 5,000-character answer stays readable)."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _words(value: Any, field_name: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise RuleError(field_name, "give keywords as a comma-separated list, e.g. tech, travel, AI")
    words = tuple(dict.fromkeys(w.strip() for w in value if isinstance(w, str) and w.strip()))
    for word in words:
        if len(word) > 100:
            raise RuleError(field_name, f"the keyword '{word[:20]}…' is longer than 100 characters")
    total = len(", ".join(words))
    if total > KEYWORDS_MAX_CHARS:
        raise RuleError(field_name, f"the keywords add up to {total} characters; use at most "
                                    f"{KEYWORDS_MAX_CHARS}")
    return words


def _day(value: Any, field_name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RuleError(field_name,
                        f"'{_shown(value)}' is not a date; use YYYY-MM-DD, e.g. 2025-01-31") from None


def _seconds(value: Any, field_name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise RuleError(field_name, f"'{_shown(value)}' is not a number of seconds")
    if number < 0:
        raise RuleError(field_name, "a duration cannot be negative")
    return number


def _cap(value: Any) -> int:
    try:
        return int(value or 20)
    except (TypeError, ValueError, OverflowError):
        raise RuleError("backfill_cap",
                        f"'{_shown(value)}' is not a whole number of posts (1 to 500)") from None


@dataclass(frozen=True)
class Filters:
    """Which source posts a connection forwards."""

    caption_keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    whole_word: bool = False
    min_duration: float | None = None
    max_duration: float | None = None
    date_from: date | None = None
    date_to: date | None = None
    include_old_posts: bool = False
    backfill_cap: int = 20

    @property
    def mode(self) -> str:
        return "caption_keywords" if self.caption_keywords else "forward_all_new"

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Filters:
        """Parse the ``filters`` column (the specification's shape plus our options)."""
        data = dict(data or {})
        rng = data.get("date_range") or {}
        if not isinstance(rng, dict):
            raise RuleError("date_range", "give the date range as from/to dates (YYYY-MM-DD)")
        made = cls(
            caption_keywords=_words(data.get("caption_keywords"), "caption_keywords")
            if data.get("mode", "caption_keywords") != "forward_all_new" else (),
            exclude_keywords=_words(data.get("exclude_keywords"), "exclude_keywords"),
            whole_word=bool(data.get("whole_word", False)),
            min_duration=_seconds(data.get("min_duration"), "min_duration"),
            max_duration=_seconds(data.get("max_duration"), "max_duration"),
            date_from=_day(rng.get("from"), "date_range.from"),
            date_to=_day(rng.get("to"), "date_range.to"),
            include_old_posts=bool(data.get("include_old_posts", False)),
            backfill_cap=_cap(data.get("backfill_cap", 20)),
        )
        if data.get("mode") == "caption_keywords" and not made.caption_keywords:
            raise RuleError("caption_keywords", "the keyword filter needs at least one keyword")
        if made.min_duration is not None and made.max_duration is not None \
                and made.min_duration > made.max_duration:
            raise RuleError("max_duration", "the longest duration is shorter than the shortest")
        if made.date_from and made.date_to and made.date_from > made.date_to:
            raise RuleError("date_range.to", "the end date is before the start date")
        if made.include_old_posts and not made.date_from:
            raise RuleError("date_range.from", "backfilling old posts needs a start date")
        if not 1 <= made.backfill_cap <= 500:
            raise RuleError("backfill_cap", "backfill at most 1 to 500 posts per run")
        return made

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "caption_keywords": list(self.caption_keywords),
            "exclude_keywords": list(self.exclude_keywords), "whole_word": self.whole_word,
            "min_duration": self.min_duration, "max_duration": self.max_duration,
            "date_range": ({"from": self.date_from.isoformat() if self.date_from else None,
                            "to": self.date_to.isoformat() if self.date_to else None}
                           if self.date_from or self.date_to else None),
            "include_old_posts": self.include_old_posts, "backfill_cap": self.backfill_cap,
        }

    def _has(self, caption: str, word: str) -> bool:
        if self.whole_word:
            return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", caption, re.IGNORECASE) is not None
        return word.casefold() in caption.casefold()

    def reject_reason(self, caption: str, duration: float | None, published: datetime | None,
                      *, check_dates: bool = False) -> str | None:
        """Why a post is filtered out, or None when it passes (``duration`` None = not known yet)."""
        if self.caption_keywords and not any(self._has(caption, w) for w in self.caption_keywords):
            return "caption has none of the keywords: " + ", ".join(self.caption_keywords)
        for word in self.exclude_keywords:
            if self._has(caption, word):
                return f"caption contains the excluded keyword '{word}'"
        if duration is not None:
            if self.min_duration is not None and duration < self.min_duration:
                return f"shorter than {self.min_duration:g} s ({duration:.1f} s)"
            if self.max_duration is not None and duration > self.max_duration:
                return f"longer than {self.max_duration:g} s ({duration:.1f} s)"
        if check_dates and published is not None:
            day = published.astimezone(UTC).date()
            if self.date_from and day < self.date_from:
                return f"published {day} before {self.date_from}"
            if self.date_to and day > self.date_to:
                return f"published {day} after {self.date_to}"
        return None


_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _clock(value: Any, field_name: str) -> time:
    m = _HHMM.fullmatch(str(value or "").strip())
    if not m:
        raise RuleError(field_name, f"'{_shown(value)}' is not a time; use HH:MM (24-hour), e.g. 09:30")
    return time(int(m[1]), int(m[2]))


@dataclass(frozen=True)
class Window:
    """A daily window; an end before the start crosses midnight."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class Schedule:
    """When a connection polls: every N minutes, optionally only inside daily windows."""

    interval_minutes: int = 5
    windows: tuple[Window, ...] = ()
    timezone: str | None = None

    @property
    def kind(self) -> str:
        return "windows" if self.windows else "continuous"

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Schedule:
        """Parse the ``schedule`` column."""
        data = dict(data or {})
        raw = data.get("check_interval_minutes", 5)
        try:
            interval = int(raw)
        except (TypeError, ValueError, OverflowError):
            raise RuleError("check_interval_minutes",
                            f"'{_shown(raw)}' is not a whole number of minutes") from None
        if not MIN_INTERVAL_MINUTES <= interval <= MAX_INTERVAL_MINUTES:
            raise RuleError("check_interval_minutes",
                            f"check every {MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES} minutes")
        windows: list[Window] = []
        if data.get("type", "continuous") == "windows" or data.get("windows"):
            items = data.get("windows") or []
            if not isinstance(items, list | tuple):
                raise RuleError("windows", "give the windows as a list, e.g. [\"09:00-12:00\"]")
            if len(items) > MAX_WINDOWS:
                raise RuleError("windows", f"at most {MAX_WINDOWS} daily windows; {len(items)} were given")
            for i, item in enumerate(items):
                if isinstance(item, str):
                    if "-" not in item:
                        raise RuleError(f"windows[{i}]", f"'{_shown(item)}' is not a window; use HH:MM-HH:MM")
                    item = dict(zip(("start", "end"), item.split("-", 1), strict=True))
                if not isinstance(item, dict):
                    raise RuleError(f"windows[{i}]", "a window is \"HH:MM-HH:MM\" or {\"start\", \"end\"}")
                start = _clock(item.get("start"), f"windows[{i}].start")
                end = _clock(item.get("end"), f"windows[{i}].end")
                if start == end:
                    raise RuleError(f"windows[{i}].end", "a window must not start and end at the same time")
                windows.append(Window(start, end))
            if not windows:
                raise RuleError("windows", "scheduled mode needs at least one window, e.g. 09:00-12:00")
        tz = data.get("timezone") or None
        if tz:
            try:
                ZoneInfo(str(tz))
            except (KeyError, ValueError, OSError):  # OSError: "Europe" is a folder, a long name no file
                raise RuleError("timezone",
                                f"'{_shown(tz)}' is not an IANA time zone such as Europe/Berlin") from None
        return cls(interval_minutes=interval, windows=tuple(windows), timezone=tz)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "check_interval_minutes": self.interval_minutes}
        if self.windows:
            out["windows"] = [{"start": w.start.strftime("%H:%M"), "end": w.end.strftime("%H:%M")}
                              for w in self.windows]
        if self.timezone:
            out["timezone"] = self.timezone
        return out

    def inside(self, now: datetime, default_tz: str = "UTC") -> bool:
        """Whether ``now`` falls inside a window (always, in continuous mode)."""
        if not self.windows:
            return True
        local = now.astimezone(ZoneInfo(self.timezone or default_tz)).time()
        return any(w.contains(local) for w in self.windows)

    def due(self, last_run: datetime | None, now: datetime, default_tz: str = "UTC") -> bool:
        """Whether a poll should run now."""
        if not self.inside(now, default_tz):
            return False
        return last_run is None or now - last_run >= timedelta(minutes=self.interval_minutes) - timedelta(
            seconds=5)

    def slot(self, now: datetime) -> int:
        """The poll slot of ``now`` (an ARQ job id part: one poll per slot)."""
        return int(now.timestamp() // (self.interval_minutes * 60))


DEFAULT_RETRY_CODES = tuple(code.value for code, info in ERROR_INFO.items()
                            if info.retriable and code is not ErrorCode.QUOTA_EXCEEDED)


@dataclass(frozen=True)
class RetryPolicy:
    """How a connection retries a failed job (specification §4.10.1)."""

    max_attempts: int = 3
    initial_delay_seconds: float = 10
    backoff_multiplier: float = 6
    max_delay_seconds: float = 600
    retry_on_errors: tuple[str, ...] = field(default=DEFAULT_RETRY_CODES)
    no_retry_on_errors: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RetryPolicy:
        data = dict(data or {})
        known = {c.value for c in ErrorCode}
        # The specification's example says rate_limit_exceeded for our api_rate_limit.
        aliases = {"rate_limit_exceeded": ErrorCode.API_RATE_LIMIT.value}

        def codes(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
            raw = data.get(name)
            if raw is None:
                return default
            if not isinstance(raw, list | tuple) or not all(isinstance(c, str) for c in raw):
                raise RuleError(name, "give a list of error codes, e.g. [\"network_timeout\"]")
            out = tuple(str(aliases.get(c, c)) for c in raw)
            unknown = [c for c in out if c not in known]
            if unknown:
                raise RuleError(name, f"unknown error code(s): {_shown(', '.join(unknown), 200)}")
            return out

        retry_on = codes("retry_on_errors", DEFAULT_RETRY_CODES)
        no_retry_on = codes("no_retry_on_errors", ())
        try:
            policy = cls(
                max_attempts=int(data.get("max_attempts", 3)),
                initial_delay_seconds=float(data.get("initial_delay_seconds", 10)),
                backoff_multiplier=float(data.get("backoff_multiplier", 6)),
                max_delay_seconds=float(data.get("max_delay_seconds", 600)),
                retry_on_errors=retry_on,
                no_retry_on_errors=no_retry_on,
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise RuleError("retry_policy", f"numbers expected: {_shown(exc, 100)}") from None
        if not 1 <= policy.max_attempts <= 20:
            raise RuleError("max_attempts", "between 1 and 20 attempts")
        if policy.initial_delay_seconds < 0 or policy.max_delay_seconds < policy.initial_delay_seconds:
            raise RuleError("max_delay_seconds", "the longest delay must be at least the first delay")
        if policy.backoff_multiplier < 1:
            raise RuleError("backoff_multiplier", "the multiplier must be 1 or more")
        return policy

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["retry_on_errors"] = list(self.retry_on_errors)
        out["no_retry_on_errors"] = list(self.no_retry_on_errors)
        out["backoff_strategy"] = "exponential"
        return out

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        value = self.initial_delay_seconds * self.backoff_multiplier ** max(attempt - 1, 0)
        return float(min(value, self.max_delay_seconds))

    def retries(self, code: ErrorCode | str) -> bool:
        """Whether this policy retries errors of ``code`` at all."""
        value = ErrorCode(code).value
        if value in self.no_retry_on_errors:
            return False
        return value in self.retry_on_errors


def aware(value: datetime | None) -> datetime | None:
    """A datetime with a time zone (SQLite hands back naive UTC)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
