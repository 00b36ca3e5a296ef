"""Caption -> destination metadata through per-connection templates.

Placeholders: ``{caption}`` (whole caption), ``{caption_text}`` (caption without hashtags),
``{first_line}``, ``{hashtags}``, ``{source_url}``, ``{source_account}``, ``{date}``,
``{title}`` (the source's title, YouTube only). Other braces are kept as typed. The
destination's rules apply last: YouTube titles <= 100 characters without ``<``/``>``,
descriptions <= 5000 bytes; Instagram captions <= 2200 characters and 30 hashtags.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.models import Platform
from core.pipeline.rules import RuleError
from core.platforms.base import Privacy
from core.platforms.youtube_upload import youtube_description, youtube_tags, youtube_title

PLACEHOLDERS = ("caption", "caption_text", "first_line", "hashtags", "source_url", "source_account",
                "date", "title")
INSTAGRAM_CAPTION_MAX = 2200
INSTAGRAM_HASHTAGS_MAX = 30
HASHTAG = re.compile(r"(?<![\w#])#(\w[\w.]*)", re.UNICODE)
_FIELD = re.compile(r"\{(\w+)\}")


def hashtags(text: str) -> list[str]:
    """The hashtags of ``text`` in order, without repeats (``#`` included)."""
    return list(dict.fromkeys("#" + m for m in HASHTAG.findall(text)))


def _check(template: str, name: str) -> str:
    if not isinstance(template, str):
        raise RuleError(name, "a template must be text")
    unknown = [m for m in _FIELD.findall(template) if m not in PLACEHOLDERS]
    if unknown:
        raise RuleError(name, f"unknown placeholder {{{unknown[0]}}}; use one of "
                        + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
    if len(template) > 5000:
        raise RuleError(name, "a template is limited to 5000 characters")
    return template


@dataclass(frozen=True)
class Templates:
    """How a connection writes the destination's title, description, caption and tags."""

    title: str = "{first_line}"
    description: str = "{caption}\n\n{source_url}"
    caption: str = "{caption}"
    add_hashtags: tuple[str, ...] = ()
    remove_hashtags: bool = False
    tags_from_hashtags: bool = True
    privacy: Privacy = Privacy.PUBLIC
    made_for_kids: bool = False
    notify_subscribers: bool = True
    category_id: str = "22"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, destination: Platform | None = None) -> Templates:
        """Parse the ``metadata_templates`` column; Shorts get #Shorts unless told otherwise."""
        data = dict(data or {})
        default_tags: tuple[str, ...] = ("#Shorts",) if destination is Platform.YOUTUBE else ()
        tags = data.get("add_hashtags", list(default_tags))
        if isinstance(tags, str):
            tags = tags.replace(",", " ").split()
        if not isinstance(tags, list | tuple):
            raise RuleError("add_hashtags", "list hashtags separated by spaces, e.g. #Shorts #travel")
        clean = []
        for tag in tags:
            word = str(tag).strip().lstrip("#")
            if not re.fullmatch(r"\w[\w.]*", word):
                raise RuleError("add_hashtags", f"'{tag}' is not a hashtag (letters, digits and _ only)")
            clean.append("#" + word)
        try:
            privacy = Privacy(data.get("privacy", "public"))
        except ValueError:
            raise RuleError("privacy", "privacy is public, unlisted or private") from None
        return cls(
            title=_check(data.get("title", cls.title), "title"),
            description=_check(data.get("description", cls.description), "description"),
            caption=_check(data.get("caption", cls.caption), "caption"),
            add_hashtags=tuple(dict.fromkeys(clean)),
            remove_hashtags=bool(data.get("remove_hashtags", False)),
            tags_from_hashtags=bool(data.get("tags_from_hashtags", True)),
            privacy=privacy,
            made_for_kids=bool(data.get("made_for_kids", False)),
            notify_subscribers=bool(data.get("notify_subscribers", True)),
            category_id=str(data.get("category_id", "22")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title, "description": self.description, "caption": self.caption,
            "add_hashtags": list(self.add_hashtags), "remove_hashtags": self.remove_hashtags,
            "tags_from_hashtags": self.tags_from_hashtags, "privacy": self.privacy.value,
            "made_for_kids": self.made_for_kids, "notify_subscribers": self.notify_subscribers,
            "category_id": self.category_id,
        }


@dataclass(frozen=True)
class Rendered:
    """The metadata a destination receives."""

    title: str
    description: str
    caption: str
    tags: tuple[str, ...]
    privacy: Privacy
    made_for_kids: bool
    notify_subscribers: bool
    category_id: str

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "description": self.description, "caption": self.caption,
                "tags": list(self.tags), "privacy": self.privacy.value, "made_for_kids": self.made_for_kids,
                "notify_subscribers": self.notify_subscribers, "category_id": self.category_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rendered:
        return cls(title=data["title"], description=data["description"], caption=data["caption"],
                   tags=tuple(data["tags"]), privacy=Privacy(data["privacy"]),
                   made_for_kids=data["made_for_kids"], notify_subscribers=data["notify_subscribers"],
                   category_id=data["category_id"])


def _plain(text: str) -> str:
    """Text without control characters (but line breaks and tabs) or halves of a character."""
    text = text.replace("\r\n", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))


def _fill(template: str, values: dict[str, str]) -> str:
    return _FIELD.sub(lambda m: values.get(m[1], m[0]), template).strip()


def _with_tags(text: str, wanted: tuple[str, ...]) -> str:
    """Append the hashtags a template asked for when the text does not have them yet."""
    present = {t.lower() for t in hashtags(text)}
    missing = [t for t in wanted if t.lower() not in present]
    return (text + "\n\n" + " ".join(missing)).strip() if missing else text


def render(
    templates: Templates,
    *,
    caption: str,
    destination: Platform,
    source_url: str = "",
    source_account: str = "",
    published_at: datetime | None = None,
    source_title: str = "",
    timezone: str = "UTC",
) -> Rendered:
    """Fill the templates and apply the destination's rules."""
    caption = _plain(caption or "")
    source_title = _plain(source_title or "")
    tags = hashtags(caption)
    text_only = " ".join(HASHTAG.sub("", caption).split(" ")).strip()
    text_only = re.sub(r"[ \t]+\n", "\n", re.sub(r"[ \t]{2,}", " ", text_only)).strip()
    body = text_only if templates.remove_hashtags else caption
    first_line = next((line.strip() for line in (text_only or caption).splitlines() if line.strip()), "")
    when = published_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d") if published_at else ""
    all_tags = list(dict.fromkeys([*([] if templates.remove_hashtags else tags), *templates.add_hashtags]))
    values = {
        "caption": body, "caption_text": text_only, "first_line": first_line,
        "hashtags": " ".join(all_tags), "source_url": source_url, "source_account": source_account,
        "date": when, "title": source_title or first_line,
    }
    description = _with_tags(_fill(templates.description, values), templates.add_hashtags)
    out_caption = _with_tags(_fill(templates.caption, values), templates.add_hashtags)
    if destination is Platform.YOUTUBE:
        yt_tags = [t.lstrip("#") for t in all_tags] if templates.tags_from_hashtags else []
        title = _fill(templates.title, values)
        # YouTube picks the first hashtags of the title or description; keep #Shorts in the title if room.
        if "#Shorts" in templates.add_hashtags and "#shorts" not in title.lower() and len(title) <= 92:
            title = f"{title} #Shorts".strip()
        return Rendered(
            title=youtube_title(title or first_line or source_title),
            description=youtube_description(description),
            caption=out_caption,
            tags=tuple(youtube_tags(yt_tags)),
            privacy=templates.privacy, made_for_kids=templates.made_for_kids,
            notify_subscribers=templates.notify_subscribers, category_id=templates.category_id,
        )
    return Rendered(
        title="", description="", caption=instagram_caption(out_caption), tags=(),
        privacy=templates.privacy, made_for_kids=False, notify_subscribers=templates.notify_subscribers,
        category_id=templates.category_id,
    )


def instagram_caption(text: str) -> str:
    """At most 2200 characters and 30 hashtags (extra hashtags lose their ``#``)."""
    count = 0

    def keep(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return m[0] if count <= INSTAGRAM_HASHTAGS_MAX else m[1]

    text = HASHTAG.sub(keep, text)
    if len(text) > INSTAGRAM_CAPTION_MAX:
        text = text[: INSTAGRAM_CAPTION_MAX - 1].rstrip() + "…"
    return text


__all__ = ["PLACEHOLDERS", "Rendered", "Templates", "hashtags", "instagram_caption", "render"]
