"""In-memory adapters at the port (``core.platforms.base``) for pipeline state-machine tests.

The wire-level fakes prove the adapters; these prove the pipeline around them, with
failures injected at exact points: before or after an upload's state is saved, after
the destination finished but before the caller heard of it, and so on. A "crash" is an
``asyncio.CancelledError``, which the pipeline does not catch, like a killed worker.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ForwarderError
from core.models import Account
from core.platforms.base import (
    AccountInfo,
    CredentialStore,
    DownloadedFile,
    ListResult,
    Progress,
    PublishState,
    RemotePost,
    SaveState,
    UploadRequest,
    UploadResult,
    VerifyResult,
)
from core.platforms.factory import PlatformFactory
from core.platforms.proxy import ProxySpec


class Crash(asyncio.CancelledError):
    """Stands for a worker killed at this point."""


@dataclass
class MemoryAccount:
    """One account's world: its posts (as a source), what it published (as a destination)."""

    clip: Path
    posts: list[RemotePost] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    faults: list[tuple[str, BaseException]] = field(default_factory=list)
    proxies: list[str | None] = field(default_factory=list)
    verify_state: PublishState = PublishState.LIVE

    def add_post(self, **kwargs: Any) -> RemotePost:
        kwargs.setdefault("id", "p" + secrets.token_hex(4))
        kwargs.setdefault("published_at", datetime.now(UTC))
        kwargs.setdefault("caption", f"post {len(self.posts) + 1} #fun")
        kwargs.setdefault("permalink", f"https://example.invalid/reel/{kwargs['id']}")
        post = RemotePost(**kwargs)
        self.posts.insert(0, post)
        return post

    def fail(self, point: str, error: BaseException, times: int = 1) -> None:
        """Raise ``error`` at ``point`` the next ``times`` times."""
        self.faults.extend([(point, error)] * times)

    def _maybe_fail(self, point: str) -> None:
        self.calls[point] += 1
        for i, (where, error) in enumerate(self.faults):
            if where == point:
                del self.faults[i]
                raise error


class MemoryAdapter:
    """Source and destination over a ``MemoryAccount``."""

    def __init__(self, world: MemoryAccount, proxy: ProxySpec | None) -> None:
        self.world = world
        world.proxies.append(proxy.label if proxy else None)

    async def aclose(self) -> None:
        pass

    async def identify(self) -> AccountInfo:
        self.world._maybe_fail("identify")
        return AccountInfo(external_id="memory")

    async def list_new(self, cursor: Mapping[str, Any], limit: int = 20) -> ListResult:
        self.world._maybe_fail("list")
        seen = set(cursor.get("seen", []))
        fresh = [p for p in self.world.posts if p.id not in seen][:limit]
        return ListResult(posts=tuple(fresh), cursor={"seen": [p.id for p in fresh] + list(seen)},
                          method="memory")

    async def list_range(self, since: datetime, until: datetime, limit: int = 50) -> ListResult:
        self.world._maybe_fail("list_range")
        posts = [p for p in self.world.posts if p.published_at and since <= p.published_at <= until][:limit]
        return ListResult(posts=tuple(posts), cursor={}, method="memory")

    async def download(self, post: RemotePost, dest_dir: Path, progress: Progress | None = None
                       ) -> DownloadedFile:
        self.world._maybe_fail("download")
        dest_dir.mkdir(parents=True, exist_ok=True)
        path = dest_dir / f"{post.id}.mp4"
        shutil.copyfile(self.world.clip, path)
        if progress:
            await progress(path.stat().st_size, path.stat().st_size)
        return DownloadedFile.of(path)

    async def upload(self, request: UploadRequest, save_state: SaveState,
                     progress: Progress | None = None) -> UploadResult:
        self.world._maybe_fail("upload_start")
        session = secrets.token_hex(6)
        self.world.sessions[session] = {"done": False, "request": request}
        await save_state({"session": session})
        return await self._finish(session, request)

    async def _finish(self, session: str, request: UploadRequest) -> UploadResult:
        self.world._maybe_fail("upload_bytes")  # the state is saved, nothing published yet
        post_id = "d" + secrets.token_hex(4)
        self.world.published.append({"id": post_id, "title": request.title, "caption": request.caption,
                                     "description": request.description, "tags": request.tags,
                                     "privacy": request.privacy.value,
                                     "size": request.video_path.stat().st_size})
        self.world.sessions[session].update(done=True, post_id=post_id)
        self.world._maybe_fail("upload_done")  # published, but the caller never hears of it
        return UploadResult(post_id=post_id, url=f"https://dest.invalid/{post_id}")

    async def resume(self, state: Mapping[str, Any], request: UploadRequest, save_state: SaveState,
                     progress: Progress | None = None) -> UploadResult:
        self.world.calls["resume"] += 1
        session = self.world.sessions.get(state.get("session", ""))
        if session is None:
            return await self.upload(request, save_state, progress)
        if session["done"]:
            return UploadResult(post_id=session["post_id"], url=f"https://dest.invalid/{session['post_id']}",
                                already_published=True)
        return await self._finish(str(state["session"]), request)

    async def submit_security_code(self, code: str) -> AccountInfo:
        self.world._maybe_fail("security_code")
        self.world.calls["code:" + code] += 1
        return AccountInfo(external_id="memory")

    async def verify(self, post_id: str, request: UploadRequest | None = None) -> VerifyResult:
        self.world._maybe_fail("verify")
        known = any(p["id"] == post_id for p in self.world.published)
        return VerifyResult(post_id=post_id, state=self.world.verify_state if known else PublishState.MISSING)


class MemoryPlatforms(PlatformFactory):
    """A factory serving ``MemoryAdapter``s by account id."""

    def __init__(self, clip: Path) -> None:
        self.clip = clip
        self.worlds: dict[int, MemoryAccount] = {}

    def world(self, account: Account | int) -> MemoryAccount:
        key = account if isinstance(account, int) else account.id
        return self.worlds.setdefault(key, MemoryAccount(self.clip))

    @asynccontextmanager
    async def source(self, account: Account, proxy: ProxySpec | None = None,
                     store: CredentialStore | None = None) -> AsyncIterator[Any]:
        yield MemoryAdapter(self.world(account), proxy)

    @asynccontextmanager
    async def destination(self, account: Account, proxy: ProxySpec | None = None,
                          store: CredentialStore | None = None,
                          code_provider: Any = None) -> AsyncIterator[Any]:
        yield MemoryAdapter(self.world(account), proxy)


def error(cls: type[ForwarderError], message: str = "injected", **kwargs: Any) -> ForwarderError:
    """An injected domain error."""
    return cls(message, **kwargs)
