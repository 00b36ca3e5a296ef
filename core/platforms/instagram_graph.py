"""Instagram professional accounts over Meta's two Instagram APIs: a Source and a Destination.

Meta offers two login types, and an account is served by the host its token belongs to
(https://developers.facebook.com/docs/instagram-platform/overview#instagram-api-with-instagram-login):

* ``facebook`` - the Instagram API with Facebook Login: a Page-linked account, ``EAA...`` tokens
  on graph.facebook.com; a long-lived token is renewed with ``GET /oauth/access_token?grant_type=
  fb_exchange_token`` and the app id and secret
  (https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived/).
* ``instagram`` - the Instagram API with Instagram Login: no Page, ``IGAA...`` tokens on
  graph.instagram.com; renewed with ``GET /refresh_access_token?grant_type=ig_refresh_token``,
  which exists only there, for a token at least 24 hours old
  (https://developers.facebook.com/docs/instagram-platform/reference/refresh_access_token). The
  account is ``GET /me?fields=user_id,username`` (``user_id`` is the professional account id).
  Meta's resumable upload "is available only for apps that have implemented Facebook Login for
  Business" (https://developers.facebook.com/docs/instagram-platform/content-publishing/resumable-uploads),
  so these accounts publish from a public https link (``video_url``) only.

Credentials (a dict in the CredentialStore): ``login_type``, ``access_token``, ``ig_user_id`` (or
``page_id`` for Facebook Login, from which the linked account is resolved and stored),
``token_expires_at`` (ISO), and ``app_id`` / ``app_secret`` for Facebook Login refreshes. Rows stored
before ``login_type`` existed are typed by their token's prefix. The token travels as the
``access_token`` parameter (``Authorization: OAuth`` on the upload host) and never appears in
messages, logs or reprs.

Listing walks ``/{ig-user-id}/media`` newest first by its ``after`` cursor; the poll cursor is
``{"last_id", "last_timestamp"}`` of the newest post seen. Reels (media_product_type REELS) are
forwardable; other videos are listed with a ``skip_reason``, and so are reels without
``media_url``: Meta omits it "if the media contains copyrighted material or has been flagged for
a copyright violation" (https://developers.facebook.com/docs/instagram-platform/reference/instagram-media),
and documents no other way to the file. Photos and carousels are left out. ``units_spent`` counts
Graph calls, the unit of Meta's call-count rate limits.

Publishing (limit check, container, bytes, polling) lives in ``instagram_graph_publish``; HTTP,
error mapping and pacing by Meta's usage headers in ``instagram_graph_http``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from core.errors import AuthError, ErrorCode, NotFound, TransientError
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
from core.platforms.instagram_graph_http import FACEBOOK_LOGIN, INSTAGRAM_LOGIN, GraphHttp, as_int
from core.platforms.instagram_graph_publish import ReelPublisher, parse_time
from core.platforms.proxy import ProxySpec

MEDIA_FIELDS = "id,caption,media_type,media_product_type,media_url,permalink,timestamp,thumbnail_url"
MAX_PAGES = 10
LOGIN_TYPES = (FACEBOOK_LOGIN, INSTAGRAM_LOGIN)
COPYRIGHT_SKIP = ("Meta gives no video file for this reel: it carries copyrighted content (such as "
                  "licensed music), so it cannot be forwarded")
# Meta recommends querying a container's status "once per minute, for no more than 5 minutes"
# (https://developers.facebook.com/docs/instagram-platform/content-publishing#troubleshooting); reels
# can take longer to process, so the adapter keeps polling at that pace for longer.
STATUS_POLL_SECONDS = 60.0
STATUS_POLL_LIMIT = 1800.0
# Meta does not always say how long an exchanged token lives; long-lived tokens last 60 days.
LONG_LIVED = timedelta(days=60)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _secrets(creds: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(creds[k]) for k in ("access_token", "app_secret") if creds.get(k))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _cursor(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"last_id": str(item.get("id")), "last_timestamp": item.get("timestamp")}


def login_type(creds: Mapping[str, Any]) -> str:
    """Which of Meta's Instagram APIs serves the stored token (by the record, else its prefix)."""
    kind = creds.get("login_type")
    if kind in LOGIN_TYPES:
        return str(kind)
    return INSTAGRAM_LOGIN if str(creds.get("access_token") or "").startswith("IG") else FACEBOOK_LOGIN


def to_post(item: Mapping[str, Any]) -> RemotePost | None:
    """A listed media object as a RemotePost; None for photos and carousels."""
    if item.get("media_type") != "VIDEO" and item.get("media_product_type") != "REELS":
        return None
    reel = item.get("media_product_type") == "REELS"
    kind = str(item.get("media_product_type") or "FEED").lower()
    skip = None if reel else f"not a reel ({kind} video)"
    if skip is None and not item.get("media_url"):
        skip = COPYRIGHT_SKIP
    return RemotePost(
        id=str(item.get("id")),
        caption=str(item.get("caption") or ""),
        published_at=parse_time(item.get("timestamp")),
        media_url=item.get("media_url"),
        permalink=item.get("permalink"),
        thumbnail_url=item.get("thumbnail_url"),
        is_short=reel,
        skip_reason=skip,
        extra={"media_type": item.get("media_type"), "media_product_type": item.get("media_product_type")},
    )


class InstagramGraphAdapter:
    """Lists, downloads and publishes reels of one Instagram professional account via the Graph API."""

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        api_base: str,
        instagram_base: str,
        upload_base: str,
        version: str,
        proxy: ProxySpec | None = None,
        timeout: float = 60.0,
        poll_interval: float = STATUS_POLL_SECONDS,
        poll_timeout: float = STATUS_POLL_LIMIT,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """``api_base``, ``instagram_base`` and ``upload_base`` are hosts without a version (settings)."""
        self.credentials = credentials
        self.facebook_base = api_base.rstrip("/")
        self.instagram_base = instagram_base.rstrip("/")
        self.version = version
        self.upload_base = f"{upload_base.rstrip('/')}/ig-api-upload/{version}"
        self.proxy = proxy
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self.clock = clock
        self._http = GraphHttp(proxy=proxy, timeout=timeout)
        self._publisher = ReelPublisher(self)

    def __repr__(self) -> str:
        return f"InstagramGraphAdapter(version={self.version!r}, proxy={self.proxy})"

    async def __aenter__(self) -> InstagramGraphAdapter:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._http.aclose()

    # -- plumbing (also used by ReelPublisher) --------------------------------------------

    async def _credentials(self) -> dict[str, Any]:
        creds = await self.credentials.load()
        if not creds.get("access_token"):
            raise AuthError("no Instagram Graph access token is stored for this account",
                            code=ErrorCode.INVALID_CREDENTIALS)
        return creds

    def host(self, kind: str) -> str:
        """The versioned API base that serves tokens of login type ``kind``."""
        base = self.instagram_base if kind == INSTAGRAM_LOGIN else self.facebook_base
        return f"{base}/{self.version}"

    async def login_type(self) -> str:
        """``facebook`` or ``instagram``: which API serves this account."""
        return login_type(await self._credentials())

    async def call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                   data: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One Graph API request on the account's host, token added."""
        creds = await self._credentials()
        token = {"access_token": str(creds["access_token"])}
        if method == "GET":
            params = {**(params or {}), **token}
        else:
            data = {**(data or {}), **token}
        return await self._http.call(method, f"{self.host(login_type(creds))}/{path}", params=params,
                                     data=data, what=f"Instagram Graph {method} /{path}",
                                     secrets=_secrets(creds))

    async def ig_user_id(self) -> str:
        """The Instagram account id, resolved (and stored) from ``/me`` or the Page when not yet known."""
        creds = await self._credentials()
        if creds.get("ig_user_id"):
            return str(creds["ig_user_id"])
        if login_type(creds) == INSTAGRAM_LOGIN:
            linked = (await self.call("GET", "me", params={"fields": "user_id,username"})).get("user_id")
            if not linked:
                raise AuthError("Instagram did not say which professional account the token belongs to",
                                code=ErrorCode.INVALID_CREDENTIALS)
        else:
            page_id = creds.get("page_id")
            if not page_id:
                raise AuthError("neither an Instagram account id nor a Facebook Page id is stored",
                                code=ErrorCode.INVALID_CREDENTIALS)
            doc = await self.call("GET", str(page_id), params={"fields": "instagram_business_account"})
            linked = _dict(doc.get("instagram_business_account")).get("id")
            if not linked:
                raise AuthError("the Facebook Page has no Instagram professional account linked to it",
                                code=ErrorCode.INVALID_CREDENTIALS)
        creds = await self.credentials.load()
        creds["ig_user_id"] = str(linked)
        await self.credentials.save(creds)
        return str(linked)

    async def rupload(self, container_id: str, path: Path, offset: int, size: int,
                      progress: Progress | None) -> None:
        """Send the video's bytes from ``offset`` to the upload host."""
        creds = await self._credentials()
        headers = {"Authorization": f"OAuth {creds['access_token']}", "offset": str(offset),
                   "file_size": str(size)}
        doc = await self._http.send_file(f"{self.upload_base}/{container_id}", path=path, offset=offset,
                                         size=size, headers=headers, progress=progress,
                                         what="Instagram upload", secrets=_secrets(creds))
        if doc.get("success") is False:
            raise TransientError(f"Instagram upload was not accepted: {doc.get('message') or 'no reason'}")

    # -- Source -----------------------------------------------------------------------------

    async def identify(self) -> AccountInfo:
        """The account behind the token, checked live."""
        ig = await self.ig_user_id()
        creds = await self.credentials.load()
        if login_type(creds) == INSTAGRAM_LOGIN:
            doc = await self.call("GET", "me", params={"fields": "user_id,username,name"})
            return AccountInfo(external_id=str(doc.get("user_id") or ig), username=doc.get("username"),
                               title=doc.get("name"), extra={"login_type": INSTAGRAM_LOGIN})
        doc = await self.call("GET", ig, params={"fields": "id,username,name"})
        extra = {"login_type": FACEBOOK_LOGIN}
        if creds.get("page_id"):
            extra["page_id"] = str(creds["page_id"])
        return AccountInfo(external_id=str(doc.get("id") or ig), username=doc.get("username"),
                           title=doc.get("name"), extra=extra)

    async def _walk(self, params: Mapping[str, str], visit: Callable[[list[dict[str, Any]]], bool]) -> int:
        """Feed pages of the media edge, newest first, to ``visit`` until it returns True; count calls."""
        ig = await self.ig_user_id()
        after: str | None = None
        for calls in range(1, MAX_PAGES + 1):
            query = {"fields": MEDIA_FIELDS, **params}
            if after:
                query["after"] = after
            doc = await self.call("GET", f"{ig}/media", params=query)
            data = doc.get("data")
            items = [i for i in data if isinstance(i, dict) and i.get("id")] if isinstance(data, list) else []
            paging = _dict(doc.get("paging"))
            after = _dict(paging.get("cursors")).get("after")
            if visit(items) or not paging.get("next") or not after:
                return calls
        return MAX_PAGES

    async def list_new(self, cursor: Mapping[str, Any], limit: int = 20) -> ListResult:
        """Posts newer than ``cursor``; more than ``limit`` new ones come oldest first over several polls."""
        last_id = cursor.get("last_id")
        last_time = parse_time(cursor.get("last_timestamp"))
        fresh: list[dict[str, Any]] = []

        def visit(items: list[dict[str, Any]]) -> bool:
            for item in items:
                stamp = parse_time(item.get("timestamp"))
                if (last_id and str(item["id"]) == str(last_id)) or (
                        last_time and stamp is not None and stamp < last_time):
                    return True
                fresh.append(item)
            return not cursor and sum(1 for i in fresh if to_post(i) is not None) >= limit

        calls = await self._walk({"limit": str(min(100, max(limit, 25)))}, visit)
        found = [(item, post) for item in fresh if (post := to_post(item)) is not None]
        if cursor and len(found) > limit:
            # Keep the oldest so the next poll continues from them instead of skipping them.
            found = found[-limit:]
            new_cursor = _cursor(found[0][0])
        else:
            found = found[:limit]
            new_cursor = _cursor(fresh[0]) if fresh else dict(cursor)
        return ListResult(tuple(post for _, post in found), new_cursor, units_spent=calls, method="graph")

    async def list_range(self, since: datetime, until: datetime, limit: int = 50) -> ListResult:
        """Posts published in ``[since, until]`` (backfill), newest first."""
        params = {"since": str(int(since.timestamp())), "until": str(int(until.timestamp())),
                  "limit": str(min(100, max(limit, 25)))}
        found: list[tuple[dict[str, Any], RemotePost]] = []

        def visit(items: list[dict[str, Any]]) -> bool:
            for item in items:
                stamp = parse_time(item.get("timestamp"))
                post = to_post(item)
                in_range = stamp is None or since <= stamp <= until
                if post is not None and in_range and len(found) < limit:
                    found.append((item, post))
            return len(found) >= limit

        calls = await self._walk(params, visit)
        cursor = _cursor(found[0][0]) if found else {}
        return ListResult(tuple(post for _, post in found), cursor, units_spent=calls, method="graph")

    async def download(self, post: RemotePost, dest_dir: Path, progress: Progress | None = None
                       ) -> DownloadedFile:
        """Stream the reel's video to ``dest_dir/<id>.mp4`` through a temporary file."""
        await asyncio.to_thread(dest_dir.mkdir, parents=True, exist_ok=True)
        final = dest_dir / f"{post.id}.mp4"
        part = dest_dir / f".{post.id}.mp4.part"
        if post.skip_reason == COPYRIGHT_SKIP:
            raise NotFound(COPYRIGHT_SKIP, details={"media_id": post.id, "skip": "copyright"})
        url = post.media_url or await self._media_url(post.id)
        creds = await self._credentials()
        try:
            try:
                await self._http.fetch_to(url, part, progress=progress, what="Instagram video download",
                                          secrets=_secrets(creds))
            except NotFound:
                # CDN URLs are signed and expire: ask Graph for a fresh one, once.
                await self._http.fetch_to(await self._media_url(post.id), part, progress=progress,
                                          what="Instagram video download", secrets=_secrets(creds))
            await asyncio.to_thread(part.replace, final)
        finally:
            await asyncio.to_thread(part.unlink, missing_ok=True)
        return await asyncio.to_thread(DownloadedFile.of, final)

    async def _media_url(self, media_id: str) -> str:
        doc = await self.call("GET", media_id, params={"fields": "media_url"})
        if not doc.get("media_url"):
            raise NotFound(COPYRIGHT_SKIP, details={"media_id": media_id, "skip": "copyright"})
        return str(doc["media_url"])

    # -- Destination ------------------------------------------------------------------------

    async def upload(self, request: UploadRequest, save_state: SaveState, progress: Progress | None = None
                     ) -> UploadResult:
        """Publish a reel: by ``public_video_url`` when given, else by resumable upload of the file."""
        return await self._publisher.upload(request, save_state, progress)

    async def resume(self, state: Mapping[str, Any], request: UploadRequest, save_state: SaveState,
                     progress: Progress | None = None) -> UploadResult:
        """Finish an interrupted upload from its saved state without ever publishing twice."""
        return await self._publisher.resume(state, request, save_state, progress)

    async def verify(self, post_id: str, request: UploadRequest | None = None) -> VerifyResult:
        """LIVE with its permalink when the media exists, else MISSING."""
        try:
            doc = await self.call("GET", post_id,
                                  params={"fields": "id,permalink,media_product_type,timestamp"})
        except NotFound as exc:
            return VerifyResult(post_id, PublishState.MISSING, detail=exc.message)
        return VerifyResult(post_id, PublishState.LIVE, url=doc.get("permalink"),
                            detail=str(doc.get("media_product_type") or ""))

    # -- token ------------------------------------------------------------------------------

    async def refresh_token(self) -> datetime:
        """Renew the long-lived token the way its login type documents, store it, return its expiry."""
        creds = await self._credentials()
        token = str(creds["access_token"])
        if login_type(creds) == INSTAGRAM_LOGIN:
            url = f"{self.instagram_base}/refresh_access_token"
            params = {"grant_type": "ig_refresh_token", "access_token": token}
        else:
            if not (creds.get("app_id") and creds.get("app_secret")):
                raise AuthError("this Facebook Login token can only be renewed with the Meta app's id and "
                                "secret, and none are stored: give them with 'Update credentials' on the "
                                "account's card", code=ErrorCode.INVALID_CREDENTIALS,
                                hint="Accounts -> the account -> Update credentials: add the app's id "
                                     "and secret.")
            url = f"{self.host(FACEBOOK_LOGIN)}/oauth/access_token"
            params = {"grant_type": "fb_exchange_token", "client_id": str(creds["app_id"]),
                      "client_secret": str(creds["app_secret"]), "fb_exchange_token": token}
        try:
            doc = await self._http.call("GET", url, params=params, what="Instagram token refresh",
                                        secrets=_secrets(creds))
        except AuthError as exc:
            if exc.details.get("graph_code") == 190:
                raise AuthError(f"{exc.message}; give the account a new token with 'Update credentials'",
                                code=ErrorCode.REQUIRES_REAUTH, details=exc.details) from None
            raise
        fresh = doc.get("access_token")
        if not fresh:
            raise TransientError("Instagram token refresh returned no token")
        expires_in = doc.get("expires_in")
        now = self.clock()
        expiry = now + (timedelta(seconds=as_int(expires_in)) if as_int(expires_in) > 0 else LONG_LIVED)
        creds.update(access_token=str(fresh), token_expires_at=expiry.isoformat())
        await self.credentials.save(creds)
        return expiry
