"""A wire-level fake of Google's OAuth endpoints (consent and token) on 127.0.0.1.

Sources for what it imitates:

* [web-server] https://developers.google.com/identity/protocols/oauth2/web-server: the consent
  redirect carries ``code`` and ``state`` (or ``error=access_denied``); a refresh token is issued
  only with ``access_type=offline`` (and ``prompt=consent`` on a re-consent); the token endpoint
  answers ``{access_token, expires_in, refresh_token?, scope, token_type: Bearer}``; a refresh
  with a revoked or expired token answers ``invalid_grant`` ("Token has been expired or revoked.").
* [rfc6749] RFC 6749 §5.2: errors are ``{"error", "error_description"}`` with HTTP 400, and 401
  ``invalid_client`` for a client that fails authentication (client_secret_post or Basic).
* [rfc7636] RFC 7636 §4.6: the ``code_verifier`` must hash (S256) to the ``code_challenge`` sent
  at consent, else ``invalid_grant``; google-auth-oauthlib 1.5's ``Flow`` sends PKCE by default.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import BasicAuth, web


@dataclass
class IssuedCode:
    """A consent that produced a code."""

    query: dict[str, str]
    used: bool = False


@dataclass
class FakeGoogleOAuth:
    """Consent at ``/o/oauth2/auth``, tokens at ``/token``; start() before use, stop() after."""

    client_id: str = "fake-client.apps.googleusercontent.com"
    client_secret: str = "fake-secret"
    expires_in: int = 3599
    consents: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    codes: dict[str, IssuedCode] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> scope
    revoked: set[str] = field(default_factory=set)
    access_tokens: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    base_url: str = ""

    async def start(self) -> str:
        """Serve on a free loopback port; return the base URL."""
        app = web.Application()
        app.router.add_get("/o/oauth2/auth", self._consent)
        app.router.add_post("/token", self._token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def auth_uri(self) -> str:
        return self.base_url + "/o/oauth2/auth"

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    # -- helpers ---------------------------------------------------------------------

    def issue_code(self, state_query: dict[str, str]) -> str:
        """Record a consent for the authorization URL's query; return the code Google would."""
        self.consents.append(dict(state_query))
        code = "4/" + secrets.token_urlsafe(16)
        self.codes[code] = IssuedCode(dict(state_query))
        return code

    def revoke(self, refresh_token: str) -> None:
        """Make a refresh token answer invalid_grant from now on."""
        self.revoked.add(refresh_token)

    # -- handlers --------------------------------------------------------------------

    async def _consent(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        if query.get("client_id") != self.client_id:
            return web.Response(status=401, text="invalid_client")
        code = self.issue_code(query)
        target = query["redirect_uri"] + "?" + urlencode({"state": query.get("state", ""), "code": code})
        raise web.HTTPFound(target)

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if "Authorization" in request.headers:  # requests-oauthlib sends HTTP Basic
            basic = BasicAuth.decode(request.headers["Authorization"])
            client_id, client_secret = basic.login, basic.password
        if client_id != self.client_id or client_secret != self.client_secret:
            return _error("invalid_client", "The OAuth client was not found.", 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._exchange(form)
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if token in self.revoked or token not in self.refresh_tokens:
                return _error("invalid_grant", "Token has been expired or revoked.")
            return self._tokens(self.refresh_tokens[token], refresh_token=None)
        return _error("unsupported_grant_type", f"grant_type {grant!r}")

    def _exchange(self, form: dict[str, str]) -> web.Response:
        issued = self.codes.get(form.get("code", ""))
        if issued is None or issued.used:
            return _error("invalid_grant", "Malformed auth code.")
        issued.used = True  # single use, even when the checks below fail
        if form.get("redirect_uri") != issued.query.get("redirect_uri"):
            return _error("invalid_grant", "Bad Request: redirect_uri_mismatch")
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if issued.query.get("code_challenge_method") != "S256" or challenge != issued.query.get(
            "code_challenge"
        ):
            return _error("invalid_grant", "Invalid code verifier.")
        refresh = "1//" + secrets.token_urlsafe(16)
        scope = issued.query.get("scope", "")
        self.refresh_tokens[refresh] = scope
        return self._tokens(scope, refresh_token=refresh)

    def _tokens(self, scope: str, refresh_token: str | None) -> web.Response:
        access = "ya29." + secrets.token_urlsafe(24)
        self.access_tokens.append(access)
        body: dict[str, Any] = {
            "access_token": access, "expires_in": self.expires_in, "scope": scope,
            "token_type": "Bearer",
        }
        if refresh_token:
            body["refresh_token"] = refresh_token
        return web.json_response(body)


def _error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)
