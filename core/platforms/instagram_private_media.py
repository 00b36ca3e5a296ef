"""Instagram private API media JSON -> ``RemotePost``, and the listing cursor.

The adapter reads the raw ``items[].media`` dicts rather than instagrapi's pydantic ``Media``
so that one odd field in one post cannot fail a whole listing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.platforms.base import RemotePost

VIDEO = 2  # Instagram's media_type for a video (1 photo, 8 album)


def caption_digest(caption: str) -> str:
    """SHA-256 of a caption as Instagram keeps it (trimmed, LF line ends)."""
    normal = caption.replace("\r\n", "\n").strip()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def _largest(candidates: Any) -> dict[str, Any] | None:
    items = [c for c in candidates or [] if isinstance(c, dict) and c.get("url")]
    if not items:
        return None
    return max(items, key=lambda c: int(c.get("width") or 0) * int(c.get("height") or 0))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Listed:
    """One listed post and whether Instagram pinned it to the top (pinned posts break date order)."""

    post: RemotePost
    pinned: bool


def listed(media: Mapping[str, Any], web_base: str) -> Listed:
    """Describe one ``media`` dict of a clips or media-info response."""
    video = _largest(media.get("video_versions"))
    image = _largest((media.get("image_versions2") or {}).get("candidates"))
    caption = (media.get("caption") or {}).get("text") or ""
    taken_at = _int(media.get("taken_at"))
    code = str(media.get("code") or "")
    media_type = _int(media.get("media_type"))
    pinned = bool(media.get("clips_tab_pinned_user_ids") or media.get("timeline_pinned_user_ids"))
    width = _int(media.get("original_width")) or (_int(video.get("width")) if video else None)
    height = _int(media.get("original_height")) or (_int(video.get("height")) if video else None)
    duration = media.get("video_duration")
    post = RemotePost(
        id=str(media.get("pk") or str(media.get("id", "")).split("_")[0]),
        caption=caption,
        published_at=datetime.fromtimestamp(taken_at, UTC) if taken_at is not None else None,
        duration=float(duration) if isinstance(duration, int | float) else None,
        width=width,
        height=height,
        media_url=video["url"] if video else None,
        permalink=f"{web_base}/reel/{code}/" if code else None,
        thumbnail_url=image["url"] if image else None,
        is_short=media_type == VIDEO,
        skip_reason=None if media_type == VIDEO else "not a video",
        extra={"code": code, "media_id": str(media.get("id") or ""), "pinned": pinned,
               "product_type": str(media.get("product_type") or "")},
    )
    return Listed(post, pinned)


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp from a cursor or saved state (naive means UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Cursor:
    """Where the last listing stopped: the newest post handed out."""

    last_id: str = ""
    last_taken_at: datetime | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Cursor:
        """Read a stored cursor (an empty mapping is the start)."""
        return cls(str(data.get("last_id") or ""), parse_time(data.get("last_taken_at")))

    @property
    def empty(self) -> bool:
        """True before the first listing."""
        return not self.last_id and self.last_taken_at is None

    def is_new(self, post: RemotePost) -> bool:
        """Published after the cursor (same-second posts count as new unless they are it)."""
        if self.empty:
            return True
        if post.id == self.last_id:
            return False
        if self.last_taken_at is None or post.published_at is None:
            return True
        return post.published_at >= self.last_taken_at

    def passed(self, post: RemotePost) -> bool:
        """True once the (date-ordered) listing reaches posts the cursor already covers."""
        if self.empty:
            return False
        if post.id == self.last_id:
            return True
        return bool(self.last_taken_at and post.published_at and post.published_at < self.last_taken_at)

    @staticmethod
    def after(post: RemotePost) -> dict[str, Any]:
        """The cursor to store once ``post`` was handed out."""
        when = post.published_at.isoformat() if post.published_at else None
        return {"last_id": post.id, "last_taken_at": when}


def newest_first(posts: list[RemotePost]) -> list[RemotePost]:
    """Posts by publication time, newest first (unknown times last), duplicates dropped."""
    unique = {post.id: post for post in posts}
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(unique.values(), key=lambda p: (p.published_at or floor, p.id), reverse=True)


def challenge_endpoint(api_path: str) -> str | None:
    """instagrapi's endpoint for a challenge ``api_path`` ("challenge/<uid>/<nonce>/"), if it takes codes."""
    path = api_path.strip()
    for prefix in ("/api/v1/", "/api/", "/"):
        if path.startswith(prefix):
            path = path[len(prefix):]
            break
    return path if path.startswith("challenge/") and path.count("/") >= 3 else None
