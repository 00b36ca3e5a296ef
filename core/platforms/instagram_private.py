"""Instagram Reels through the private mobile API (instagrapi), as a Source and a Destination.

Login, session and challenges live in ``InstagramSession``; this adapter adds the account's
Reels on top. Upload and resume: instagrapi cannot resume a half-sent rupload, so ``upload``
records when it started and the caption's SHA-256 before sending anything, and ``resume``
first looks for a clip with that caption posted since then; only when there is none does it
upload again.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.errors import ErrorCode, ForwarderError, NotFound
from core.platforms.base import (
    CodeProvider,
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
from core.platforms.instagram_private_download import MediaDownloader, UrlExpired
from core.platforms.instagram_private_http import DEFAULT_DELAY_RANGE, DEFAULT_WEB_BASE
from core.platforms.instagram_private_media import (
    Cursor,
    Listed,
    caption_digest,
    listed,
    newest_first,
    parse_time,
)
from core.platforms.instagram_private_session import InstagramSession
from core.platforms.proxy import ProxySpec
from core.video.binary import FFmpegBinary, locate
from core.video.thumbs import thumbnail

PAGE_SIZE = 12  # what the Instagram app asks clips/user/ for
MAX_PAGES = 20  # a listing never walks further back than this many pages
CLOCK_MARGIN = timedelta(minutes=2)  # our clock vs Instagram's taken_at, when resuming


class InstagramPrivateAdapter(InstagramSession):
    """The logged-in account's Reels via instagrapi: list, download, upload, resume, verify."""

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        api_base: str | None = None,
        web_base: str = DEFAULT_WEB_BASE,
        proxy: ProxySpec | None = None,
        code_provider: CodeProvider | None = None,
        timeout: float = 30.0,
        configure_wait: float = 10.0,
        ffmpeg: FFmpegBinary | str | None = None,
        delay_range: tuple[float, float] | None = DEFAULT_DELAY_RANGE,
    ) -> None:
        """``api_base`` (a base other than Instagram's) and ``delay_range=None`` are for tests: the
        first points instagrapi at a fake, the second drops the pause before each private request."""
        super().__init__(credentials, api_base=api_base, proxy=proxy, code_provider=code_provider,
                         timeout=timeout, delay_range=delay_range)
        self.web_base = web_base.rstrip("/")
        # Seconds between clip configure attempts while Instagram transcodes (instagrapi's default).
        self.configure_wait = configure_wait
        self._ffmpeg = ffmpeg  # a binary, or the FFMPEG_BINARY setting (None: system, else bundled)
        self._downloader = MediaDownloader(proxy, timeout)

    async def __aenter__(self) -> InstagramPrivateAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP sessions (instagrapi's and the download session)."""
        await super().aclose()
        await self._downloader.aclose()

    # ---- source --------------------------------------------------------------------------

    def _clips_page(self, max_id: str, size: int) -> tuple[list[Listed], str]:
        assert self._client is not None and self._account is not None
        result = self._client.private_request("clips/user/", data={
            "target_user_id": self._account.external_id, "max_id": max_id, "page_size": size,
            "include_feed_video": "true",
        })
        items = [listed(item["media"], self.web_base) for item in result["items"]]
        paging = result.get("paging_info") or {}
        more = paging.get("more_available", True)
        return items, (str(paging.get("max_id") or "") if more else "")

    async def _pages(self, stop: Callable[[list[Listed]], bool]) -> list[Listed]:
        """Walk the account's clips newest first until ``stop(page)`` says enough."""
        seen: list[Listed] = []
        max_id = ""
        for _ in range(MAX_PAGES):
            # The app's page size, whatever the limit: bigger pages are not what the app asks for.
            page, max_id = await self.call(self._clips_page, max_id, PAGE_SIZE)
            seen.extend(page)
            if stop(page) or not max_id:
                break
        return seen

    async def list_new(self, cursor: Mapping[str, Any], limit: int = 20) -> ListResult:
        """Reels newer than ``cursor``, newest first; at most ``limit``, the oldest of them first.

        Handing out the oldest new posts first means a burst larger than ``limit`` is spread
        over the next polls instead of dropped; the returned cursor stops at what was handed out.
        """
        mark = Cursor.of(cursor)
        fresh: list[RemotePost] = []

        def enough(page: list[Listed]) -> bool:
            fresh.extend(item.post for item in page if mark.is_new(item.post))
            if mark.empty:
                return len(fresh) >= limit
            return any(mark.passed(item.post) for item in page if not item.pinned)

        await self._pages(enough)
        ordered = newest_first(fresh)
        posts = ordered[:limit] if mark.empty else ordered[-limit:] if limit > 0 else []
        next_cursor = Cursor.after(posts[0]) if posts else dict(cursor)
        return ListResult(posts=tuple(posts), cursor=next_cursor, method="private")

    async def list_range(self, since: datetime, until: datetime, limit: int = 50) -> ListResult:
        """Reels published in ``[since, until]``, newest first (backfill), paging with max_id."""
        found: list[RemotePost] = []

        def enough(page: list[Listed]) -> bool:
            found.extend(item.post for item in page
                         if item.post.published_at and since <= item.post.published_at <= until)
            older = any(item.post.published_at and item.post.published_at < since
                        for item in page if not item.pinned)
            return older or len(newest_first(found)) >= limit

        await self._pages(enough)
        posts = newest_first(found)[:limit]
        cursor = Cursor.after(posts[0]) if posts else {}
        return ListResult(posts=tuple(posts), cursor=cursor, method="private")

    async def download(self, post: RemotePost, dest_dir: Path, progress: Progress | None = None
                       ) -> DownloadedFile:
        """Stream the Reel's video through the adapter's own (proxied) session."""
        target = dest_dir / f"instagram_{post.id}.mp4"
        url = post.media_url or await self._fresh_url(post.id)
        try:
            return await self._downloader.fetch(url, target, progress)
        except UrlExpired:
            # CDN links are signed and expire; a fresh media info carries a new one.
            return await self._downloader.fetch(await self._fresh_url(post.id), target, progress)

    def _media(self, media_id: str) -> dict[str, Any]:
        assert self._client is not None
        items = self._client.private_request(f"media/{media_id}/info/").get("items") or []
        if not items:
            raise NotFound("Instagram has no such media")
        media: dict[str, Any] = items[0]
        return media

    async def _fresh_url(self, media_id: str) -> str:
        post = listed(await self.call(self._media, media_id), self.web_base).post
        if not post.media_url:
            raise NotFound("this Instagram post has no video", details={"post_id": media_id})
        return post.media_url

    # ---- destination ---------------------------------------------------------------------

    async def upload(self, request: UploadRequest, save_state: SaveState, progress: Progress | None = None
                     ) -> UploadResult:
        """Publish ``request.video_path`` as a Reel with ``request.caption``."""
        async with self._lock:
            await self.ensure()
            return await self._upload(request, save_state, progress)

    async def _upload(self, request: UploadRequest, save_state: SaveState, progress: Progress | None
                      ) -> UploadResult:
        size = await asyncio.to_thread(_size_of, request.video_path)
        workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="ig-upload-"))
        try:
            cover = request.thumbnail_path
            if cover is None:  # instagrapi would need moviepy for this
                cover = await thumbnail(request.video_path, workdir / "cover.jpg",
                                        binary=self._ffmpeg_binary())
            await save_state({"method": "private", "started_at": datetime.now(UTC).isoformat(),
                              "caption_sha256": caption_digest(request.caption)})
            if progress is not None:
                await progress(0, size)
            post_id, code = await self.run(self._clip_upload, request.video_path, request.caption, cover)
            if progress is not None:
                await progress(size, size)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)
        await self.save_session()
        return UploadResult(post_id=post_id, url=f"{self.web_base}/reel/{code}/" if code else None)

    def _ffmpeg_binary(self) -> FFmpegBinary:
        return self._ffmpeg if isinstance(self._ffmpeg, FFmpegBinary) else locate(self._ffmpeg)

    def _clip_upload(self, path: Path, caption: str, cover: Path) -> tuple[str, str]:
        assert self._client is not None
        media = self._client.clip_upload(Path(path), caption, thumbnail=Path(cover),
                                         configure_timeout=self.configure_wait)
        return str(media.pk), str(media.code or "")

    async def resume(self, state: Mapping[str, Any], request: UploadRequest, save_state: SaveState,
                     progress: Progress | None = None) -> UploadResult:
        """Return the clip an interrupted upload already posted, else upload again."""
        started, digest = parse_time(state.get("started_at")), state.get("caption_sha256")
        if started is not None and digest:
            since = started - CLOCK_MARGIN
            found: list[RemotePost] = []

            def enough(page: list[Listed]) -> bool:
                found.extend(item.post for item in page if item.post.published_at
                             and item.post.published_at >= since
                             and caption_digest(item.post.caption) == digest)
                return bool(found) or any(item.post.published_at and item.post.published_at < since
                                          for item in page if not item.pinned)

            await self._pages(enough)
            if found:
                post = newest_first(found)[-1]  # the first one posted since the upload began
                return UploadResult(post_id=post.id, url=post.permalink, already_published=True)
        async with self._lock:
            await self.ensure()
            return await self._upload(request, save_state, progress)

    async def verify(self, post_id: str, request: UploadRequest | None = None) -> VerifyResult:
        """LIVE with its URL while Instagram serves the media, MISSING once it is gone."""
        try:
            post = listed(await self.call(self._media, post_id), self.web_base).post
        except NotFound:
            return VerifyResult(post_id, PublishState.MISSING, detail="Instagram no longer has this media")
        return VerifyResult(post_id, PublishState.LIVE, url=post.permalink)


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        raise ForwarderError(f"the video to upload is missing: {path.name}", code=ErrorCode.INTERNAL_ERROR,
                             details={"path": str(path)}) from None
