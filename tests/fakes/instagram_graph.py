"""A wire-level fake of Meta's two Instagram APIs, the upload host (rupload) and a CDN, on 127.0.0.1.

Sources for what it imitates (each behaviour below cites one of these):

* [ig-login] https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login
  and [ig-refresh] .../instagram-platform/reference/refresh_access_token: graph.instagram.com serves
  ``IGAA...`` tokens; ``GET /refresh_access_token?grant_type=ig_refresh_token`` exists only there.
* [fb-long-lived] https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived/:
  graph.facebook.com ``GET /{v}/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret``.
* [container] .../instagram-platform/instagram-graph-api/reference/ig-container: ``status_code`` is
  EXPIRED, ERROR, FINISHED, IN_PROGRESS or PUBLISHED; both hosts serve it.
* [resumable] .../instagram-platform/content-publishing/resumable-uploads: ``upload_type=resumable``,
  then ``POST rupload.facebook.com/ig-api-upload/{v}/{container}`` with ``offset`` and ``file_size``
  headers; "available only for apps that have implemented Facebook Login for Business". Meta
  documents no request that reports how many bytes the host holds, so the fake has none.
* [media] .../instagram-platform/reference/instagram-media: ``media_url`` "is omitted from
  responses if the media contains copyrighted material or has been flagged for a copyright violation".
* [ig-errors] .../instagram-platform/instagram-graph-api/reference/error-codes and [graph-errors]
  https://developers.facebook.com/docs/graph-api/guides/error-handling/: the error object's shape
  (``message, type, code, error_subcode, fbtrace_id``, HTTP 400) and the codes used here.
* [rate-limits] https://developers.facebook.com/docs/graph-api/overview/rate-limiting/: the
  ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` headers (percentages) sent with replies.
* [versions] https://developers.facebook.com/docs/graph-api/guides/versioning: every path starts with
  a version; the fake accepts any ``vNN.N`` (several are served at once).

Two sites: ``base_url`` is graph.facebook.com (plus ``/ig-api-upload/...``, the rupload host, and
``/cdn/``, ``/files/``), ``instagram_base`` is graph.instagram.com. Errors have Graph's shape or
rupload's (``{"debug_info": {retriable, type, message}}``). URLs in replies are built from the
request's Host, so the fake also works when addressed by another name through a proxy.
``faults`` (a ``RandomFaults``, off by default) fails a seeded share of requests with a 5xx
(Graph's transient error shape) or a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tests.fakes.faults import RandomFaults

VERSION = "v26.0"  # the current version on 29 July 2026 [versions]; any vNN.N is accepted
V = "{version:v[0-9]+\\.[0-9]+}"
STAMP = "%Y-%m-%dT%H:%M:%S+0000"
NOT_FOUND_SUBCODE = 33
FORM = web.RequestKey("form", dict)
FACEBOOK, INSTAGRAM = "facebook", "instagram"
HOST = web.AppKey("host", str)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class FakeMedia:
    """A post on the account."""

    id: str
    caption: str
    timestamp: datetime
    media_type: str = "VIDEO"
    media_product_type: str = "REELS"
    video: bytes = b""
    shortcode: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    container_id: str | None = None
    copyrighted: bool = False  # [media]: no media_url in any reply


@dataclass
class FakeContainer:
    """A media container and its lifecycle."""

    id: str
    params: dict[str, str]
    created_at: datetime
    upload: str  # "video_url" or "resumable"
    polls_left: int
    status_code: str = "IN_PROGRESS"
    status: str = "In Progress: Media is still being processed."
    data: bytearray = field(default_factory=bytearray)
    file_size: int | None = None
    outcome: tuple[str, str] | None = None
    fetch: asyncio.Task[None] | None = None
    media_id: str | None = None


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Injected:
    fragment: str
    status: int
    body: Any
    headers: dict[str, str]
    delay: float = 0.0


def graph_error(code: int, message: str, subcode: int | None = None, status: int = 400,
                kind: str = "OAuthException", headers: dict[str, str] | None = None) -> web.Response:
    """A Graph error reply."""
    error: dict[str, Any] = {"message": message, "type": kind, "code": code,
                             "fbtrace_id": "A" + secrets.token_hex(10)}
    if subcode is not None:
        error["error_subcode"] = subcode
    return web.json_response({"error": error}, status=status, headers=headers)


def _transient_error(status: int) -> web.Response:
    """What Graph answers when it is briefly unavailable (code 2, ``is_transient``)."""
    return web.json_response({"error": {"message": "An unexpected error has occurred. Please retry your "
                                                   "request later.", "type": "OAuthException", "code": 2,
                                        "is_transient": True, "fbtrace_id": "A" + secrets.token_hex(10)}},
                             status=status)


def _upload_error(status: int, kind: str, message: str, retriable: bool = False) -> web.Response:
    return web.json_response({"debug_info": {"retriable": retriable, "type": kind, "message": message}},
                             status=status)


def _cursor(media_id: str) -> str:
    return base64.urlsafe_b64encode(media_id.encode()).decode()


@dataclass
class FakeInstagramGraph:
    """Graph API + upload host + CDN; ``start()`` returns the base URL, ``stop()`` closes it."""

    ig_user_id: str = "17841400000000001"
    page_id: str = "104000000000001"
    username: str = "forwarder.test"
    name: str = "Forwarder Test"
    app_id: str = "1234567890"
    app_secret: str = "fake-app-secret-0123456789"
    container_polls: int = 1
    """Status reads a container answers IN_PROGRESS for once its bytes are complete."""
    quota_total: int = 50
    quota_usage: int | None = None
    """None: the publishes of the last 24 h."""
    expires_in: int = 5184000
    clock: Callable[[], datetime] = _now
    tokens: dict[str, str] = field(default_factory=dict)  # token -> "valid" | "expired"
    token_kinds: dict[str, str] = field(default_factory=dict)  # token -> FACEBOOK | INSTAGRAM
    media: list[FakeMedia] = field(default_factory=list)
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    publishes: list[str] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    next_outcome: tuple[str, str] | None = None
    cut_uploads: list[int] = field(default_factory=list)
    drop_publish_replies: int = 0
    usage_headers: dict[str, str] = field(default_factory=dict)
    """Sent with every Graph reply (e.g. ``{"X-App-Usage": '{"call_count": 80, ...}'}``) [rate-limits]."""
    faults: RandomFaults | None = None
    _injected: list[_Injected] = field(default_factory=list)
    _runners: list[web.AppRunner] = field(default_factory=list)
    _client: aiohttp.ClientSession | None = None
    _seq: int = 1000
    base_url: str = ""
    instagram_base: str = ""
    port: int = 0
    app_scoped_id: str = "27000000000000001"

    def __post_init__(self) -> None:
        self.access_token = self.new_token(FACEBOOK)
        self.ig_access_token = self.new_token(INSTAGRAM)

    def new_token(self, kind: str) -> str:
        """A valid long-lived token of one login type: EAA... (Facebook) or IGAA... (Instagram) [ig-login]."""
        body = secrets.token_urlsafe(40).replace("-", "x").replace("_", "y")
        token = ("EAAG" if kind == FACEBOOK else "IGAA") + body
        self.tokens[token] = "valid"
        self.token_kinds[token] = kind
        return token

    async def _site(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    def _graph_routes(self, app: web.Application) -> None:
        # Both hosts serve nodes, the media edge, containers and publishing [container].
        app.router.add_get(f"/{V}/me", self._me)
        app.router.add_get(f"/{V}/{{node}}", self._node)
        app.router.add_get(f"/{V}/{{node}}/media", self._media_list)
        app.router.add_post(f"/{V}/{{node}}/media", self._create_container)
        app.router.add_post(f"/{V}/{{node}}/media_publish", self._publish)
        app.router.add_get(f"/{V}/{{node}}/content_publishing_limit", self._limit)

    async def start(self) -> str:
        """Serve both hosts on free loopback ports; return graph.facebook.com's base URL."""
        facebook = web.Application(middlewares=[self._middleware], client_max_size=64 << 20)
        facebook[HOST] = FACEBOOK
        facebook.router.add_get("/files/{name}", self._file)
        facebook.router.add_get("/cdn/{media_id}.mp4", self._cdn)
        facebook.router.add_post(f"/ig-api-upload/{V}/{{container_id}}", self._rupload)
        facebook.router.add_get(f"/{V}/oauth/access_token", self._exchange)
        self._graph_routes(facebook)
        instagram = web.Application(middlewares=[self._middleware])
        instagram[HOST] = INSTAGRAM
        # [ig-refresh] documents the path without a version; a versioned one is answered the same.
        instagram.router.add_get("/refresh_access_token", self._ig_refresh)
        instagram.router.add_get(f"/{V}/refresh_access_token", self._ig_refresh)
        self._graph_routes(instagram)
        self.base_url = await self._site(facebook)
        self.port = int(self.base_url.rsplit(":", 1)[1])
        self.instagram_base = await self._site(instagram)
        self._client = aiohttp.ClientSession()
        return self.base_url

    async def stop(self) -> None:
        """Close the servers and the client that fetches ``video_url``s."""
        for container in self.containers.values():
            if container.fetch is not None and not container.fetch.done():
                container.fetch.cancel()
        if self._client is not None:
            await self._client.close()
        for runner in self._runners:
            await runner.cleanup()

    @property
    def api_base(self) -> str:
        """GRAPH_API_BASE: graph.facebook.com, without a version (the settings add it)."""
        return self.base_url

    @property
    def upload_base(self) -> str:
        """GRAPH_UPLOAD_BASE: the rupload host, without a path."""
        return self.base_url

    def versioned(self, version: str = VERSION) -> str:
        """graph.facebook.com's base with a version, for tests that call the fake directly."""
        return f"{self.base_url}/{version}"

    # -- test controls ---------------------------------------------------------------------

    def credentials(self, **overrides: Any) -> dict[str, Any]:
        """A credentials dict for this account through Facebook Login."""
        return {"login_type": FACEBOOK, "access_token": self.access_token, "ig_user_id": self.ig_user_id,
                **overrides}

    def ig_credentials(self, **overrides: Any) -> dict[str, Any]:
        """A credentials dict for this account through Instagram Login (no Page, no app secret)."""
        return {"login_type": INSTAGRAM, "access_token": self.ig_access_token, **overrides}

    def seed(self, caption: str, timestamp: datetime, *, media_type: str = "VIDEO",
             product: str = "REELS", video: bytes = b"", copyrighted: bool = False) -> FakeMedia:
        """Add a post (listed newest first by timestamp)."""
        self._seq += 1
        item = FakeMedia(id=f"1790000000{self._seq}", caption=caption,
                         timestamp=timestamp.replace(microsecond=0), media_type=media_type,
                         media_product_type=product, video=video or f"video of {caption}".encode(),
                         copyrighted=copyrighted)
        self.media.append(item)
        return item

    def host_file(self, name: str, data: bytes) -> str:
        """Serve ``data`` at a URL the fake itself can fetch (for ``video_url``)."""
        self.files[name] = data
        return f"{self.base_url}/files/{name}"

    def fail_next(self, path_fragment: str, code: int, subcode: int | None = None, http_status: int = 400,
                  headers: dict[str, str] | None = None, message: str = "Injected failure") -> None:
        """Answer the next request whose path contains ``path_fragment`` with a Graph error."""
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                                 "fbtrace_id": "Ainjected"}
        if subcode is not None:
            error["error_subcode"] = subcode
        self._injected.append(_Injected(path_fragment, http_status, {"error": error}, dict(headers or {})))

    def fail_next_status(self, path_fragment: str, http_status: int = 502, text: str = "Bad Gateway") -> None:
        """Answer the next matching request with a bare HTTP status (a load balancer's 5xx)."""
        self._injected.append(_Injected(path_fragment, http_status, text, {}))

    def delay_next(self, path_fragment: str, seconds: float) -> None:
        """Hold the next matching request before answering it normally."""
        self._injected.append(_Injected(path_fragment, 0, None, {}, delay=seconds))

    def expire_token(self, token: str | None = None) -> None:
        """Make a token answer 190/463 from now on."""
        self.tokens[token or self.access_token] = "expired"

    def published(self, caption: str | None = None) -> list[FakeMedia]:
        """Media created by media_publish (optionally with this caption)."""
        return [m for m in self.media if m.container_id and (caption is None or m.caption == caption)]

    def seen(self, method: str, fragment: str) -> list[Recorded]:
        """Recorded requests of ``method`` whose path contains ``fragment``."""
        return [r for r in self.requests if r.method == method and fragment in r.path]

    # -- plumbing --------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        form: dict[str, str] = {}
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            form = {k: str(v) for k, v in (await request.post()).items()}
        request[FORM] = form
        self.requests.append(Recorded(request.method, request.path, dict(request.query), form,
                                      dict(request.headers)))
        for injected in self._injected:
            if injected.fragment in request.path:
                self._injected.remove(injected)
                if injected.delay:
                    await asyncio.sleep(injected.delay)
                    break
                if isinstance(injected.body, dict):
                    return web.json_response(injected.body, status=injected.status, headers=injected.headers)
                return web.Response(status=injected.status, text=str(injected.body), content_type="text/html")
        if self.faults is not None:
            return await self.faults.serve(request, handler, _transient_error)
        response: web.StreamResponse = await handler(request)
        response.headers.update(self.usage_headers)  # [rate-limits]: usage rides on every reply
        return response

    def _token(self, request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        if auth.startswith(("OAuth ", "Bearer ")):
            return auth.split(" ", 1)[1]
        form = {k: str(v) for k, v in request.query.items()}
        form.update(request.get(FORM) or {})
        return form.get("access_token", "")

    def _check(self, token: str, request: web.Request | None = None) -> web.Response | None:
        state = self.tokens.get(token)
        if state is None:
            # Meta echoes what it could not parse.
            return graph_error(190, f"Malformed access token {token}")
        host = request.app[HOST] if request is not None else FACEBOOK
        if self.token_kinds.get(token, FACEBOOK) != host:
            # [ig-login]: each host serves its own login type's tokens; the other's is not a token
            # there (Graph's 190 OAuthException shape [graph-errors]).
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        if state == "expired":
            return graph_error(190, "Error validating access token: Session has expired on Friday, "
                               "01-Nov-24 10:00:00 PDT.", 463)
        return None

    def _auth(self, request: web.Request) -> web.Response | None:
        return self._check(self._token(request), request)

    def _origin(self, request: web.Request) -> str:
        # Media and upload URLs point at the Facebook site, where /cdn/ and the rupload host live.
        if request.app[HOST] == INSTAGRAM:
            return self.base_url
        return f"{request.scheme}://{request.host}"

    def _new_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq}"

    def _find_media(self, media_id: str) -> FakeMedia | None:
        return next((m for m in self.media if m.id == media_id), None)

    def _media_json(self, item: FakeMedia, fields: list[str], origin: str) -> dict[str, Any]:
        full: dict[str, Any] = {
            "id": item.id, "media_type": item.media_type, "media_product_type": item.media_product_type,
            "media_url": None if item.copyrighted else
            f"{origin}/cdn/{item.id}.mp4?oh={secrets.token_hex(4)}",
            "permalink": f"https://www.instagram.com/reel/{item.shortcode}/",
            "timestamp": item.timestamp.strftime(STAMP), "thumbnail_url": f"{origin}/cdn/{item.id}.jpg",
        }
        if item.caption:
            full["caption"] = item.caption  # Graph leaves the field out when there is no caption
        # [media]: no media_url for copyrighted media, whatever the fields asked for
        return {k: v for k, v in full.items() if (k == "id" or k in fields) and v is not None}

    # -- CDN and files ---------------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=data, content_type="video/mp4")

    async def _cdn(self, request: web.Request) -> web.Response:
        item = self._find_media(request.match_info["media_id"])
        if item is None or not request.query.get("oh"):
            return web.Response(status=403, text="URL signature expired")
        return web.Response(body=item.video, content_type="video/mp4")

    # -- upload host -----------------------------------------------------------------------

    async def _rupload(self, request: web.Request) -> web.StreamResponse:
        # [resumable]: Facebook Login tokens only (this route exists on the Facebook host alone)
        if self._auth(request) is not None:
            return _upload_error(400, "NotAuthorizedError", "User not authorized to perform this request")
        container = self.containers.get(request.match_info["container_id"])
        if container is None or container.upload != "resumable":
            return _upload_error(400, "InvalidRequest", "Invalid container id")
        try:
            offset, size = int(request.headers["offset"]), int(request.headers["file_size"])
        except (KeyError, ValueError):
            return _upload_error(400, "InvalidRequest", "offset and file_size headers are required")
        if offset == 0:
            container.data.clear()  # offset 0 is the documented request for the whole file [resumable]
        elif offset != len(container.data):
            held = len(container.data)
            return _upload_error(400, "InvalidRequest", f"offset {offset} does not match {held}")
        container.file_size = size
        cut = self.cut_uploads.pop(0) if self.cut_uploads else None
        received = 0
        async for chunk in request.content.iter_chunked(1 << 14):
            if cut is not None and received + len(chunk) >= cut:
                container.data += chunk[: cut - received]
                assert request.transport is not None
                request.transport.abort()  # the connection breaks mid-body
                raise web.HTTPServiceUnavailable()
            container.data += chunk
            received += len(chunk)
        if len(container.data) != size:
            return _upload_error(400, "InvalidRequest", f"received {len(container.data)} of {size} bytes")
        return web.json_response({"success": True, "message": "Upload successful."})

    # -- tokens ----------------------------------------------------------------------------

    def _issue(self, kind: str) -> web.Response:
        # [fb-long-lived] and [ig-refresh]: {access_token, token_type: bearer, expires_in (seconds)}
        return web.json_response({"access_token": self.new_token(kind), "token_type": "bearer",
                                  "expires_in": self.expires_in})

    async def _exchange(self, request: web.Request) -> web.Response:
        # [fb-long-lived]: graph.facebook.com only, with the app's id and secret
        q = request.query
        if q.get("grant_type") != "fb_exchange_token":
            return graph_error(100, "Invalid grant_type")
        if q.get("client_id") != self.app_id or q.get("client_secret") != self.app_secret:
            return graph_error(101, "Error validating application. Invalid application ID.")
        failed = self._check(q.get("fb_exchange_token", ""), request)
        return failed or self._issue(FACEBOOK)

    async def _ig_refresh(self, request: web.Request) -> web.Response:
        # [ig-refresh]: graph.instagram.com only, Instagram Login tokens only, no app secret
        if request.query.get("grant_type") != "ig_refresh_token":
            return graph_error(100, "Invalid grant_type")
        return self._check(request.query.get("access_token", ""), request) or self._issue(INSTAGRAM)

    async def _me(self, request: web.Request) -> web.Response:
        # [ig-login]: /me on graph.instagram.com: id (app-scoped), user_id (the professional account
        # id that publishing uses), username, name. On graph.facebook.com /me is the Facebook user.
        failed = self._auth(request)
        if failed:
            return failed
        fields = request.query.get("fields", "").split(",")
        if request.app[HOST] == INSTAGRAM:
            doc = {"id": self.app_scoped_id, "user_id": self.ig_user_id, "username": self.username,
                   "name": self.name}
        else:
            doc = {"id": "10000000000001", "name": "Page Admin"}
        return web.json_response({k: v for k, v in doc.items() if k == "id" or k in fields})

    # -- Graph nodes -----------------------------------------------------------------------

    async def _node(self, request: web.Request) -> web.Response:
        failed = self._auth(request)
        if failed:
            return failed
        node = request.match_info["node"]
        fields = request.query.get("fields", "").split(",")
        if node == self.ig_user_id:
            doc = {"id": self.ig_user_id, "username": self.username, "name": self.name}
            return web.json_response({k: v for k, v in doc.items() if k == "id" or k in fields})
        if node == self.page_id:
            doc = {"id": self.page_id, "instagram_business_account": {"id": self.ig_user_id}}
            return web.json_response({k: v for k, v in doc.items() if k == "id" or k in fields})
        container = self.containers.get(node)
        if container is not None:
            await self._advance(container)
            doc = {"id": container.id, "status_code": container.status_code, "status": container.status}
            return web.json_response({k: v for k, v in doc.items() if k == "id" or k in fields})
        item = self._find_media(node)
        if item is not None:
            return web.json_response(self._media_json(item, fields, self._origin(request)))
        return graph_error(100, f"Unsupported get request. Object with ID '{node}' does not exist, cannot be "
                           "loaded due to missing permissions, or does not support this operation",
                           NOT_FOUND_SUBCODE, kind="GraphMethodException")

    async def _advance(self, container: FakeContainer) -> None:
        if container.status_code != "IN_PROGRESS":
            return
        if container.fetch is not None:
            await container.fetch  # Meta fetches video_url while the container is in progress
        if container.status_code != "IN_PROGRESS":
            return
        if container.file_size is None or len(container.data) != container.file_size:
            return
        container.polls_left -= 1
        if container.polls_left > 0:
            return
        code, text = container.outcome or ("FINISHED", "Finished: Media has been uploaded and it is ready "
                                                       "to be published.")
        container.status_code, container.status = code, text

    async def _fetch(self, container: FakeContainer, url: str) -> None:
        assert self._client is not None
        try:
            async with self._client.get(url) as response:
                if response.status != 200:
                    raise ValueError(f"HTTP {response.status}")
                data = await response.read()
        except (aiohttp.ClientError, ValueError, TimeoutError):
            container.status_code = "ERROR"
            container.status = ("Error: Media download has failed. The media URI doesn't meet our "
                                "requirements. error code 2207052")
            return
        container.data = bytearray(data)
        container.file_size = len(data)

    # -- media edge ------------------------------------------------------------------------

    async def _media_list(self, request: web.Request) -> web.Response:
        failed = self._auth(request)
        if failed:
            return failed
        if request.match_info["node"] != self.ig_user_id:
            return graph_error(100, "Unsupported get request.", NOT_FOUND_SUBCODE)
        q = request.query
        fields = q.get("fields", "").split(",")
        limit = min(int(q.get("limit", "25")), 100)
        items = sorted(self.media, key=lambda m: (m.timestamp, m.id), reverse=True)
        if "since" in q:
            items = [m for m in items if m.timestamp.timestamp() >= int(q["since"])]
        if "until" in q:
            items = [m for m in items if m.timestamp.timestamp() <= int(q["until"])]
        if "after" in q:
            last = base64.urlsafe_b64decode(q["after"].encode()).decode()
            ids = [m.id for m in items]
            items = items[ids.index(last) + 1:] if last in ids else []
        page, rest = items[:limit], items[limit:]
        origin = self._origin(request)
        doc: dict[str, Any] = {"data": [self._media_json(m, fields, origin) for m in page]}
        if page:
            doc["paging"] = {"cursors": {"before": _cursor(page[0].id), "after": _cursor(page[-1].id)}}
            if rest:
                # Like Meta, the next URL repeats every parameter, the access token included.
                query = {**q, "after": _cursor(page[-1].id)}
                doc["paging"]["next"] = f"{origin}{request.path}?{urlencode(query)}"
        return web.json_response(doc)

    async def _create_container(self, request: web.Request) -> web.Response:
        failed = self._auth(request)
        if failed:
            return failed
        if request.match_info["node"] != self.ig_user_id:
            return graph_error(100, "Unsupported post request.", NOT_FOUND_SUBCODE)
        form: dict[str, str] = request[FORM]
        if form.get("media_type") != "REELS":
            return graph_error(100, "The parameter media_type is required (REELS).")
        if len(form.get("caption", "")) > 2200:
            return graph_error(100, "The caption is too long.", 2207010)
        video_url = form.get("video_url")
        if not video_url and form.get("upload_type") != "resumable":
            return graph_error(100, "The parameter video_url or upload_type=resumable is required.")
        if not video_url and request.app[HOST] == INSTAGRAM:
            # [resumable]: "available only for apps that have implemented Facebook Login for Business";
            # the doc gives no error shape, so the generic invalid-parameter one [graph-errors].
            return graph_error(100, "Invalid parameter: upload_type=resumable is not supported "
                               "for this user.")
        container = FakeContainer(
            id=self._new_id("1800000000"), params={k: v for k, v in form.items() if k != "access_token"},
            created_at=self.clock(), upload="video_url" if video_url else "resumable",
            polls_left=self.container_polls, outcome=self.next_outcome)
        self.next_outcome = None
        self.containers[container.id] = container
        if video_url:
            container.fetch = asyncio.create_task(self._fetch(container, video_url))
            return web.json_response({"id": container.id})
        uri = f"{self._origin(request)}/ig-api-upload/{request.match_info['version']}/{container.id}"
        return web.json_response({"id": container.id, "uri": uri})

    async def _publish(self, request: web.Request) -> web.StreamResponse:
        failed = self._auth(request)
        if failed:
            return failed
        container = self.containers.get(request[FORM].get("creation_id", ""))
        if container is None:
            return graph_error(100, "Invalid parameter: creation_id does not exist.", NOT_FOUND_SUBCODE)
        if container.status_code == "PUBLISHED":
            return graph_error(9007, "The media has already been published.")
        if container.status_code == "EXPIRED":
            return graph_error(9007, "The media container has expired.", 2207020)
        if container.status_code != "FINISHED":
            return graph_error(9007, "Media ID is not available", 2207027)
        if self._usage() >= self.quota_total:
            return graph_error(9, "Application request limit reached", 2207042)
        item = self.seed(container.params.get("caption", ""), self.clock(), video=bytes(container.data))
        item.container_id = container.id
        container.status_code, container.status = "PUBLISHED", "Published: Media has been published."
        container.media_id = item.id
        self.publishes.append(container.id)
        if self.drop_publish_replies:
            self.drop_publish_replies -= 1
            assert request.transport is not None
            request.transport.abort()  # published on Instagram, but the reply never arrives
            raise web.HTTPServiceUnavailable()
        return web.json_response({"id": item.id})

    def _usage(self) -> int:
        if self.quota_usage is not None:
            return self.quota_usage
        since = self.clock() - timedelta(days=1)
        return sum(1 for m in self.published() if m.timestamp > since)

    async def _limit(self, request: web.Request) -> web.Response:
        failed = self._auth(request)
        if failed:
            return failed
        config = {"quota_total": self.quota_total, "quota_duration": 86400}
        return web.json_response({"data": [{"config": config, "quota_usage": self._usage()}]})
