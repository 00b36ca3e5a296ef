"""A wire-level fake of Instagram's private (mobile) API on 127.0.0.1, enough for instagrapi 3.2.

It speaks what the real client sends and decides outcomes from what it receives:

* ``GET /api/v1/qe/sync/`` hands out an RSA public key (``ig-set-password-encryption-*``
  headers); ``POST /api/v1/accounts/login/`` decrypts ``enc_password`` with the private key
  (``#PWD_INSTAGRAM:4:...``: RSA-wrapped AES-GCM key) and checks it, answers two-factor or
  bad-password JSON, or logs in with an ``ig-set-authorization`` header that later calls must
  echo as ``Authorization: Bearer IGT:2:...``; ``accounts/two_factor_login/`` checks the code.
* ``launcher/sync``, ``feed/reels_tray``, ``feed/timeline`` (the app's pre/post-login calls),
  ``accounts/current_user``, ``clips/user`` (paged with ``max_id``, pinned reels first),
  ``media/{id}/info``, ``/upload_settings``, ``/rupload_igvideo``, ``/rupload_igphoto``,
  ``media/configure_to_clips`` (a clip is published only with its video and cover uploaded),
  the challenge endpoints (select method -> code sent -> ``security_code``), and ``/cdn/``
  media files whose signed URLs can be expired.

``fail_next(fragment, kind)`` makes the next request whose path contains ``fragment`` fail the
way Instagram does (``FAILURE_BODIES``, plus challenge_required, suspended, server_error, and
slow/malformed answers); ``faults`` (a ``RandomFaults``, off by default) fails a seeded share of
requests with a 5xx or a timeout. Every request is recorded (method, path, host, form).
Unknown paths answer 404 JSON, as the real API does for endpoints it does not have.
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


# Instagram's answers, as instagrapi tells them apart (by status, ``message`` and ``error_type``).
FAILURE_BODIES: dict[str, tuple[int, dict[str, Any]]] = {
    "checkpoint_required": (400, {"message": "checkpoint_required", "lock": True,
                                  "error_type": "checkpoint_challenge_required"}),
    "login_required": (403, {"message": "login_required", "error_title": "You've Been Logged Out",
                             "error_body": "Please log back in.", "logout_reason": 2}),
    "please_wait": (400, {"message": "Please wait a few minutes before you try again."}),
    "feedback_required": (400, {
        "message": "feedback_required", "spam": True, "feedback_title": "Try Again Later",
        "feedback_message": "We limit how often you can do certain things on Instagram.",
        "feedback_url": "repute/report_problem/scraping/", "feedback_action": "report_problem"}),
    "throttled": (429, {"message": "Too many requests"}),
    "rate_limit": (400, {"message": "Rate limit exceeded", "error_type": "rate_limit_error"}),
    "bad_password": (400, {"message": "The password you entered is incorrect. Please try again.",
                           "invalid_credentials": True, "error_title": "Incorrect Password",
                           "error_type": "bad_password"}),
    "sentry_block": (400, {"message": "Sorry, there was a problem with your request.",
                           "error_type": "sentry_block"}),
    "ip_blocked": (400, {"message": "The username you entered doesn't appear to belong to an account. "
                                    "Please check your username and try again.",
                         "invalid_credentials": True, "error_type": "invalid_user"}),
    "disabled": (400, {"message": "Your account has been disabled for violating our terms. "
                                  "Learn how you may be able to restore your account.",
                       "error_type": "inactive user"}),
    "bad_request": (400, {"message": "Invalid upload", "error_type": "upload_invalid"}),
}


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
    faults: RandomFaults | None = None
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _two_factor_ids: set[str] = field(default_factory=set)

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
                    response.set_cookie("rur", f"RVA,{self.user_pk},{time.time_ns()}")
                return response
        return web.json_response({"message": "Page not found", "status": "fail"}, status=404)

    def _routes(self) -> list[tuple[tuple[str, ...], str, Any]]:
        v1 = r"/api/v1"
        return [
            (("GET", "POST"), rf"{v1}/qe/sync/", self._public_key),
            (("POST",), rf"{v1}/launcher/sync/", self._ok),
            (("POST",), rf"{v1}/accounts/login/", self._login),
            (("POST",), rf"{v1}/accounts/two_factor_login/", self._two_factor_login),
            (("POST",), rf"{v1}/feed/reels_tray/", self._authed(self._reels_tray)),
            (("POST",), rf"{v1}/feed/timeline/", self._authed(self._timeline)),
            (("GET",), rf"{v1}/accounts/current_user/", self._authed(self._current_user)),
            (("POST",), rf"{v1}/clips/user/", self._authed(self._clips)),
            (("GET",), rf"{v1}/media/([0-9_]+)/info/", self._authed(self._media_info)),
            (("POST",), r"/upload_settings/([^/]+)", self._authed(self._ok)),
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
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer IGT:2:"):
            return None
        try:
            data = json.loads(base64.b64decode(header.removeprefix("Bearer IGT:2:")))
        except ValueError:
            return None
        return self.user_pk if data.get("sessionid") in self.sessions else None

    def _base(self, request: web.Request) -> str:
        return f"http://{request.host}"

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
            body = {**body, "checkpoint_url": f"{self._base(request)}/challenge/{self.user_pk}/{nonce}/"}
        return web.json_response({**body, "status": "fail"}, status=status)

    def _challenge_required(self, request: web.Request, path: str) -> web.Response:
        challenge = {"url": self._base(request) + path, "api_path": path, "hide_webview_header": True,
                     "lock": True, "logout": False, "native_flow": False, "flow_render_type": 0}
        return web.json_response({"message": "challenge_required", "challenge": challenge, "status": "fail",
                                  "error_type": "checkpoint_challenge_required"}, status=400)

    # -- login -----------------------------------------------------------------------------

    async def _public_key(self, request: web.Request, *_: Any) -> web.Response:
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

    async def _login(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
        if form.get("username") != self.username:
            return self._failure(request, "ip_blocked")  # what Instagram says for an unknown username
        if _decrypt(str(form.get("enc_password", ""))) != self.password:
            return self._failure(request, "bad_password")
        if self.login_challenge and not self.challenges[self.login_challenge].solved:
            return self._challenge_required(request, f"/challenge/{self.user_pk}/{self.login_challenge}/")
        if self.two_factor:
            identifier = secrets.token_urlsafe(16)
            self._two_factor_ids.add(identifier)
            info = {"username": self.username, "sms_two_factor_on": False, "totp_two_factor_on": True,
                    "obfuscated_phone_number": "", "two_factor_identifier": identifier,
                    "show_trusted_device_option": True, "pending_trusted_notification": False}
            return web.json_response({"message": "", "two_factor_required": True, "two_factor_info": info,
                                      "status": "fail", "error_type": "two_factor_required"}, status=400)
        return self._logged_in(request)

    async def _two_factor_login(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
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
        return web.json_response({"user": self._user_json(request), "status": "ok"})

    async def _reels_tray(self, *_: Any) -> web.Response:
        return web.json_response({"tray": [], "story_ranking_token": "x", "status": "ok"})

    async def _timeline(self, *_: Any) -> web.Response:
        return web.json_response({"feed_items": [], "num_results": 0, "more_available": False,
                                  "status": "ok"})

    def _media_json(self, request: web.Request, reel: FakeReel) -> dict[str, Any]:
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
        reel = next((r for r in self.reels if r.pk == int(media_id.split("_")[0])), None)
        if reel is None:
            return web.json_response({"message": "Media not found or unavailable", "status": "fail"},
                                     status=400)
        return web.json_response({"items": [self._media_json(request, reel)], "num_results": 1,
                                  "more_available": False, "status": "ok"})

    async def _cdn_video(self, request: web.Request, _: Any, __: bytes, pk: str) -> web.Response:
        reel = next((r for r in self.reels if r.pk == int(pk)), None)
        if reel is None or request.query.get("oe") != str(self.url_generation):
            return web.Response(status=403, text="URL signature expired")
        return web.Response(body=reel.video, content_type="video/mp4")

    async def _cdn_thumb(self, request: web.Request, _: Any, __: bytes, pk: str) -> web.Response:
        reel = next((r for r in self.reels if r.pk == int(pk)), None)
        return web.Response(body=reel.thumbnail if reel else b"\xff\xd8\xff", content_type="image/jpeg")

    # -- upload ----------------------------------------------------------------------------

    async def _rupload_video(self, request: web.Request, _: Any, body: bytes, name: str) -> web.Response:
        params = json.loads(request.headers.get("X-Instagram-Rupload-Params", "{}"))
        upload_id = str(params.get("upload_id", ""))
        if request.method == "GET":
            return web.json_response({"offset": 0, "status": "ok"})
        if int(request.headers.get("X-Entity-Length", "-1")) != len(body):
            return web.json_response({"message": "entity length mismatch", "status": "fail"}, status=400)
        self.videos[upload_id] = body
        return web.json_response({"upload_id": upload_id, "xsharing_nonces": {}, "status": "ok"})

    async def _rupload_photo(self, request: web.Request, _: Any, body: bytes, name: str) -> web.Response:
        params = json.loads(request.headers.get("X-Instagram-Rupload-Params", "{}"))
        upload_id = str(params.get("upload_id", ""))
        self.photos[upload_id] = body
        return web.json_response({"upload_id": upload_id, "xsharing_nonces": {}, "status": "ok"})

    async def _configure(self, request: web.Request, form: dict[str, Any], *_: Any) -> web.Response:
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
