"""Platform ports: what the pipeline needs from a source and from a destination.

Adapters (``youtube``, ``instagram_private``, ``instagram_graph``) implement these
protocols, take their base URL, proxy and credential store in the constructor, exchange
the frozen dataclasses below, and raise only ``core.errors``.

Upload protocol (the same for every destination)::

    result = await dest.upload(request, save_state=checkpoint, progress=report)
    # crash anywhere after save_state ran -> on the next run:
    result = await dest.resume(saved_state, request, save_state=checkpoint, progress=report)
    outcome = await dest.verify(result.post_id)

``save_state`` is awaited with a JSON-safe dict (a session URI, a container id) before
the first byte is sent, and again whenever the state changes, so a crash at any point
leaves enough behind for ``resume`` to finish the same upload instead of posting twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

SaveState = Callable[[dict[str, Any]], Awaitable[None]]
"""Persist an upload's resumable state (the job checkpoint) before bytes are sent."""

Progress = Callable[[int, int], Awaitable[None]]
"""Report ``(bytes_done, bytes_total)`` of a transfer."""



def progress_from_thread(
    loop: asyncio.AbstractEventLoop, progress: Progress | None
) -> Callable[[int, int], None]:
    """A plain function a worker thread may call to report progress on ``loop`` (never blocks)."""

    async def report(done: int, total: int) -> None:
        assert progress is not None
        await progress(done, total)

    def call(done: int, total: int) -> None:
        if progress is not None:
            asyncio.run_coroutine_threadsafe(report(done, total), loop)

    return call


CodeProvider = Callable[[str], Awaitable[str | None]]
"""Ask the admin for a security code; the argument says what the platform asked for."""


@dataclass(frozen=True)
class RemotePost:
    """A post (Reel or Short) as listed at the source."""

    id: str
    caption: str = ""
    published_at: datetime | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    media_url: str | None = None
    permalink: str | None = None
    thumbnail_url: str | None = None
    is_short: bool | None = None
    """True when the post is short-form vertical video; None when unknown."""
    skip_reason: str | None = None
    """Why the source itself would not forward this post (not a Short, a live stream...)."""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ListResult:
    """The outcome of one listing: new posts, newest first, and the cursor to store."""

    posts: tuple[RemotePost, ...]
    cursor: dict[str, Any]
    units_spent: int = 0
    method: str = ""
    """How the posts were found ("rss", "playlist", "graph", "private")."""


@dataclass(frozen=True)
class DownloadedFile:
    """A file fetched from the source."""

    path: Path
    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> DownloadedFile:
        """Describe a file on disk (size and SHA-256)."""
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return cls(path=path, size=path.stat().st_size, sha256=digest.hexdigest())


class Privacy(StrEnum):
    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"


@dataclass(frozen=True)
class UploadRequest:
    """Everything a destination needs to publish one video."""

    video_path: Path
    title: str = ""
    description: str = ""
    caption: str = ""
    """Instagram caption (YouTube uses title + description)."""
    tags: tuple[str, ...] = ()
    privacy: Privacy = Privacy.PUBLIC
    category_id: str = "22"
    made_for_kids: bool = False
    notify_subscribers: bool = True
    thumbnail_path: Path | None = None
    public_video_url: str | None = None
    """A signed, expiring URL of ``video_path`` that the platform may fetch (Graph API)."""


@dataclass(frozen=True)
class UploadResult:
    """A finished upload: the destination's id and public URL."""

    post_id: str
    url: str | None = None
    resumed_from: int = 0
    """Bytes the server already had when this run continued an earlier upload."""
    already_published: bool = False
    """True when ``resume`` found the upload already finished (nothing was sent again)."""


class PublishState(StrEnum):
    LIVE = "live"
    PROCESSING = "processing"
    FAILED = "failed"
    REJECTED = "rejected"
    MISSING = "missing"


@dataclass(frozen=True)
class VerifyResult:
    """What the destination says about a published post."""

    post_id: str
    state: PublishState
    url: str | None = None
    privacy: str | None = None
    locked_private: bool = False
    """An unaudited Google project forced the video to private."""
    detail: str = ""


@dataclass(frozen=True)
class AccountInfo:
    """Who the credentials belong to, checked live."""

    external_id: str
    username: str | None = None
    title: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class CredentialStore(Protocol):
    """Where an adapter reads and writes its account's (decrypted) credentials."""

    async def load(self) -> dict[str, Any]: ...

    async def save(self, credentials: dict[str, Any]) -> None: ...


class MemoryCredentials:
    """A credential store held in memory (verification before an account is saved, tests)."""

    def __init__(self, credentials: Mapping[str, Any] | None = None) -> None:
        self.credentials: dict[str, Any] = dict(credentials or {})
        self.saves = 0

    async def load(self) -> dict[str, Any]:
        return dict(self.credentials)

    async def save(self, credentials: dict[str, Any]) -> None:
        self.credentials = dict(credentials)
        self.saves += 1


class AccountCredentials:
    """A credential store backed by an ``Account`` row (encrypted at rest)."""

    def __init__(self, account: Any) -> None:
        self.account = account

    async def load(self) -> dict[str, Any]:
        return dict(self.account.credentials or {})

    async def save(self, credentials: dict[str, Any]) -> None:
        self.account.credentials = dict(credentials)
        await self.account.save(update_fields=["credentials", "updated_at"])


@runtime_checkable
class Source(Protocol):
    """Lists an account's short videos and downloads them."""

    async def identify(self) -> AccountInfo: ...

    async def list_new(self, cursor: Mapping[str, Any], limit: int = 20) -> ListResult:
        """Posts newer than ``cursor`` (an empty cursor lists the newest ``limit``)."""
        ...

    async def list_range(
        self, since: datetime, until: datetime, limit: int = 50
    ) -> ListResult:
        """Posts published in ``[since, until]`` (backfill), newest first."""
        ...

    async def download(
        self, post: RemotePost, dest_dir: Path, progress: Progress | None = None
    ) -> DownloadedFile: ...


@runtime_checkable
class Destination(Protocol):
    """Publishes a video, resumes an interrupted upload, verifies the result."""

    async def identify(self) -> AccountInfo: ...

    async def upload(
        self, request: UploadRequest, save_state: SaveState, progress: Progress | None = None
    ) -> UploadResult: ...

    async def resume(
        self,
        state: Mapping[str, Any],
        request: UploadRequest,
        save_state: SaveState,
        progress: Progress | None = None,
    ) -> UploadResult: ...

    async def verify(self, post_id: str, request: UploadRequest | None = None) -> VerifyResult:
        """The post's state; ``request`` (what was asked for) lets it spot a forced change."""
        ...


@runtime_checkable
class PasswordLogin(Protocol):
    """An adapter that logs in with the stored password (and a 2FA code when asked): the private API."""

    async def login(self, verification_code: str | None = None) -> AccountInfo: ...


@runtime_checkable
class TokenRefresh(Protocol):
    """An adapter that renews its own long-lived token and returns the new expiry: the Graph API."""

    async def refresh_token(self) -> datetime: ...
