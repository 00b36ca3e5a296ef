"""YouTube as a destination: resumable ``videos.insert``, resume after a crash, verify.

The session URI is created first and handed to ``save_state`` before any byte is sent.
``resume`` asks the server how far it got (``Content-Range: bytes */N``): a 200 means the
upload had finished (the video id comes back, nothing is sent again), a 308 continues from
the stored offset, a 404 means the session expired, and then the channel's newest uploads
are searched for the video before a new upload starts: the RSS feed first (0 units), then
the uploads playlist (``playlistItems.list``, 1 unit), because the feed can be down and
lists public videos only, while an API upload is often private (or locked to private).
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from core.errors import ForwarderError, NotFound
from core.platforms.base import (
    AccountInfo,
    Privacy,
    Progress,
    PublishState,
    SaveState,
    UploadRequest,
    UploadResult,
    VerifyResult,
    progress_from_thread,
)
from core.platforms.youtube import YouTubeSource
from core.platforms.youtube_client import YouTubeClient

TITLE_MAX = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
CHUNK = 8 * 1024 * 1024
LOCKED_PRIVATE = (
    "YouTube made the upload private: videos uploaded through an unaudited Google Cloud project are "
    "locked to private. Request the YouTube API audit for the project, or publish the video by hand."
)


def _clean(text: str) -> str:
    text = text.replace("<", "").replace(">", "")
    # Format characters (Cf) stay: zero-width joiners hold emoji like 👨‍👩‍👧 together, and
    # right-to-left marks order Arabic and Hebrew text.
    return "".join(ch for ch in text
                   if ch in "\n\t" or unicodedata.category(ch)[0] != "C" or unicodedata.category(ch) == "Cf")


def youtube_title(text: str, fallback: str = "Short") -> str:
    """A title YouTube accepts: no ``<``/``>``, one line, at most 100 characters, not empty."""
    title = " ".join(_clean(text).split())
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1].rstrip() + "…"
    return title or fallback


def youtube_description(text: str) -> str:
    """A description YouTube accepts: no ``<``/``>``, at most 5000 bytes of UTF-8."""
    data = _clean(text).encode()
    if len(data) <= DESCRIPTION_MAX_BYTES:
        return data.decode()
    return data[:DESCRIPTION_MAX_BYTES].decode(errors="ignore")


def youtube_tags(tags: tuple[str, ...] | list[str]) -> list[str]:
    """Tags within YouTube's 500-character budget (a tag with a space counts its quotes)."""
    out: list[str] = []
    used = 0
    for raw in tags:
        tag = " ".join(_clean(raw).lstrip("#").split()).replace(",", "")
        if not tag or tag in out:
            continue
        cost = len(tag) + (2 if " " in tag else 0) + (1 if out else 0)
        if used + cost > TAGS_MAX_CHARS:
            break
        out.append(tag)
        used += cost
    return out


def _range_end(header: str | None) -> int:
    """Bytes stored according to a ``Range: bytes=0-N`` header."""
    m = re.fullmatch(r"bytes=0-(\d+)", header or "")
    return int(m[1]) + 1 if m else 0


class _ChunkUpload(MediaFileUpload):
    """Sends each chunk as bytes read from the file, not as a slice of the open file.

    httplib2 sends a request once more, by itself, when the server dropped the connection
    without an answer; a file slice is then already read to its end, so the second PUT carried
    a Content-Length but no body, and hung until the socket timeout (60 s) while the server
    waited for the bytes. Bytes are sent again whole. A chunk is at most ``CHUNK`` in memory.
    """

    def has_stream(self) -> bool:
        return False


def _close(insert: Any) -> None:
    """Close the file MediaFileUpload opened (it would stay open until garbage collection)."""
    insert.resumable.stream().close()


class YouTubeDestination:
    """A YouTube channel as the destination of Shorts."""

    def __init__(self, client: YouTubeClient, *, web_base: str = "https://www.youtube.com",
                 chunk_size: int = CHUNK, source: YouTubeSource | None = None) -> None:
        self.client = client
        self.web_base = web_base.rstrip("/")
        self.chunk_size = chunk_size
        self.source = source or YouTubeSource(client, web_base=web_base, proxy=client.proxy)

    async def aclose(self) -> None:
        """Close the client's connections."""
        self.client.close()

    async def __aenter__(self) -> YouTubeDestination:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def identify(self) -> AccountInfo:
        """The authorized channel."""
        return await self.source.identify()

    def _url(self, video_id: str) -> str:
        return f"{self.web_base}/shorts/{video_id}"

    def _body(self, request: UploadRequest) -> dict[str, Any]:
        return {
            "snippet": {
                "title": youtube_title(request.title or request.caption),
                "description": youtube_description(request.description),
                "tags": youtube_tags(request.tags),
                "categoryId": request.category_id,
            },
            "status": {
                "privacyStatus": Privacy(request.privacy).value,
                "selfDeclaredMadeForKids": request.made_for_kids,
            },
        }

    async def _request(self, request: UploadRequest) -> Any:
        if not request.video_path.is_file():
            raise NotFound(f"The video to upload is missing: {request.video_path.name}")
        service = await self.client.service()
        media = _ChunkUpload(str(request.video_path), mimetype="video/mp4",
                             chunksize=self.chunk_size, resumable=True)
        insert = service.videos().insert(part="snippet,status", body=self._body(request), media_body=media,
                                         notifySubscribers=request.notify_subscribers)
        insert.http = self.client.http  # the shared resource's requests run on this account's connection
        return insert

    async def upload(self, request: UploadRequest, save_state: SaveState,
                     progress: Progress | None = None) -> UploadResult:
        """Open a resumable session, checkpoint it, then send the file in chunks."""
        insert = await self._request(request)
        try:
            await self.client.spend_upload()
            session_uri = await self.client.run("videos.insert", lambda: self._open(insert))
        except BaseException:
            _close(insert)
            raise
        total = request.video_path.stat().st_size
        await save_state({
            "method": "youtube_resumable", "session_uri": session_uri, "total": total,
            "started_at": datetime.now(UTC).isoformat(), "title": self._body(request)["snippet"]["title"],
        })
        return await self._send(insert, session_uri, 0, total, progress)

    def _open(self, insert: Any) -> str:
        """POST the metadata, get the session URI (googleapiclient's own start, without the first chunk)."""
        headers = dict(insert.headers)
        headers["X-Upload-Content-Type"] = insert.resumable.mimetype()
        headers["X-Upload-Content-Length"] = str(insert.resumable.size())
        headers["content-length"] = str(insert.body_size)
        resp, content = insert.http.request(insert.uri, method=insert.method, body=insert.body,
                                            headers=headers)
        if resp.status == 200 and "location" in resp:
            return str(resp["location"])
        raise HttpError(resp, content, uri=insert.uri)

    async def _send(self, insert: Any, session_uri: str, offset: int, total: int,
                    progress: Progress | None) -> UploadResult:
        insert.resumable_uri = session_uri
        insert.resumable_progress = offset
        report = progress_from_thread(asyncio.get_running_loop(), progress)

        def chunks() -> dict[str, Any]:
            while True:
                status, response = insert.next_chunk(num_retries=self.client.num_retries)
                if status is not None:
                    report(status.resumable_progress, total)
                if response is not None:
                    return dict(response)

        try:
            video = await self.client.run("videos.insert", chunks)
        finally:
            _close(insert)
        if progress is not None:
            await progress(total, total)
        return UploadResult(post_id=video["id"], url=self._url(video["id"]), resumed_from=offset)

    async def resume(self, state: Mapping[str, Any], request: UploadRequest, save_state: SaveState,
                     progress: Progress | None = None) -> UploadResult:
        """Continue the upload in ``state`` from where the server stopped; never upload twice."""
        session_uri = state.get("session_uri")
        if not session_uri:
            return await self.upload(request, save_state, progress)
        total = request.video_path.stat().st_size
        try:
            status, headers, body = await self.client.run(
                "videos.insert resume", lambda: self._query(str(session_uri), total))
        except NotFound:
            status, headers, body = 404, {}, None
        if status in (200, 201) and body:
            return UploadResult(post_id=body["id"], url=self._url(body["id"]), resumed_from=total,
                                already_published=True)
        if status == 308:
            insert = await self._request(request)
            offset = _range_end(headers.get("range"))
            return await self._send(insert, str(session_uri), offset, total, progress)
        # The session is gone (404/410): look for the video before uploading again.
        found = await self._find_uploaded(state, request)
        if found is not None:
            return found
        return await self.upload(request, save_state, progress)

    def _query(self, session_uri: str, total: int) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        headers = {"Content-Range": f"bytes */{total}", "content-length": "0"}
        resp, content = self.client.http.request(session_uri, "PUT", body=b"", headers=headers)
        if resp.status in (200, 201):
            return resp.status, dict(resp), json.loads(content)
        if resp.status in (308, 404, 410):
            return resp.status, dict(resp), None
        raise HttpError(resp, content, uri=session_uri)

    def _match(self, entries: list[dict[str, Any]], title: str,
               since: datetime | None) -> UploadResult | None:
        """The entry with this title published since ``since`` (how the feed check always matched)."""
        for entry in entries:
            if entry["title"] == title and (since is None or (entry["published"] or since) >= since):
                return UploadResult(post_id=entry["id"], url=self._url(entry["id"]), already_published=True)
        return None

    async def _find_uploaded(self, state: Mapping[str, Any], request: UploadRequest) -> UploadResult | None:
        """The channel's uploads since the session began, searched for this title: the RSS feed
        (0 units), then the uploads playlist (1 unit, plus 1 for channels.list the first time).

        The feed is public: it can be down, and it leaves out private videos, which is what an
        unaudited project's uploads are. The uploads playlist lists every upload of the channel
        ("YouTube also uses a playlist to identify a channel's list of uploaded videos, with each
        playlistItem in that list representing one uploaded video",
        https://developers.google.com/youtube/v3/docs/playlistItems), private ones included for
        the owner's token. If the playlist cannot be read the error propagates: the job retries
        later instead of risking a second copy of the video.
        """
        started = state.get("started_at")
        since = datetime.fromisoformat(started) - timedelta(minutes=5) if started else None
        title = state.get("title") or self._body(request)["snippet"]["title"]
        try:
            found = self._match(await self.source.feed(), title, since)
        except ForwarderError:
            found = None  # the feed is down: the playlist decides
        if found is not None:
            return found
        return self._match(await self.source.recent_uploads(since), title, since)

    async def verify(self, post_id: str, request: UploadRequest | None = None) -> VerifyResult:
        """Upload, processing and privacy status (1 unit); flags a forced-private upload."""
        body = await self.client.call("videos.list", 1, lambda yt: yt.videos().list(
            part="status,processingDetails", id=post_id))
        items = body.get("items") or []
        if not items:
            return VerifyResult(post_id=post_id, state=PublishState.MISSING,
                                detail="YouTube does not list the video (deleted or never finished)")
        status = items[0].get("status", {})
        upload = status.get("uploadStatus", "")
        privacy = status.get("privacyStatus")
        wanted = Privacy(request.privacy).value if request else None
        locked = privacy == "private" and wanted in ("public", "unlisted")
        state = {
            "processed": PublishState.LIVE, "uploaded": PublishState.PROCESSING,
            "failed": PublishState.FAILED, "rejected": PublishState.REJECTED, "deleted": PublishState.MISSING,
        }.get(upload, PublishState.PROCESSING)
        detail = status.get("failureReason") or status.get("rejectionReason") or ""
        if locked:
            detail = LOCKED_PRIVATE
        return VerifyResult(post_id=post_id, state=state, url=self._url(post_id), privacy=privacy,
                            locked_private=locked, detail=detail)
