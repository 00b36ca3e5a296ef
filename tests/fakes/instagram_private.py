"""A wire-level fake of Instagram's private (mobile) API on 127.0.0.1, for instagrapi 3.2.2.

It speaks what the real client sends and decides outcomes from what it receives. Each behaviour
names its source beside it: an instagrapi 3.2.2 file (read in the installed package; its tests
are those of github.com/subzeroid/instagrapi) or a maintainer's issue thread. Where the fake and
a source disagree, the fake is wrong.

Login is instagrapi 3.x's ``Client.login()``, the app's CAA ("Bloks") flow, on
``b.i.instagram.com`` (``mixins/bloks.py`` ``CAA_API_DOMAIN``):

1. ``POST /graphql_www`` ``IGUSDIDRegistrationMutation`` registers the device's signing key;
2. ``bloks/async_action/…caa.login.process_client_data_and_redirect/`` hands out the ``aac``;
3. ``attestation/create_android_keystore/`` hands out the attestation ``challenge_nonce``;
4. ``bloks/async_action/…caa.login.oauth.token.fetch.async/`` (a preflight);
5. ``GET /api/v1/qe/sync/`` (public session) hands out the password RSA key;
6. ``bloks/async_action/…caa.login.async.send_login_request/`` checks the encrypted password and
   answers with an embedded login response (``ig-set-authorization``), a two-step context
   (then the ``two_step_verification`` Bloks apps check the code), or the
   ``CAA_LOGIN_FALLBACK`` instruction when it refuses the login: instagrapi then runs
   ``login_legacy()``, whose ``accounts/login/`` carries the typed reason (bad password,
   unknown user, checkpoint, disabled...).

``accounts/login/`` asked directly (the legacy flow, not after a fallback) answers
``needs_upgrade``. After a login the app's feeds (``feed/reels_tray``, ``feed/timeline``) follow.

Also served: ``accounts/current_user``, ``clips/user`` (paged with ``max_id``, pinned reels
first), ``media/{id}/info``, ``/rupload_igvideo``, ``/rupload_igphoto``,
``media/configure_to_clips`` (a clip is published only with its video and cover uploaded), the
challenge endpoints (select method -> code sent -> ``security_code``), and ``/cdn/`` media files
whose signed URLs can be expired.

``refuse_login(kind)`` makes the next login refused the way Instagram does (the CAA fallback,
then ``kind`` from ``accounts/login/``); ``fail_next(fragment, kind)`` makes the next request
whose path contains ``fragment`` fail (``FAILURE_BODIES``, plus challenge_required, suspended,
server_error, and slow/malformed answers); ``faults`` (a ``RandomFaults``, off by default) fails
a seeded share of requests with a 5xx or a timeout. Every request is recorded (method, path,
Host header, form). Unknown paths answer 404 JSON, as the real API does for endpoints it does
not have. Media URLs point at ``media_base`` (the fake's own address unless a test sets it):
real media live on CDN hosts, not on the API host the client names in ``Host``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from Cryptodome.Cipher import AES, PKCS1_v1_5
from Cryptodome.PublicKey import RSA

from tests.fakes.faults import RandomFaults

KEY_ID = 41


# Instagram's answers, as instagrapi 3.2.2 tells them apart (mixins/private.py _send_private_request:
# by status, ``message`` and ``error_type``); each body's source is beside it.
FAILURE_BODIES: dict[str, tuple[int, dict[str, Any]]] = {
    # https://github.com/mgp25/Instagram-API/issues/433, LookHin/instagram-photo-video-upload-api#7
    "checkpoint_required": (400, {"message": "checkpoint_required", "lock": True,
                                  "error_type": "checkpoint_challenge_required"}),
    # instagrapi 3.2.2 exceptions.py LoginRequired's docstring (403 + message -> LoginRequired)
    "login_required": (403, {"message": "login_required", "error_title": "You've Been Logged Out",
                             "error_body": "Please log back in.", "logout_reason": 2}),
    # mixins/private.py: "Please wait a few minutes" in message -> PleaseWaitFewMinutes
    "please_wait": (400, {"message": "Please wait a few minutes before you try again."}),
    # mixins/private.py: message feedback_required -> FeedbackRequired (feedback_message read by the
    # best-practices guide, docs/usage-guide/best-practices.md)
    "feedback_required": (400, {
        "message": "feedback_required", "spam": True, "feedback_title": "Try Again Later",
        "feedback_message": "We limit how often you can do certain things on Instagram.",
        "feedback_url": "repute/report_problem/scraping/", "feedback_action": "report_problem"}),
    # mixins/private.py: 429 -> ClientThrottledError
    "throttled": (429, {"message": "Too many requests"}),
    # mixins/private.py: error_type rate_limit_error -> RateLimitError
    "rate_limit": (400, {"message": "Rate limit exceeded", "error_type": "rate_limit_error"}),
    # mixins/private.py: error_type bad_password -> BadPassword
    "bad_password": (400, {"message": "The password you entered is incorrect. Please try again.",
                           "invalid_credentials": True, "error_title": "Incorrect Password",
                           "error_type": "bad_password"}),
    # mixins/private.py: error_type sentry_block -> SentryBlock
    "sentry_block": (400, {"message": "Sorry, there was a problem with your request.",
                           "error_type": "sentry_block"}),
    # mixins/private.py: "The username you entered" -> ProxyAddressIsBlocked
    "ip_blocked": (400, {"message": "The username you entered doesn't appear to belong to an account. "
                                    "Please check your username and try again.",
                         "invalid_credentials": True, "error_type": "invalid_user"}),
    # https://github.com/ramtinak/InstagramApiSharp/issues/96 (an UnknownError for instagrapi)
    "disabled": (400, {"message": "Your account has been disabled for violating our terms. "
                                  "Learn how you may be able to restore your account.",
                       "error_type": "inactive user"}),
    # A 4xx on an rupload: instagrapi 3.2.2 mixins/clip.py _raise_clip_upload_error() reads its status
    "bad_request": (400, {"message": "Invalid upload", "error_type": "upload_invalid"}),
    # What accounts/login/ answers the legacy flow: https://github.com/subzeroid/instagrapi/issues/2773
    # (and #2791, #2807); instagrapi 3.2.2 mixins/private.py raises ClientNeedsUpgradeError for it.
    "needs_upgrade": (400, {"message": "Your version of Instagram is out of date. Please upgrade your app "
                                       "to log in to Instagram.", "error_type": "needs_upgrade"}),
}
# The kinds refuse_login() takes: what accounts/login/ answers once CAA sent the client there.
LOGIN_REFUSALS = ("bad_password", "ip_blocked", "disabled", "feedback_required", "please_wait", "rate_limit",
                  "challenge_required", "needs_upgrade")



@lru_cache(maxsize=1)
def _rsa_key() -> RSA.RsaKey:
    return RSA.generate(2048)


@dataclass
class FakeReel:
    """A Reel on the fake account."""

    pk: int
    caption: str
    taken_at: int
    video: bytes = b"\x00\x00\x00\x18ftypmp42fake-video-bytes"
    duration: float = 7.5
    width: int = 1080
    height: int = 1920
    pinned: bool = False
    code: str = ""
    media_type: int = 2
    thumbnail: bytes = b"\xff\xd8\xff\xe0fake-jpeg"

    def __post_init__(self) -> None:
        self.code = self.code or f"C{self.pk:x}"


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    host: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, Any]
    body_size: int


@dataclass
class Challenge:
    """A checkpoint: ``select_verify_method`` until a method is chosen, then a code is sent."""

    nonce: str
    step: str = "select_verify_method"
    code_sent: bool = False
    solved: bool = False


@dataclass
class FakeInstagramPrivate:
    """The fake; ``start()`` returns its base URL, ``stop()`` closes it."""

    username: str = "reels.owner"
    password: str = "pa$$ w0rd:ig"
    user_pk: int = 5120001234
    full_name: str = "Reels Owner"
    email_hint: str = "r***s@example.com"
    two_factor: bool = False
    two_factor_code: str = "123456"
    security_code: str = "654321"
    rotate_rur: bool = False
    transcode_pending: int = 0
    slow_seconds: float = 2.0
    reels: list[FakeReel] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)
    logins: int = 0
    uploads: list[dict[str, Any]] = field(default_factory=list)
    videos: dict[str, bytes] = field(default_factory=dict)
    photos: dict[str, bytes] = field(default_factory=dict)
    challenges: dict[str, Challenge] = field(default_factory=dict)
    login_challenge: str | None = None
    url_generation: int = 1
    failures: list[tuple[str, str]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    faults: RandomFaults | None = None
    base_url: str = ""
    media_base: str = ""
    registered_devices: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _two_factor_ids: set[str] = field(default_factory=set)
    _aac: dict[str, str] = field(default_factory=dict)  # android device id -> the aac handed to it
    _nonces: dict[str, str] = field(default_factory=dict)  # app-scoped device id (uuid) -> challenge nonce
    _two_step: set[str] = field(default_factory=set)  # open two_step_verification_context values
    _sent_to_legacy: dict[str, str] = field(default_factory=dict)  # device id -> refusal ("" = none)
    _refused: set[str] = field(default_factory=set)  # devices whose current login attempt was refused

    async def start(self) -> str:
        """Serve on a free loopback port; return the base URL."""
        _rsa_key()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # A client that hangs up (a killed worker) cancels its handler, even one sleeping in "slow".
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self.media_base = self.media_base or self.base_url
        return self.base_url

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    # -- test helpers ----------------------------------------------------------------------

    def fail_next(self, fragment: str, kind: str, times: int = 1) -> None:
        """Make the next ``times`` requests whose path contains ``fragment`` fail as ``kind``."""
        assert kind in (*FAILURE_BODIES, "challenge_required", "suspended", "server_error", "slow",
                        "malformed"), kind
        self.failures.extend([(fragment, kind)] * times)

    def refuse_login(self, kind: str) -> None:
        """Refuse the next login as Instagram does: CAA answers the fallback instruction, and the
        legacy ``accounts/login/`` it sends the client to answers ``kind``."""
        assert kind in LOGIN_REFUSALS, kind
        self.refusals.append(kind)

    def seed(self, count: int, *, start: int = 1_700_000_000, step: int = 3600,
             caption: str = "reel") -> None:
        """Add ``count`` reels, one every ``step`` seconds from ``start`` (pk = 1000 + index)."""
        base = len(self.reels)
        for i in range(count):
            n = base + i
            self.reels.append(FakeReel(pk=1000 + n, caption=f"{caption} {n}", taken_at=start + n * step))

    def expire_sessions(self) -> None:
        """Log every session out (the next authenticated call answers login_required)."""
        self.sessions.clear()

    def expire_media_urls(self) -> None:
        """Make every media URL handed out so far answer 403, as expired CDN signatures do."""
        self.url_generation += 1

    def calls(self, fragment: str, method: str | None = None) -> list[Recorded]:
        """Recorded requests whose path contains ``fragment``."""
        return [r for r in self.requests if fragment in r.path and (method is None or r.method == method)]

    # -- plumbing --------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        form = _form(body, request.content_type)
        self.requests.append(Recorded(request.method, request.path, request.host, dict(request.query),
                                      dict(request.headers), form, len(body)))
        if self.faults is not None:
            return await self.faults.serve(request, lambda r: self._answer(r, form, body),
                                           lambda status: self._server_error(status))
        return await self._answer(request, form, body)

    async def _answer(self, request: web.Request, form: dict[str, Any], body: bytes) -> web.StreamResponse:
        for index, (fragment, kind) in enumerate(self.failures):
            if fragment in request.path:
                del self.failures[index]
                if kind == "slow":
                    await asyncio.sleep(self.slow_seconds)
                    break
                if kind == "malformed":
                    return web.json_response({"status": "ok"})
                return self._failure(request, kind)
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, request.path)
            if match and request.method in method:
                response: web.StreamResponse = await handler(request, form, body, *match.groups())
                if self.rotate_rur and self._user(request) is not None:
                    # Instagram rotates the rur cookie ("CLN,<user>,<time>:<hmac>", instagrapi 3.2.2
                    # mixins/auth.py ig_u_rur's example).
                    response.set_cookie("rur", f"RVA,{self.user_pk},{time.time_ns()}")
                return response
        return web.json_response({"message": "Page not found", "status": "fail"}, status=404)

    def _routes(self) -> list[tuple[tuple[str, ...], str, Any]]:
        v1 = r"/api/v1"
        bloks = rf"{v1}/bloks/async_action/com\.bloks\.www"
        return [
            (("GET", "POST"), rf"{v1}/qe/sync/", self._public_key),
            (("POST",), rf"{v1}/launcher/sync/", self._ok),  # login_legacy()'s pre_login_flow()
            # The CAA login (instagrapi 3.2.2 mixins/attestation.py, mixins/bloks.py):
            (("POST",), r"/graphql_www", self._graphql_www),
            (("POST",), rf"{bloks}\.bloks\.caa\.login\.process_client_data_and_redirect/", self._caa_home),
            (("POST",), rf"{v1}/attestation/create_android_keystore/", self._keystore),
            (("POST",), rf"{bloks}\.caa\.login\.oauth\.token\.fetch\.async/", self._caa_oauth),
            (("POST",), rf"{bloks}\.bloks\.caa\.login\.async\.send_login_request/", self._caa_login),
            (("POST",), rf"{v1}/bloks/apps/com\.bloks\.www\.two_step_verification\."
                        r"(entrypoint|method_picker)/", self._two_step_screen),
            (("POST",), rf"{bloks}\.two_step_verification\.method_picker\.navigation\.async/",
             self._two_step_screen),
            (("POST",), rf"{bloks}\.two_step_verification\.verify_code\.async/", self._two_step_code),
            # The legacy flow (login_legacy(), where CAA sends a refused login):
            (("POST",), rf"{v1}/accounts/login/", self._login),
            (("POST",), rf"{v1}/accounts/two_factor_login/", self._two_factor_login),
            (("POST",), rf"{v1}/feed/reels_tray/", self._authed(self._reels_tray)),
            (("POST",), rf"{v1}/feed/timeline/", self._authed(self._timeline)),
            (("GET",), rf"{v1}/accounts/current_user/", self._authed(self._current_user)),
            (("POST",), rf"{v1}/clips/user/", self._authed(self._clips)),
            (("GET",), rf"{v1}/media/([0-9_]+)/info/", self._authed(self._media_info)),
            (("POST",), r"/upload_settings/([^/]+)", self._authed(self._ok)),  # clip_upload(): 200 is all
            (("GET", "POST"), r"/rupload_igvideo/([^/]+)", self._authed(self._rupload_video)),
            (("POST",), r"/rupload_igphoto/([^/]+)", self._authed(self._rupload_photo)),
            (("POST",), rf"{v1}/media/configure_to_clips/", self._authed(self._configure)),
            (("GET", "POST"), r"/api(?:/v1)?/challenge/\d+/([^/]+)/", self._challenge),
            (("GET",), r"/cdn/v/(\d+)\.mp4", self._cdn_video),
            (("GET",), r"/cdn/t/(\d+)\.jpg", self._cdn_thumb),
        ]

    def _authed(self, handler: Any) -> Any:
        async def wrapped(request: web.Request, form: dict[str, Any], body: bytes,
                          *groups: str) -> web.Response:
            if self._user(request) is None:
                return self._failure(request, "login_required")
            response: web.Response = await handler(request, form, body, *groups)
            return response
        return wrapped

    def _user(self, request: web.Request) -> int | None:
        # "Authorization: Bearer IGT:2:<base64 JSON with sessionid>" (instagrapi 3.2.2 mixins/auth.py
        # authorization), the header a login's ig-set-authorization handed out.
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer IGT:2:"):
            return None
        try:
            data = json.loads(base64.b64decode(header.removeprefix("Bearer IGT:2:")))
        except ValueError:
            return None
        return self.user_pk if data.get("sessionid") in self.sessions else None

    def _base(self, request: web.Request) -> str:
        """Where media files are served: real media URLs name CDN hosts, never the API host."""
        return self.media_base or self.base_url

    @staticmethod
    def _api_host(request: web.Request) -> str:
        """The Instagram host the client addressed (its Host header), as in Instagram's own links."""
        return request.host if request.host.endswith("instagram.com") else "i.instagram.com"

    @staticmethod
    def _server_error(status: int = 500) -> web.Response:
        return web.Response(status=status, text=f"<html><body>Server Error ({status})</body></html>",
                            content_type="text/html")

    def _failure(self, request: web.Request, kind: str) -> web.Response:
        if kind == "server_error":
            return web.Response(status=500, text="<html><body>Internal Server Error</body></html>",
                                content_type="text/html")
        if kind == "challenge_required":
            nonce = secrets.token_hex(5)
            self.challenges[nonce] = Challenge(nonce)
            if "accounts/login" in request.path:
                self.login_challenge = nonce  # logins keep answering this until it is passed
            return self._challenge_required(request, f"/challenge/{self.user_pk}/{nonce}/")
        if kind == "suspended":
            return self._challenge_required(request, "/accounts/suspended/")
        status, body = FAILURE_BODIES[kind]
        if kind == "checkpoint_required":
            nonce = secrets.token_hex(5)
            self.challenges[nonce] = Challenge(nonce)
            body = {**body, "checkpoint_url": f"https://{self._api_host(request)}/challenge/{self.user_pk}/{nonce}/"}
        return web.json_response({**body, "status": "fail"}, status=status)

    def _challenge_required(self, request: web.Request, path: str) -> web.Response:
        # The shape of https://github.com/Datalux/Osintgram/issues/261; native_flow false and a
        # /challenge/{user}/{nonce}/ path: the code flow (select_verify_method -> verify_email ->
        # security_code) of instagrapi 3.2.2 mixins/challenge.py, not a manual checkpoint
        # (docs/usage-guide/challenge_resolver.md). A /suspended/ url -> AccountSuspended (private.py).
        challenge = {"url": f"https://{self._api_host(request)}{path}", "api_path": path,
                     "hide_webview_header": True, "lock": True, "logout": False, "native_flow": False,
                     "flow_render_type": 0}
        return web.json_response({"message": "challenge_required", "challenge": challenge, "status": "fail",
                                  "error_type": "checkpoint_challenge_required"}, status=400)

    # -- login: shared ---------------------------------------------------------------------

    async def _public_key(self, request: web.Request, *_: Any) -> web.Response:
        # instagrapi 3.2.2 mixins/password.py password_publickeys(): GET qe/sync/ on the public
        # session, key id and base64 PEM in these two headers.
        pem = _rsa_key().publickey().export_key()
        return web.json_response({"status": "ok"}, headers={
            "ig-set-password-encryption-key-id": str(KEY_ID),
            "ig-set-password-encryption-pub-key": base64.b64encode(pem).decode(),
        })

    async def _ok(self, *_: Any) -> web.Response:
        return web.json_response({"status": "ok"})

    def _new_session(self) -> dict[str, str]:
        """Headers that log the device in (what a successful login or passed challenge sends)."""
        session = f"{self.user_pk}%3A{secrets.token_urlsafe(12)}%3A9"
        self.sessions.add(session)
        auth = {"ds_user_id": str(self.user_pk), "sessionid": session, "should_use_header_over_cookies": True}
        return {
            # instagrapi 3.2.2 mixins/auth.py parse_authorization(): "Bearer IGT:2:" + base64 JSON.
            "ig-set-authorization": "Bearer IGT:2:" + base64.b64encode(json.dumps(auth).encode()).decode(),
            "ig-set-x-mid": "ZfakeMID0000000000000000",
            "ig-set-ig-u-ds-user-id": str(self.user_pk),
        }

    def _logged_in(self, request: web.Request) -> web.Response:
        self.logins += 1
        response = web.json_response({"logged_in_user": self._user_json(request), "status": "ok"},
                                     headers=self._new_session())
        response.set_cookie("csrftoken", secrets.token_hex(16))
        return response

    def _refusal(self, username: Any, password: str | None) -> str | None:
        """Why a login with these credentials is refused (None: it is not)."""
        if username != self.username:
            return "ip_blocked"  # what Instagram says for an unknown username (mixins/private.py)
        if password != self.password:
            return "bad_password"
        if self.login_challenge and not self.challenges[self.login_challenge].solved:
            return "challenge_required"
        return None

    # -- login: CAA (instagrapi 3.2.2 Client.login()) --------------------------------------

    async def _graphql_www(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        # instagrapi 3.2.2 mixins/attestation.py usdid_register() through mixins/graphql.py
        # private_graphql_www_request(); the answer's shape is the one instagrapi's own test feeds it
        # (tests/regression/test_attestation.py test_usdid_register_uses_app_428_document_...).
        if form.get("fb_api_req_friendly_name") != "IGUSDIDRegistrationMutation":
            return web.json_response({"message": "Page not found", "status": "fail"}, status=404)
        try:
            variables = json.loads(str(form.get("variables") or "{}"))["input"]
            token, family = (variables[k]["sensitive_string_value"] for k in ("usdid_token", "fdid"))
        except (ValueError, KeyError, TypeError):
            return web.json_response({"data": {"1$usdid_registration(data:$input)": {"success": False}}})
        if token:
            self.registered_devices.add(str(family))
        return web.json_response({"data": {"1$usdid_registration(data:$input)": {"success": bool(token)}}})

    @staticmethod
    def _bloks_params(form: dict[str, Any]) -> dict[str, Any]:
        # instagrapi 3.2.2 mixins/bloks.py _bloks_payload(): the Bloks params travel as a JSON string.
        try:
            params = json.loads(str(form.get("params") or "{}"))
        except ValueError:
            return {}
        return params if isinstance(params, dict) else {}

    async def _caa_home(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        # The CAA login homepage hands out the account access context ("aac"), in the node that
        # instagrapi 3.2.2 mixins/bloks.py bloks_extract_aac() reads (the shape of instagrapi's
        # tests/regression/test_attestation.py aac_response()).
        device = str(self._bloks_params(form).get("device_id") or "")
        aac = json.dumps({"aac_init_timestamp": int(time.time()), "aacjid": secrets.token_hex(8),
                          "aaccs": secrets.token_urlsafe(16)}, separators=(",", ":"))
        self._aac[device] = aac
        node = {"data": {"key": "CAA_ACCOUNT_ACCESS_CONTEXT:aac",
                         "initial_lispy": f"(fhy {json.dumps(aac)})"}}
        return web.json_response({"layout": {"bloks_payload": {"data": [node]}}, "status": "ok"})

    async def _keystore(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        # instagrapi 3.2.2 mixins/attestation.py attestation_create_android_keystore(): nonces it keeps
        # (the answer instagrapi's tests/regression/test_attestation.py gives it).
        nonce = secrets.token_urlsafe(16)
        self._nonces[str(form.get("app_scoped_device_id") or "")] = nonce
        return web.json_response({"challenge_nonce": nonce, "key_nonce": secrets.token_urlsafe(16),
                                  "status": "ok"})

    async def _caa_oauth(self, *_: Any) -> web.Response:
        # The OAuth token preflight; instagrapi 3.2.2 reads nothing from its answer.
        return web.json_response({"status": "ok"})

    async def _caa_login(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        params = self._bloks_params(form)
        inputs = params.get("client_input_params") or {}
        device = str(inputs.get("device_id") or "")
        if not inputs.get("aac") or inputs.get("aac") != self._aac.get(device):
            # A send_login_request without the aac this device was given: the null-payload answer of
            # https://github.com/subzeroid/instagrapi/issues/2725 (instagrapi 3.2.2 mixins/auth.py
            # _is_unavailable_caa_login_error() knows it).
            return web.json_response({"message": "Payload returned is null.", "error_type": "field_exception",
                                      "status": "fail"}, status=404)
        if device in self._refused:
            # instagrapi tries CAA once more after the legacy refusals it can recover from
            # (mixins/auth.py login_legacy(): BadPassword, needs_upgrade); this device was just refused.
            self._refused.discard(device)
            return self._caa_fallback()
        if self.refusals:
            self._sent_to_legacy[device] = self.refusals.pop(0)
            return self._caa_fallback()
        if self._refusal(inputs.get("contact_point"), _decrypt(str(inputs.get("password", "")))) is not None:
            self._sent_to_legacy[device] = ""  # accounts/login/ finds the reason in what it is sent
            return self._caa_fallback()
        if self.two_factor:
            # A redirect to the two-step verification app, its context in the Bloks action (the shape
            # instagrapi 3.2.2 mixins/bloks.py bloks_extract_two_step_verification_context() parses;
            # instagrapi's tests/regression/test_bloks.py ..._context_from_caa_action).
            context = secrets.token_urlsafe(24)
            self._two_step.add(context)
            action = ('(bk.action.caa.PresentScreen "com.bloks.www.two_step_verification.entrypoint" '
                      '(dkc "server_params" "client_input_params") '
                      '(dkc (f4i (dkc "two_step_verification_context" "flow_source" "device_id") '
                      f'(dkc {json.dumps(context)} "two_factor_login" {json.dumps(device)}))))')
            return web.json_response({"layout": {"bloks_payload": {"action": action}}, "status": "ok"})
        return self._bloks_logged_in(request)

    @staticmethod
    def _caa_fallback() -> web.Response:
        # Instagram sends a refused login back to the legacy accounts flow, which carries the typed
        # reason: https://github.com/subzeroid/instagrapi/pull/2803 (the marker in the place of
        # instagrapi's tests/regression/test_caa_fallback_errors.py; 3.2.2 mixins/auth.py login()).
        marker = "CAA_LOGIN_FALLBACK:fallback_triggered"
        return web.json_response({"layout": {"bloks_payload": {"data": [marker]}}, "status": "ok"})

    def _bloks_logged_in(self, request: web.Request) -> web.Response:
        """A login response embedded in the Bloks action, as a CAA login or a verified code answers
        (parsed by instagrapi 3.2.2 mixins/bloks.py bloks_extract_login_response(); the shape of
        instagrapi's tests/regression/test_bloks.py ..._parses_embedded_action_payload)."""
        self.logins += 1
        headers = self._new_session()
        authorization = headers["ig-set-authorization"]
        sessionid = json.loads(base64.b64decode(authorization.rsplit(":", 1)[1]))["sessionid"]
        attributes = "Domain=.instagram.com; Path=/; Secure"
        cookies = {"csrftoken": secrets.token_hex(16), "ds_user_id": self.user_pk, "sessionid": sessionid}
        rur = f"RVA,{self.user_pk},{int(time.time()) + 31536000}:01f7"
        embedded = {
            "login_response": json.dumps({"logged_in_user": self._user_json(request), "status": "ok"}),
            "headers": json.dumps({"IG-Set-Authorization": authorization, "ig-set-ig-u-rur": rur}),
            "cookies": "\r\n".join(f"Set-Cookie: {k}={v}; {attributes}" for k, v in cookies.items()),
        }
        payload = json.dumps(json.dumps(embedded))
        action = f"(bk.action.caa.HandleLoginResponse {json.dumps('login')} {payload})"
        return web.json_response({"layout": {"bloks_payload": {"action": action}}, "status": "ok"},
                                 headers={"ig-set-x-mid": headers["ig-set-x-mid"]})

    async def _two_step_screen(self, *_: Any) -> web.Response:
        # The two-step entrypoint, method picker and method choice: screens instagrapi 3.2.2
        # (mixins/auth.py _login_with_bloks_two_factor) opens without reading them.
        return web.json_response({"layout": {"bloks_payload": {"data": []}}, "status": "ok"})

    async def _two_step_code(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        params = self._bloks_params(form)
        context = (params.get("server_params") or {}).get("two_step_verification_context")
        code = (params.get("client_input_params") or {}).get("code")
        if context in self._two_step and code == self.two_factor_code:
            self._two_step.discard(context)
            return self._bloks_logged_in(request)
        # A wrong code: a screen without an embedded login response, all instagrapi 3.2.2 tells
        # apart (mixins/auth.py raises TwoFactorRequired for it).
        return web.json_response({"layout": {"bloks_payload": {"data": []}}, "status": "ok"})

    # -- login: legacy (instagrapi 3.2.2 Client.login_legacy()) ----------------------------

    async def _login(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        device = str(form.get("device_id") or "")
        if device not in self._sent_to_legacy:
            # The legacy flow on its own is refused as an outdated app:
            # https://github.com/subzeroid/instagrapi/issues/2773 (also #2791, #2807).
            return self._failure(request, "needs_upgrade")
        queued = self._sent_to_legacy.pop(device)
        refusal = queued or self._refusal(form.get("username"), _decrypt(str(form.get("enc_password", ""))))
        if refusal is not None:
            if refusal in ("bad_password", "needs_upgrade"):
                self._refused.add(device)  # its next CAA attempt, instagrapi's retry, is refused too
            if refusal == "challenge_required" and self.login_challenge:
                return self._challenge_required(request, f"/challenge/{self.user_pk}/{self.login_challenge}/")
            return self._failure(request, refusal)
        if self.two_factor:
            # two_factor_info -> TwoFactorRequired, then accounts/two_factor_login/ with its identifier
            # (instagrapi 3.2.2 mixins/private.py and mixins/auth.py login_legacy()).
            identifier = secrets.token_urlsafe(16)
            self._two_factor_ids.add(identifier)
            info = {"username": self.username, "sms_two_factor_on": False, "totp_two_factor_on": True,
                    "obfuscated_phone_number": "", "two_factor_identifier": identifier,
                    "show_trusted_device_option": True, "pending_trusted_notification": False}
            return web.json_response({"message": "", "two_factor_required": True, "two_factor_info": info,
                                      "status": "fail", "error_type": "two_factor_required"}, status=400)
        return self._logged_in(request)

    async def _two_factor_login(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        # The legacy flow's code check (instagrapi 3.2.2 mixins/auth.py login_legacy()).
        if form.get("two_factor_identifier") not in self._two_factor_ids:
            return web.json_response({"message": "This code is no longer valid. Please request a new one.",
                                      "status": "fail", "error_type": "invalid_nonce"}, status=400)
        if form.get("verification_code") != self.two_factor_code:
            return web.json_response({"message": "Please check the security code and try again.",
                                      "status": "fail", "error_type": "sms_code_validation_code_invalid"},
                                     status=400)
        self._two_factor_ids.discard(str(form.get("two_factor_identifier")))
        return self._logged_in(request)

    async def _challenge(self, request: web.Request, form: dict[str, Any], _: bytes,
                         nonce: str) -> web.Response:
        challenge = self.challenges.get(nonce)
        if challenge is None or challenge.solved:
            return web.json_response({"message": "Challenge not found", "status": "fail"}, status=404)
        # The steps and bodies of instagrapi 3.2.2 mixins/challenge.py handle_challenge_step() (its
        # select_verify_method docstring; "choice" then "security_code" posted to the same path, and
        # action "close" once the code is accepted).
        common = {"user_id": self.user_pk, "nonce_code": nonce, "status": "ok"}
        if request.method == "GET" or "choice" in form and challenge.step == "select_verify_method":
            if request.method == "POST":
                challenge.step, challenge.code_sent = "verify_email", True
            if challenge.step == "select_verify_method":
                return web.json_response({"step_name": "select_verify_method", **common, "step_data": {
                    "choice": "1", "email": self.email_hint, "phone_number": "+1 ***-***-**00"}})
            return web.json_response({"step_name": "verify_email", **common, "step_data": {
                "security_code": "None", "resend_delay": 60, "contact_point": self.email_hint}})
        if "security_code" in form:
            if not challenge.code_sent or form["security_code"] != self.security_code:
                return web.json_response({"message": "Please check the code we sent you and try again.",
                                          "status": "fail", "error_type": "invalid_security_code"},
                                         status=400)
            challenge.solved = True  # a passed login challenge logs the device in
            body = {"action": "close", "status": "ok", "logged_in_user": self._user_json(request)}
            return web.json_response(body, headers=self._new_session())
        return web.json_response({"message": "Select a valid choice.", "status": "fail"}, status=400)

    # -- account and reels -----------------------------------------------------------------

    def _user_json(self, request: web.Request) -> dict[str, Any]:
        return {"pk": self.user_pk, "pk_id": str(self.user_pk), "username": self.username,
                "full_name": self.full_name, "is_private": False, "is_verified": False, "is_business": False,
                "profile_pic_url": f"{self._base(request)}/cdn/t/0.jpg", "biography": "", "external_url": ""}

    async def _current_user(self, request: web.Request, *_: Any) -> web.Response:
        # instagrapi 3.2.2 mixins/account.py account_info(): GET accounts/current_user/?edit=true -> "user"
        return web.json_response({"user": self._user_json(request), "status": "ok"})

    async def _reels_tray(self, *_: Any) -> web.Response:
        # The post-login feeds of instagrapi 3.2.2 mixins/auth.py login_flow(); nothing is read from them.
        return web.json_response({"tray": [], "story_ranking_token": "x", "status": "ok"})

    async def _timeline(self, *_: Any) -> web.Response:
        return web.json_response({"feed_items": [], "num_results": 0, "more_available": False,
                                  "status": "ok"})

    def _media_json(self, request: web.Request, reel: FakeReel) -> dict[str, Any]:
        # The private media fields instagrapi 3.2.2 extractors.py extract_media_v1() reads (pk, id,
        # code, taken_at, media_type, product_type, caption, user, video_versions, image_versions2,
        # video_duration, clips_tab_pinned_user_ids); CDN links signed with an "oe" expiry.
        base, sig = self._base(request), f"oe={self.url_generation}"
        return {
            "pk": reel.pk, "id": f"{reel.pk}_{self.user_pk}", "code": reel.code, "taken_at": reel.taken_at,
            "media_type": reel.media_type, "product_type": "clips" if reel.media_type == 2 else "feed",
            "caption": {"pk": reel.pk * 10, "text": reel.caption} if reel.caption else None,
            "user": {"pk": self.user_pk, "username": self.username, "full_name": self.full_name},
            "video_versions": [
                {"type": 101, "width": reel.width, "height": reel.height,
                 "url": f"{base}/cdn/v/{reel.pk}.mp4?{sig}"},
                {"type": 102, "width": reel.width // 2, "height": reel.height // 2,
                 "url": f"{base}/cdn/v/{reel.pk}.mp4?{sig}&small=1"},
            ] if reel.media_type == 2 else [],
            "image_versions2": {"candidates": [
                {"width": reel.width, "height": reel.height, "url": f"{base}/cdn/t/{reel.pk}.jpg?{sig}"}]},
            "video_duration": reel.duration, "original_width": reel.width, "original_height": reel.height,
            "like_count": 0, "comment_count": 0, "play_count": 0, "has_audio": True,
            "clips_tab_pinned_user_ids": [self.user_pk] if reel.pinned else [],
        }

    def _ordered(self) -> list[FakeReel]:
        by_date = sorted(self.reels, key=lambda r: r.taken_at, reverse=True)
        return [r for r in by_date if r.pinned] + [r for r in by_date if not r.pinned]

    async def _clips(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        # POST clips/user/ with target_user_id, max_id, page_size (instagrapi 3.2.2 mixins/media.py
        # user_clips_paginated_v1()): items[].media, paging_info {max_id, more_available}, pinned first.
        # "Not authorized to view user" -> PrivateAccount (mixins/private.py).
        if str(form.get("target_user_id")) != str(self.user_pk):
            return web.json_response({"message": "Not authorized to view user", "status": "fail"}, status=400)
        reels = self._ordered()
        start = int(base64.b64decode(form["max_id"]).decode()) if form.get("max_id") else 0
        size = int(form.get("page_size") or 12)
        page = reels[start:start + size]
        more = start + size < len(reels)
        next_id = base64.b64encode(str(start + size).encode()).decode() if more else ""
        return web.json_response({"items": [{"media": self._media_json(request, r)} for r in page],
                                  "paging_info": {"max_id": next_id, "more_available": more}, "status": "ok"})

    async def _media_info(self, request: web.Request, _: Any, __: bytes, media_id: str) -> web.Response:
        # GET media/{id}/info/ -> items[0] (instagrapi 3.2.2 mixins/media.py media_info_v1());
        # "Media not found or unavailable" -> MediaUnavailable (mixins/private.py).
        reel = next((r for r in self.reels if r.pk == int(media_id.split("_")[0])), None)
        if reel is None:
            return web.json_response({"message": "Media not found or unavailable", "status": "fail"},
                                     status=400)
        return web.json_response({"items": [self._media_json(request, reel)], "num_results": 1,
                                  "more_available": False, "status": "ok"})

    async def _cdn_video(self, request: web.Request, _: Any, __: bytes, pk: str) -> web.Response:
        # Signed CDN links stop working once their "oe" expiry passes: 403, text/plain "URL signature
        # expired" (https://github.com/aaronpk/OwnYourGram/issues/80, mgp25/Instagram-API#2640); a
        # fresh media info has new ones. The adapter downloads these itself, through its proxy.
        reel = next((r for r in self.reels if r.pk == int(pk)), None)
        if reel is None or request.query.get("oe") != str(self.url_generation):
            return web.Response(status=403, text="URL signature expired")
        return web.Response(body=reel.video, content_type="video/mp4")

    async def _cdn_thumb(self, request: web.Request, _: Any, __: bytes, pk: str) -> web.Response:
        reel = next((r for r in self.reels if r.pk == int(pk)), None)
        return web.Response(body=reel.thumbnail if reel else b"\xff\xd8\xff", content_type="image/jpeg")

    # -- upload ----------------------------------------------------------------------------

    async def _rupload_video(self, request: web.Request, _: Any, body: bytes, name: str) -> web.Response:
        # instagrapi 3.2.2 mixins/clip.py clip_upload(): POST /upload_settings/{id}, GET then POST
        # /rupload_igvideo/{name} with X-Instagram-Rupload-Params (upload_id) and X-Entity-Length; a
        # non-200 -> ClipNotUpload with the stage (_raise_clip_upload_error()).
        params = json.loads(request.headers.get("X-Instagram-Rupload-Params", "{}"))
        upload_id = str(params.get("upload_id", ""))
        if request.method == "GET":
            return web.json_response({"offset": 0, "status": "ok"})
        if int(request.headers.get("X-Entity-Length", "-1")) != len(body):
            return web.json_response({"message": "entity length mismatch", "status": "fail"}, status=400)
        self.videos[upload_id] = body
        return web.json_response({"upload_id": upload_id, "xsharing_nonces": {}, "status": "ok"})

    async def _rupload_photo(self, request: web.Request, _: Any, body: bytes, name: str) -> web.Response:
        # The cover: instagrapi 3.2.2 mixins/clip.py clip_configure() -> mixins/photo.py photo_rupload()
        # with the clip's upload_id.
        params = json.loads(request.headers.get("X-Instagram-Rupload-Params", "{}"))
        upload_id = str(params.get("upload_id", ""))
        self.photos[upload_id] = body
        return web.json_response({"upload_id": upload_id, "xsharing_nonces": {}, "status": "ok"})

    async def _configure(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        # media/configure_to_clips/ (instagrapi 3.2.2 mixins/clip.py clip_configure()): 202
        # "Transcode not finished yet." is retried by clip_upload(); media_needs_reupload (error_title)
        # -> ClientError (mixins/private.py); success -> "media" (extract_media_v1).
        upload_id = str(form.get("upload_id", ""))
        if upload_id not in self.videos or upload_id not in self.photos:
            body = {"message": "media_needs_reupload", "error_title": "staged_position_not_found",
                    "status": "fail"}
            return web.json_response(body, status=400)
        if self.transcode_pending > 0:
            self.transcode_pending -= 1
            return web.json_response({"message": "Transcode not finished yet.", "status": "fail"}, status=202)
        reel = FakeReel(pk=9_000_000 + len(self.uploads), caption=str(form.get("caption", "")),
                        taken_at=int(time.time()), video=self.videos[upload_id],
                        width=int(form.get("original_width") or 0),
                        height=int(form.get("original_height") or 0), duration=float(form.get("length") or 0))
        self.reels.append(reel)
        self.uploads.append({"pk": reel.pk, "caption": reel.caption, "video": self.videos.pop(upload_id),
                             "thumbnail": self.photos.pop(upload_id), "upload_id": upload_id})
        return web.json_response({"media": self._media_json(request, reel), "status": "ok"})


def _form(body: bytes, content_type: str) -> dict[str, Any]:
    """The request's parameters: instagrapi's ``signed_body=SIGNATURE.{json}``, a form, or JSON."""
    text = body.decode("utf-8", "replace") if body else ""
    if not text or content_type in ("application/octet-stream", "video/mp4", "image/jpeg"):
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
            return data if isinstance(data, dict) else {}
        except ValueError:
            return {}
    fields = {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}
    signed = fields.pop("signed_body", None)
    if signed and signed.startswith("SIGNATURE."):
        try:
            data = json.loads(signed.removeprefix("SIGNATURE."))
        except ValueError:
            return fields
        if isinstance(data, dict):
            fields.update({k: v for k, v in data.items()})
    return fields


def _decrypt(enc_password: str) -> str | None:
    """Undo instagrapi's ``password_encrypt`` with the fake's private key."""
    parts = enc_password.split(":", 3)
    if len(parts) != 4 or parts[0] != "#PWD_INSTAGRAM" or parts[1] != "4":
        return None
    timestamp, blob = parts[2], base64.b64decode(parts[3])
    if blob[0] != 1 or blob[1] != KEY_ID:
        return None
    iv, size = blob[2:14], int.from_bytes(blob[14:16], "little")
    wrapped, tag, sealed = blob[16:16 + size], blob[16 + size:32 + size], blob[32 + size:]
    session_key = PKCS1_v1_5.new(_rsa_key()).decrypt(wrapped, None)
    if session_key is None:
        return None
    cipher = AES.new(session_key, AES.MODE_GCM, iv)
    cipher.update(timestamp.encode())
    try:
        return cipher.decrypt_and_verify(sealed, tag).decode("utf-8")
    except ValueError:
        return None
