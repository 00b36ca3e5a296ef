"""YouTube as a source: detect new uploads for (almost) no quota, classify Shorts, download.

Detection, cheapest first:

1. the channel's RSS feed (0 units) lists its ~15 newest uploads; entries whose link is
   ``/shorts/ID`` are Shorts by YouTube's own classification, so they cost nothing more;
2. ``videos.list`` (1 unit per 50 ids) only for ids never seen before whose feed link does
   not say ``/shorts/``: Shorts are up to 180 s and square or taller;
3. the uploads playlist through ``playlistItems.list`` (1 unit per 50) when the feed fails
   or may have a gap (none of its entries was seen before). ``search.list`` is never used.

Downloads go through yt-dlp with the account's proxy (remote DNS for SOCKS5), the
JavaScript runtime installed with the project, and the account's optional cookies.txt
(credential key ``cookies_txt``, see ``core.platforms.youtube_cookies``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from core.errors import AuthError, ErrorCode, ForwarderError, NotFound, TransientError
from core.platforms.base import (
    AccountInfo,
    CredentialStore,
    DownloadedFile,
    ListResult,
    Progress,
    RemotePost,
)
from core.platforms.proxy import ProxySpec, aiohttp_connector, classify_proxy_failure
from core.platforms.youtube_client import YouTubeClient
from core.platforms.youtube_cookies import COOKIES_KEY, parse_cookies_txt
from core.platforms.youtube_download import download_with_ytdlp

SHORT_MAX_SECONDS = 180
SEEN_KEEP = 300
ATOM = "{http://www.w3.org/2005/Atom}"
YT = "{http://www.youtube.com/xml/schemas/2015}"
MEDIA = "{http://search.yahoo.com/mrss/}"


def parse_duration(text: str) -> float | None:
    """Seconds of an ISO 8601 duration such as ``PT1M5S`` (None when unreadable)."""
    m = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", text or "")
    if not m or not any(m.groups()):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_feed(xml: bytes) -> list[dict[str, Any]]:
    """The entries of a channel's Atom feed: id, title, description, published, is_short."""
    try:
        root = ET.fromstring(xml)  # noqa: S314 - expat >= 2.4 refuses entity expansion bombs
    except ET.ParseError as exc:
        raise TransientError(f"The YouTube feed is not valid XML ({exc})") from None
    entries = []
    for entry in root.iter(f"{ATOM}entry"):
        vid = entry.findtext(f"{YT}videoId")
        if not vid:
            continue
        link = entry.find(f"{ATOM}link")
        href = link.get("href", "") if link is not None else ""
        entries.append({
            "id": vid,
            "title": entry.findtext(f"{ATOM}title") or "",
            "description": entry.findtext(f"{MEDIA}group/{MEDIA}description") or "",
            "published": _when(entry.findtext(f"{ATOM}published")),
            "is_short": "/shorts/" in href,
        })
    return entries


class YouTubeSource:
    """A YouTube channel as a source of Shorts."""

    def __init__(
        self,
        client: YouTubeClient,
        *,
        channel_id: str | None = None,
        web_base: str = "https://www.youtube.com",
        proxy: ProxySpec | None = None,
        cookies_file: Path | None = None,
        ffmpeg: str | None = None,
        timeout: float = 30.0,
        credentials: CredentialStore | None = None,
    ) -> None:
        self.client = client
        self.channel_id = channel_id
        self.web_base = web_base.rstrip("/")
        self.proxy = proxy
        self.cookies_file = cookies_file
        self.credentials = credentials if credentials is not None else client.store
        """Where the account's optional ``cookies_txt`` is read at download time."""
        self._upload_cursor: dict[str, Any] = {}  # the uploads playlist id, once resolved
        self.ffmpeg = ffmpeg
        self.timeout = timeout

    async def aclose(self) -> None:
        """Close the client's connections."""
        self.client.close()

    async def __aenter__(self) -> YouTubeSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- identity ------------------------------------------------------------------

    async def identify(self) -> AccountInfo:
        """The authorized channel (1 unit)."""
        body = await self.client.call("channels.list", 1, lambda yt: yt.channels().list(
            part="snippet,contentDetails", mine=True))
        items = body.get("items") or []
        if not items:
            raise NotFound("This Google account has no YouTube channel; create one, then authorize again")
        item = items[0]
        self.channel_id = item["id"]
        return AccountInfo(
            external_id=item["id"], username=item.get("snippet", {}).get("customUrl"),
            title=item.get("snippet", {}).get("title"),
            extra={"uploads_playlist": item["contentDetails"]["relatedPlaylists"]["uploads"]},
        )

    async def _channel(self) -> str:
        if not self.channel_id:
            await self.identify()
        assert self.channel_id
        return self.channel_id

    async def _uploads_playlist(self, cursor: dict[str, Any]) -> str:
        """Resolved once per connection and kept in its cursor."""
        if cursor.get("uploads_playlist"):
            return str(cursor["uploads_playlist"])
        channel = await self._channel()
        body = await self.client.call("channels.list", 1, lambda yt: yt.channels().list(
            part="contentDetails", id=channel))
        items = body.get("items") or []
        if not items:
            raise NotFound(f"YouTube channel {channel} was not found")
        cursor["uploads_playlist"] = items[0]["contentDetails"]["relatedPlaylists"]["uploads"]
        return str(cursor["uploads_playlist"])

    # ---- detection -----------------------------------------------------------------

    async def feed(self) -> list[dict[str, Any]]:
        """The channel's RSS entries (0 quota units)."""
        channel = await self._channel()
        url = f"{self.web_base}/feeds/videos.xml"
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        connector = aiohttp_connector(self.proxy) if self.proxy else None
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session, \
                    session.get(url, params={"channel_id": channel}) as response:
                if response.status != 200:
                    raise TransientError(f"The YouTube feed answered {response.status}",
                                         details={"status": response.status})
                return parse_feed(await response.read())
        except ForwarderError:
            raise
        except TimeoutError:
            raise TransientError("The YouTube feed did not answer in time",
                                 code=ErrorCode.NETWORK_TIMEOUT) from None
        except (aiohttp.ClientError, OSError) as exc:
            if self.proxy is not None and not isinstance(exc, aiohttp.ClientResponseError):
                raise classify_proxy_failure(exc, self.proxy) from None
            raise TransientError(f"The YouTube feed is unreachable: {type(exc).__name__}",
                                 code=ErrorCode.NETWORK_TIMEOUT) from None
        except Exception as exc:  # noqa: BLE001 - aiohttp-socks errors are not OSError
            if self.proxy is not None:
                raise classify_proxy_failure(exc, self.proxy) from None
            raise TransientError(f"The YouTube feed failed: {type(exc).__name__}") from None

    async def _playlist(self, cursor: dict[str, Any], stop_at: set[str], limit: int,
                        since: datetime | None = None) -> tuple[list[dict[str, Any]], int]:
        """Entries of the uploads playlist, newest first, until a known id, ``since`` or ``limit``."""
        playlist = await self._uploads_playlist(cursor)
        entries: list[dict[str, Any]] = []
        token: str | None = None
        pages = 0
        while len(entries) < limit:
            def page(yt: Any, page_token: str | None = token) -> Any:
                return yt.playlistItems().list(part="snippet,contentDetails", playlistId=playlist,
                                               maxResults=50, pageToken=page_token)

            body = await self.client.call("playlistItems.list", 1, page)
            pages += 1
            for item in body.get("items") or []:
                vid = item["contentDetails"]["videoId"]
                published = _when(item["contentDetails"].get("videoPublishedAt")
                                  or item["snippet"].get("publishedAt"))
                if vid in stop_at or (since and published and published < since):
                    return entries, pages
                entries.append({"id": vid, "title": item["snippet"].get("title", ""),
                                "description": item["snippet"].get("description", ""),
                                "published": published, "is_short": False})
            token = body.get("nextPageToken")
            if not token:
                break
        return entries[:limit], pages

    async def recent_uploads(self, since: datetime | None, limit: int = 50) -> list[dict[str, Any]]:
        """The uploads playlist's entries since ``since`` (newest first; 1 unit a page of 50)."""
        entries, _ = await self._playlist(self._upload_cursor, set(), limit, since=since)
        return entries

    async def _details(self, ids: list[str]) -> tuple[dict[str, dict[str, Any]], int]:
        """videos.list for ``ids``, 50 per call (1 unit each)."""
        found: dict[str, dict[str, Any]] = {}
        calls = 0
        for start in range(0, len(ids), 50):
            def videos(yt: Any, batch: str = ",".join(ids[start:start + 50])) -> Any:
                return yt.videos().list(part="snippet,contentDetails,player", id=batch, maxHeight=1280)

            body = await self.client.call("videos.list", 1, videos)
            calls += 1
            for item in body.get("items") or []:
                found[item["id"]] = item
        return found, calls

    def _post(self, entry: Mapping[str, Any], item: Mapping[str, Any] | None) -> RemotePost:
        vid = entry["id"]
        duration = width = height = None
        is_short: bool | None = True if entry.get("is_short") else None
        skip = None
        caption = entry.get("description") or ""
        title = entry.get("title") or ""
        if item is not None:
            snippet = item.get("snippet", {})
            title = snippet.get("title", title)
            caption = snippet.get("description", caption)
            duration = parse_duration(item.get("contentDetails", {}).get("duration", ""))
            player = item.get("player", {})
            if player.get("embedWidth") and player.get("embedHeight"):
                width, height = int(player["embedWidth"]), int(player["embedHeight"])
            live = snippet.get("liveBroadcastContent", "none")
            if live in ("live", "upcoming"):
                is_short, skip = False, f"a {live} stream, not an uploaded Short"
            elif duration is not None and duration > SHORT_MAX_SECONDS:
                is_short, skip = False, f"not a Short: {duration:.0f} s is longer than {SHORT_MAX_SECONDS} s"
            elif width and height and width > height:
                is_short, skip = False, f"not a Short: landscape ({width}x{height})"
            elif duration is not None:
                is_short = True
        elif is_short is None:
            skip = "YouTube has no details for this video (deleted or private)"
        path = f"/shorts/{vid}" if is_short else f"/watch?v={vid}"
        return RemotePost(
            id=vid, caption=caption, published_at=entry.get("published"), duration=duration,
            width=width, height=height, permalink=self.web_base + path, is_short=is_short,
            skip_reason=skip, extra={"title": title},
        )

    async def _classify(self, entries: list[dict[str, Any]]) -> tuple[list[RemotePost], int]:
        need = [e["id"] for e in entries if not e.get("is_short")]
        details, calls = await self._details(need) if need else ({}, 0)
        return [self._post(e, details.get(e["id"])) for e in entries], calls

    async def list_new(self, cursor: Mapping[str, Any], limit: int = 20) -> ListResult:
        """Uploads not seen before, newest first, with the cursor to store next."""
        state = dict(cursor)
        seen: list[str] = list(state.get("seen") or [])
        known = set(seen)
        units = 0
        method = "rss"
        try:
            entries: list[dict[str, Any]] | None = await self.feed()
        except TransientError:
            entries = None  # the feed is down or unreadable: the playlist costs 1 unit
        if entries is not None:
            fresh = [e for e in entries if e["id"] not in known]
            # A full feed with nothing known may hide older new uploads behind it.
            if known and entries and len(fresh) == len(entries) and len(entries) >= 15:
                entries = None
            else:
                entries = fresh
        if entries is None:
            method = "playlist"
            units_before = self.client.units_spent
            entries, _ = await self._playlist(state, known, limit)
            units += self.client.units_spent - units_before
        entries = entries[:limit]
        units_before = self.client.units_spent
        posts, _ = await self._classify(entries)
        units += self.client.units_spent - units_before
        state["seen"] = ([p.id for p in posts] + seen)[:SEEN_KEEP]
        times = [p.published_at for p in posts if p.published_at]
        if times:
            newest = max(times)
            old = _when(state.get("last_published"))
            state["last_published"] = max(newest, old).isoformat() if old else newest.isoformat()
        return ListResult(posts=tuple(posts), cursor=state, units_spent=units, method=method)

    async def list_range(self, since: datetime, until: datetime, limit: int = 50) -> ListResult:
        """Uploads published in ``[since, until]`` (backfill), from the uploads playlist."""
        state: dict[str, Any] = {}
        before = self.client.units_spent
        entries, _ = await self._playlist(state, set(), limit * 4, since=since)
        entries = [e for e in entries if e["published"] is None or e["published"] <= until][:limit]
        posts, _ = await self._classify(entries)
        return ListResult(posts=tuple(posts), cursor=state, units_spent=self.client.units_spent - before,
                          method="playlist")

    # ---- download ------------------------------------------------------------------

    async def _cookies_txt(self) -> str | None:
        """The account's cookies.txt, checked again before yt-dlp gets it (None when there is none)."""
        stored = (await self.credentials.load()).get(COOKIES_KEY)
        if not stored:
            return None
        try:
            return parse_cookies_txt(str(stored).encode())
        except ValueError as exc:
            raise AuthError(f"The account's cookies.txt cannot be used: {exc}",
                            code=ErrorCode.INVALID_CREDENTIALS,
                            hint="Replace the cookies.txt from the account's card (bot /accounts or the "
                                 "Mini App).") from None

    async def download(self, post: RemotePost, dest_dir: Path, progress: Progress | None = None
                       ) -> DownloadedFile:
        """Fetch the video with yt-dlp (proxy, JS runtime and the account's cookies honoured)."""
        url = post.permalink or f"{self.web_base}/shorts/{post.id}"
        return await download_with_ytdlp(
            url, dest_dir, name=post.id, proxy=self.proxy, cookies_file=self.cookies_file,
            cookies_txt=await self._cookies_txt(), ffmpeg=self.ffmpeg, timeout=self.timeout,
            progress=progress)

__all__ = ["SHORT_MAX_SECONDS", "YouTubeSource", "parse_duration", "parse_feed"]
