"""The login half of the private Instagram adapter: one instagrapi client, its session, challenges.

instagrapi is synchronous: every call runs in a worker thread, one at a time per session (a
lock), on instagrapi's own transport (``build_client``) with the configured proxy. Logins are
instagrapi 3.x's ``Client.login()``: the app's current CAA flow, which itself falls back to the
legacy accounts endpoint when Instagram asks it to. The credential store holds
``{"username", "password", "session"}``, ``session`` being instagrapi's ``get_settings()`` dict;
it is saved after each login and whenever a call changed it (Instagram rotates cookies). A
challenge is remembered there too (``"challenge"``), so ``request_security_code`` /
``submit_security_code`` can finish it later, from any process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from instagrapi import Client
from instagrapi import exceptions as ig

from core.errors import AuthError, ChallengeRequired, ErrorCode, ForwarderError, NotFound
from core.platforms.base import AccountInfo, CodeProvider, CredentialStore
from core.platforms.instagram_private_errors import translate
from core.platforms.instagram_private_http import (
    DEFAULT_DELAY_RANGE,
    Redirect,
    build_client,
    close_client,
    device_only,
    is_instagram_base,
    proxy_url,
    saved_settings,
)
from core.platforms.instagram_private_media import challenge_endpoint
from core.platforms.proxy import ProxySpec, requests_proxies

T = TypeVar("T")
CODE_STEPS = ("verify_email", "verify_email_code", "verify_phone", "verify_phone_code", "verify_sms",
              "verify_sms_code")


class InstagramSession:
    """A logged-in instagrapi client kept in step with the credential store."""

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        api_base: str | None = None,
        proxy: ProxySpec | None = None,
        code_provider: CodeProvider | None = None,
        timeout: float = 30.0,
        delay_range: tuple[float, float] | None = DEFAULT_DELAY_RANGE,
    ) -> None:
        """``api_base`` other than Instagram's is a test seam (see ``Redirect``); ``delay_range`` is
        the random pause before each private request (``None`` or ``(0, 0)``: none, for tests)."""
        self.credentials = credentials
        self.proxy = proxy
        self.code_provider = code_provider
        self._proxy_url = proxy_url(requests_proxies(proxy)) if proxy else None
        self._timeout = timeout
        self._delay_range = delay_range if delay_range and max(delay_range) > 0 else None
        self._redirect = None if is_instagram_base(api_base) else Redirect(str(api_base))
        self._lock = asyncio.Lock()
        self._client: Client | None = None
        self._account: AccountInfo | None = None
        self._saved = ""  # the session as last loaded or saved: only changes are saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}(proxy={self.proxy!r}, account={self._account!r})"

    async def aclose(self) -> None:
        """Close instagrapi's HTTP sessions."""
        async with self._lock:
            close_client(self._client)
            self._client = None
            self._account = None

    # ---- plumbing ------------------------------------------------------------------------

    def _guard(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` (in a worker thread) and let only ``core.errors`` out."""
        assert self._client is not None
        if self._redirect is not None:
            self._redirect.install(self._client)  # instagrapi re-mounts its public adapter in init()
        try:
            return fn(*args)
        except ForwarderError:
            raise
        except Exception as exc:
            error = translate(exc, self.proxy)
            error.__suppress_context__ = True  # the library exception holds the whole response
            raise error from error.__cause__

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the client in a thread (the caller holds the lock); remember challenges."""
        try:
            return await asyncio.to_thread(self._guard, fn, *args)
        except ChallengeRequired as exc:
            await self._remember_challenge(exc)
            raise

    async def _use(self, settings: dict[str, Any] | None) -> None:
        close_client(self._client)
        self._client = None
        self._account = None
        try:
            self._client = await asyncio.to_thread(
                lambda: build_client(settings, proxy=self._proxy_url, delay_range=self._delay_range,
                                     timeout=self._timeout, redirect=self._redirect))
        except Exception as exc:
            raise translate(exc, self.proxy) from None
        self._saved = self._digest()

    def _digest(self) -> str:
        assert self._client is not None
        return json.dumps(saved_settings(self._client), sort_keys=True)

    async def save_session(self, *, force: bool = False, clear_challenge: bool = False) -> None:
        """Store the client's session when it changed (or when forced)."""
        digest = self._digest()
        if digest == self._saved and not force and not clear_challenge:
            return
        creds = await self.credentials.load()
        creds["session"] = json.loads(digest)
        if clear_challenge:
            creds.pop("challenge", None)
        await self.credentials.save(creds)
        self._saved = digest

    async def _remember_challenge(self, exc: ChallengeRequired) -> None:
        self._account = None
        if not exc.details.get("api_path") or self._client is None:
            return
        creds = await self.credentials.load()
        # The challenge belongs to this device and cookies: keep them with it.
        creds["session"] = saved_settings(self._client)
        self._saved = json.dumps(creds["session"], sort_keys=True)
        creds["challenge"] = {k: v for k, v in exc.details.items()
                              if k in ("checkpoint_url", "api_path", "challenge_context")}
        await self.credentials.save(creds)

    async def ensure(self) -> AccountInfo:
        """The account, logging in first when this session is not logged in (the caller holds the lock)."""
        if self._account is None or self._client is None:
            return await self._login(None)
        return self._account

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Log in if needed, run ``fn`` in a thread, save the session if it changed."""
        async with self._lock:
            await self.ensure()
            result = await self.run(fn, *args)
            await self.save_session()
            return result

    # ---- login ---------------------------------------------------------------------------

    async def login(self, verification_code: str | None = None) -> AccountInfo:
        """Log in: reuse the saved session when Instagram still accepts it, else the password."""
        async with self._lock:
            return await self._login(verification_code)

    async def _login(self, code: str | None) -> AccountInfo:
        creds = await self.credentials.load()
        session = creds.get("session") or None
        if session and not code:  # with a code in hand the admin is logging in afresh
            await self._use(session)
            try:
                info = await self.run(self._whoami)
            except AuthError as exc:
                if exc.code is not ErrorCode.LOGIN_REQUIRED:
                    raise
            else:
                return await self._logged_in(info, force=False)
        username, password = creds.get("username"), creds.get("password")
        if not username or not password:
            raise AuthError("no Instagram username and password are stored for this account",
                            code=ErrorCode.INVALID_CREDENTIALS)
        await self._use(device_only(session))  # same device, fresh login
        try:
            await self.run(self._password_login, username, password, (code or "").strip())
        except AuthError as exc:
            if not exc.details.get("two_factor") or code:
                raise
            asked = await self.code_provider("two_factor") if self.code_provider else None
            if not asked or not asked.strip():
                raise AuthError("Instagram asks for a two-factor code: log in again and enter the code",
                                code=ErrorCode.LOGIN_REQUIRED, details={"two_factor": True}) from None
            await self.run(self._password_login, username, password, asked.strip())
        return await self._logged_in(await self.run(self._whoami), force=True)

    async def _logged_in(self, info: AccountInfo, *, force: bool) -> AccountInfo:
        self._account = info
        await self.save_session(force=force, clear_challenge=force)
        return info

    def _password_login(self, username: str, password: str, code: str) -> None:
        assert self._client is not None
        # instagrapi 3.x's login(): the app's CAA flow (device key registration, attestation nonce,
        # encrypted password, Bloks two-step verification), following Instagram back to the legacy
        # accounts endpoint only when Instagram says so. login_legacy() alone now gets needs_upgrade.
        try:
            logged = self._client.login(username, password, verification_code=code)
        except (ig.TwoFactorRequired, ig.UnknownError, ig.ClientBadRequestError):
            last = self._client.last_response
            url = str(last.url) if last is not None else ""
            if code and ("two_step_verification.verify_code" in url or "two_factor_login" in url):
                raise AuthError("Instagram rejected the two-factor code",
                                code=ErrorCode.INVALID_CREDENTIALS) from None
            raise
        if not logged:
            raise AuthError("Instagram did not confirm the login", code=ErrorCode.LOGIN_REQUIRED)

    def _whoami(self) -> AccountInfo:
        assert self._client is not None
        user = self._client.private_request("accounts/current_user/?edit=true")["user"]
        return AccountInfo(
            external_id=str(user["pk"]), username=user.get("username"), title=user.get("full_name") or None,
            extra={"is_private": bool(user.get("is_private")), "is_business": bool(user.get("is_business"))},
        )

    async def identify(self) -> AccountInfo:
        """The logged-in account, checked live."""
        async with self._lock:
            if self._account is None or self._client is None:
                return await self._login(None)
            info = await self.run(self._whoami)
            self._account = info
            await self.save_session()
            return info

    # ---- challenges ----------------------------------------------------------------------

    async def _pending(self) -> tuple[dict[str, Any], str]:
        creds = await self.credentials.load()
        challenge = creds.get("challenge") or {}
        if not challenge.get("api_path"):
            raise NotFound("no Instagram challenge is waiting for a code on this account")
        endpoint = challenge_endpoint(challenge["api_path"])
        if endpoint is None:
            raise ChallengeRequired("this Instagram checkpoint cannot be passed with a code: "
                                    "open the Instagram app and confirm it there",
                                    details=dict(challenge))
        await self._use(creds.get("session"))
        return challenge, endpoint

    async def request_security_code(self, method: str = "email") -> str:
        """Ask Instagram to send the challenge's security code (``email`` or ``sms``); return where."""
        async with self._lock:
            challenge, endpoint = await self._pending()
            return await self.run(self._send_code, challenge, endpoint, method)

    def _send_code(self, challenge: dict[str, Any], endpoint: str, method: str) -> str:
        cl = self._client
        assert cl is not None
        params = {"guid": cl.uuid, "device_id": cl.android_device_id}
        if challenge.get("challenge_context"):
            params["challenge_context"] = challenge["challenge_context"]
        step = cl.private_request(endpoint, params=params)
        if step.get("step_name") == "select_verify_method":
            options = step.get("step_data") or {}
            sms = method == "sms" and "phone_number" in options or "email" not in options
            step = cl.private_request(endpoint, {"choice": "0" if sms else "1"})
        if step.get("step_name") not in CODE_STEPS:
            raise ChallengeRequired(f"Instagram's checkpoint step {step.get('step_name')!r} takes no code: "
                                    "confirm it in the Instagram app", details=dict(challenge))
        data = step.get("step_data") or {}
        return str(data.get("contact_point") or data.get("email") or data.get("phone_number") or "")

    async def submit_security_code(self, code: str) -> AccountInfo:
        """Pass the pending challenge with the code Instagram sent, then log in and save the session."""
        async with self._lock:
            challenge, endpoint = await self._pending()
            await self.run(self._post_code, challenge, endpoint, code.strip())
            await self.save_session(force=True, clear_challenge=True)
            return await self._login(None)

    def _post_code(self, challenge: dict[str, Any], endpoint: str, code: str) -> None:
        cl = self._client
        assert cl is not None
        rejected = ChallengeRequired("Instagram rejected the security code; check it and send it again",
                                     details=dict(challenge))
        try:
            result = cl.private_request(endpoint, {"security_code": code})
        except (ig.UnknownError, ig.ClientBadRequestError):
            raise rejected from None
        if result.get("step_name") in CODE_STEPS:
            raise rejected
        if result.get("step_name") == "review_contact_point_change":  # "these details are right"
            result = cl.private_request(endpoint, {"choice": "0"})
        if result.get("action") != "close" and "logged_in_user" not in result:
            raise ChallengeRequired(f"Instagram asks for another step ({result.get('step_name')!r}): "
                                    "finish it in the Instagram app", details=dict(challenge))
        # A login challenge logs the device in: keep the session it hands over.
        last = cl.last_response
        header = last.headers.get("ig-set-authorization") if last is not None else None
        if header:
            cl.authorization_data = cl.parse_authorization(header)
