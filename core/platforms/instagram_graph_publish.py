"""Publishing a reel through the Graph API: limit check, container, bytes, polling, publish, resume.

A container is published at most once: ``media_publish`` is sent only right after the container
reported FINISHED, and when a publish call fails (or its reply is lost) the container's status
decides: PUBLISHED means it went through, so the media id is recovered instead of publishing again.

Bytes (Facebook Login accounts without a public link): ``POST {upload_base}/{container-id}`` with
``offset: 0`` and ``file_size`` headers, as Meta documents
(https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads). Meta
documents no way to ask the upload host how many bytes it holds, so an interrupted transfer is not
continued at a guessed offset: the container it was for is abandoned (it is never published and
expires after 24 h) and a new container gets the whole file. Instagram Login accounts cannot use the
upload host at all (same page: "available only for apps that have implemented Facebook Login for
Business"); they publish from ``public_video_url`` or not at all, with a message saying why.

Status polling follows Meta's cadence: the first read right after the bytes, then once a minute
(``poll_interval``), for up to ``poll_timeout`` (30 minutes by default) per attempt; a container still
processing after that is picked up again by the next attempt (its id is in the saved state).

Recovering the media id of a PUBLISHED container: Graph does not link a container to its media, so
the account's reels created since the container (``since`` = its creation time minus two minutes)
are listed and the earliest one whose caption equals the request's caption is taken. Until it is
listed the step fails with a TransientError (never a second publish).

Publishing limit: ``content_publishing_limit`` counts API posts in a rolling window (24 h). When it
is used up, ``reset_at`` is the earliest moment a slot can free: the oldest post of the window plus
the window length (never sooner than a minute away, never later than one window). Posts made in the
app do not count, so the estimate can be early; the re-check at that time then defers again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from core.errors import ErrorCode, ForwarderError, NotFound, QuotaExceeded, TransientError
from core.platforms.base import Progress, SaveState, UploadRequest, UploadResult
from core.platforms.instagram_graph_http import INSTAGRAM_LOGIN, as_int, container_error

STATUS_FIELDS = "status_code,status"
POLL_TRANSIENT_TOLERANCE = 3
RECOVERY_SLACK = timedelta(minutes=2)
MIN_RESET = timedelta(minutes=1)


class GraphApi(Protocol):
    """What the publisher needs from the adapter."""

    clock: Callable[[], datetime]
    poll_interval: float
    poll_timeout: float

    async def call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                   data: Mapping[str, str] | None = None) -> dict[str, Any]: ...

    async def ig_user_id(self) -> str: ...

    async def rupload(self, container_id: str, path: Path, offset: int, size: int,
                      progress: Progress | None) -> None: ...

    async def login_type(self) -> str: ...


def parse_time(value: Any) -> datetime | None:
    """Graph's ``2024-05-01T12:00:00+0000`` (or any ISO time) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _items(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = doc.get("data")
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


async def _file_size(path: Path) -> int:
    try:
        return (await asyncio.to_thread(path.stat)).st_size
    except OSError as exc:
        raise ForwarderError(f"the video file cannot be read ({exc.strerror or type(exc).__name__})",
                             code=ErrorCode.INTERNAL_ERROR) from None


class ReelPublisher:
    """Runs the container lifecycle for one adapter."""

    def __init__(self, api: GraphApi) -> None:
        self.api = api

    # -- entry points -------------------------------------------------------------------

    async def upload(self, request: UploadRequest, save_state: SaveState,
                     progress: Progress | None) -> UploadResult:
        """A fresh container: check the limit, create, save state, send bytes, wait, publish."""
        ig = await self.api.ig_user_id()
        await self.check_limit(ig)
        size = await _file_size(request.video_path)
        form = {"media_type": "REELS", "share_to_feed": "true"}
        if request.caption:
            form["caption"] = request.caption
        mode = "video_url" if request.public_video_url else "resumable"
        if mode == "resumable" and await self.api.login_type() == INSTAGRAM_LOGIN:
            raise ForwarderError(
                "Instagram Login accounts can publish only from a public https link to the video (Meta "
                "offers file uploads to Facebook Login apps only), and this server has none",
                code=ErrorCode.CONFIGURATION,
                hint="Set PUBLIC_BASE_URL to this server's https address (Meta fetches the video from "
                     "it), or add the account with Facebook Login instead.")
        if request.public_video_url:
            form["video_url"] = request.public_video_url  # Meta fetches it while the container processes
        else:
            form["upload_type"] = "resumable"
        doc = await self._refining_quota(ig, self.api.call("POST", f"{ig}/media", data=form))
        container_id = str(doc.get("id") or "")
        if not container_id:
            raise TransientError("Instagram Graph created no container id")
        state: dict[str, Any] = {"method": "graph", "container_id": container_id, "upload": mode,
                                 "file_size": size, "created_at": self.api.clock().isoformat()}
        await save_state(dict(state))  # before any byte: a crash from here on resumes this container
        if mode == "resumable":
            await self._send(container_id, request.video_path, size, 0, progress)
            state["uploaded"] = True
            await save_state(dict(state))
        return await self._finish(ig, state, request, save_state, resumed_from=0, resumed=False)

    async def resume(self, state: Mapping[str, Any], request: UploadRequest, save_state: SaveState,
                     progress: Progress | None) -> UploadResult:
        """Finish what ``state`` describes; publish only a FINISHED container, and only once."""
        if state.get("media_id"):
            media_id = str(state["media_id"])
            return UploadResult(post_id=media_id, url=await self.permalink(media_id), already_published=True)
        container_id = state.get("container_id")
        if not container_id or state.get("method", "graph") != "graph":
            return await self.upload(request, save_state, progress)
        try:
            status = await self.status(str(container_id))
        except NotFound:
            return await self.upload(request, save_state, progress)  # unknown or purged container
        ig = await self.api.ig_user_id()
        work = {**state, "method": "graph", "container_id": str(container_id)}
        code = status.get("status_code")
        if code not in ("FINISHED", "IN_PROGRESS", "PUBLISHED"):
            return await self.upload(request, save_state, progress)  # ERROR, EXPIRED: a new container
        if code == "IN_PROGRESS" and work.get("upload") == "resumable" and not work.get("uploaded"):
            # The transfer broke and Meta documents no way to continue it: a new container (see above).
            return await self.upload(request, save_state, progress)
        return await self._finish(ig, work, request, save_state, resumed_from=as_int(work.get("file_size")),
                                  resumed=True)

    # -- steps --------------------------------------------------------------------------

    async def _send(self, container_id: str, path: Path, size: int, offset: int,
                    progress: Progress | None) -> None:
        """Send the bytes from ``offset`` (0: the whole file, the documented request)."""
        await self.api.rupload(container_id, path, offset, size, progress)

    async def _finish(self, ig: str, state: dict[str, Any], request: UploadRequest, save_state: SaveState,
                      *, resumed_from: int, resumed: bool) -> UploadResult:
        container_id = str(state["container_id"])
        code = await self.wait(container_id)
        if code == "PUBLISHED":
            media_id = await self.find_published(ig, state, request)
        else:
            media_id = await self.publish(ig, state, request)
        state["media_id"] = media_id
        await save_state(dict(state))
        return UploadResult(post_id=media_id, url=await self.permalink(media_id), resumed_from=resumed_from,
                            already_published=resumed and code == "PUBLISHED")

    async def status(self, container_id: str) -> dict[str, Any]:
        """The container's ``status_code`` and ``status``."""
        return await self.api.call("GET", container_id, params={"fields": STATUS_FIELDS})

    async def wait(self, container_id: str) -> str:
        """Poll until FINISHED or PUBLISHED; ERROR, EXPIRED and the poll timeout raise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.api.poll_timeout
        hiccups = 0
        while True:
            try:
                doc = await self.status(container_id)
                hiccups = 0
            except TransientError as exc:
                # A lost poll is no reason to abandon a processing container; a throttle is.
                hiccups += 1
                if exc.code is ErrorCode.API_RATE_LIMIT or hiccups > POLL_TRANSIENT_TOLERANCE:
                    raise
                doc = {}
            code = doc.get("status_code")
            if code in ("FINISHED", "PUBLISHED"):
                return str(code)
            if code == "ERROR":
                raise container_error(container_id, str(doc.get("status") or ""))
            if code == "EXPIRED":
                raise TransientError("the Instagram container expired before it was published; "
                                     "a new one will be made",
                                     details={"container_id": container_id, "status_code": "EXPIRED"})
            if loop.time() >= deadline:
                waited = f"{self.api.poll_timeout:g}"
                raise TransientError(f"Instagram was still processing the reel after {waited} s",
                                     details={"container_id": container_id, "status_code": code})
            await asyncio.sleep(self.api.poll_interval)

    async def publish(self, ig: str, state: Mapping[str, Any], request: UploadRequest) -> str:
        """``media_publish`` once; if it fails, the container's status tells whether it went through."""
        container_id = str(state["container_id"])
        try:
            doc = await self._refining_quota(
                ig, self.api.call("POST", f"{ig}/media_publish", data={"creation_id": container_id}))
        except ForwarderError as failure:
            try:
                status = await self.status(container_id)
            except ForwarderError:
                raise failure from None
            if status.get("status_code") == "PUBLISHED":
                return await self.find_published(ig, state, request)
            raise
        media_id = str(doc.get("id") or "")
        if not media_id:
            return await self.find_published(ig, state, request)
        return media_id

    async def find_published(self, ig: str, state: Mapping[str, Any], request: UploadRequest) -> str:
        """The media id of a container published without us seeing the reply (see module docstring)."""
        created = parse_time(state.get("created_at"))
        now = self.api.clock()
        since = (created or now - timedelta(days=1)) - RECOVERY_SLACK
        params = {"fields": "id,caption,timestamp,media_product_type", "limit": "50",
                  "since": str(int(since.timestamp()))}
        doc = await self.api.call("GET", f"{ig}/media", params=params)
        caption = request.caption.strip()
        matches = []
        for item in _items(doc):
            stamp = parse_time(item.get("timestamp"))
            if item.get("media_product_type") not in (None, "REELS") or not item.get("id"):
                continue
            if stamp is not None and stamp < since:
                continue
            if (item.get("caption") or "").strip() == caption:
                matches.append((stamp or now, str(item["id"])))
        if not matches:
            raise TransientError("Instagram reports the reel published but does not list it yet",
                                 details={"container_id": state.get("container_id")})
        return min(matches)[1]

    async def permalink(self, media_id: str) -> str | None:
        """The reel's public URL; None when Graph will not say right now (the post exists anyway)."""
        try:
            doc = await self.api.call("GET", media_id, params={"fields": "permalink"})
        except ForwarderError:
            return None
        return str(doc["permalink"]) if doc.get("permalink") else None

    # -- publishing limit ---------------------------------------------------------------

    async def check_limit(self, ig: str) -> None:
        """Raise QuotaExceeded when the rolling publishing limit is used up."""
        doc = await self.api.call("GET", f"{ig}/content_publishing_limit",
                                  params={"fields": "config,quota_usage"})
        entries = doc.get("data")
        entry = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else {}
        config: dict[str, Any] = entry["config"] if isinstance(entry.get("config"), dict) else {}
        usage = as_int(entry.get("quota_usage"))
        total = as_int(config.get("quota_total"))
        window = as_int(config.get("quota_duration")) or 86400
        if total and usage >= total:
            raise QuotaExceeded(f"Instagram publishing limit reached ({usage} of {total} posts per "
                                f"{window // 3600} h)", reset_at=await self.reset_at(ig, window),
                                details={"quota_usage": usage, "quota_total": total})

    async def reset_at(self, ig: str, window: int = 86400) -> datetime:
        """When the oldest post of the rolling window leaves it (see module docstring)."""
        now = self.api.clock()
        span = timedelta(seconds=window)
        try:
            doc = await self.api.call("GET", f"{ig}/media", params={
                "fields": "id,timestamp", "limit": "100", "since": str(int((now - span).timestamp()))})
        except ForwarderError:
            return now + span
        stamps = [t for t in (parse_time(i.get("timestamp")) for i in _items(doc))
                  if t is not None and t > now - span]
        if not stamps:
            return now + span
        return min(max(min(stamps) + span, now + MIN_RESET), now + span)

    async def _refining_quota(self, ig: str, call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """Await a create/publish call; a publish-limit error gets the window-based ``reset_at``."""
        try:
            return await call
        except QuotaExceeded as exc:
            raise QuotaExceeded(exc.message, reset_at=await self.reset_at(ig), details={
                k: v for k, v in exc.details.items() if k != "reset_at"}) from None
