"""YouTube OAuth: client_secret.json parsing, consent URL, code exchange and token refresh.

The ``state`` sent to Google is a random token plus its HMAC; the database keeps only its
SHA-256 with the PKCE verifier, single use and expiring. The libraries are synchronous and
run in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlparse

import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from core.errors import AuthError, ErrorCode, TransientError
from core.models import Account, AccountStatus, OAuthState

if TYPE_CHECKING:
    from core.settings import Settings

SCOPES = (
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
)
UPLOAD_SCOPE = SCOPES[0]
CALLBACK_PATH = "/oauth2callback"
ALREADY_USED = "this authorization link was already used"


class ClientSecretError(ValueError):
    """The uploaded client_secret.json is not usable; the message says why (never the secret)."""


@dataclass(frozen=True)
class ClientSecret:
    """The parts of a Google client_secret.json this project uses."""

    kind: Literal["installed", "web"]
    client_id: str
    client_secret: str = field(repr=False)
    project_id: str | None
    redirect_uris: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False)


CLIENT_SECRET_MAX_BYTES = 64 * 1024  # Google's files are under 1 KB


def parse_client_secret(data: bytes) -> ClientSecret:
    """Parse a client_secret.json downloaded from the Google Cloud console."""
    if len(data) > CLIENT_SECRET_MAX_BYTES:
        raise ClientSecretError(f"the file is {len(data) // 1024} KB, too large for a client_secret.json "
                                f"(at most {CLIENT_SECRET_MAX_BYTES // 1024} KB)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ClientSecretError("not valid JSON: the file is not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClientSecretError(
            f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ClientSecretError("not valid JSON: it is nested too deeply") from None
    if not isinstance(doc, dict):
        raise ClientSecretError(f"the top level must be a JSON object, not {type(doc).__name__}")
    kind: Literal["installed", "web"]
    if isinstance(doc.get("installed"), dict):
        kind = "installed"
    elif isinstance(doc.get("web"), dict):
        kind = "web"
    else:
        raise ClientSecretError(
            "neither an 'installed' nor a 'web' section: download the OAuth client "
            "(Desktop app or Web application) JSON from Google Cloud -> Credentials"
        )
    section = doc[kind]
    client_id = section.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise ClientSecretError(f"'{kind}.client_id' is missing or empty")
    client_secret = section.get("client_secret")
    if not isinstance(client_secret, str) or not client_secret.strip():
        raise ClientSecretError(f"'{kind}.client_secret' is missing or empty")
    uris = section.get("redirect_uris") or []
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise ClientSecretError(f"'{kind}.redirect_uris' must be a list of addresses")
    project = section.get("project_id")
    return ClientSecret(
        kind=kind,
        client_id=client_id.strip(),
        client_secret=client_secret.strip(),
        project_id=project if isinstance(project, str) else None,
        redirect_uris=tuple(u for u in uris if isinstance(u, str)),
        raw=doc,
    )


def _auth(message: str, code: ErrorCode = ErrorCode.REQUIRES_REAUTH) -> AuthError:
    return AuthError(message, code=code)


async def _store_tokens(
    account: Account, credentials: dict[str, Any], expiry: datetime | None
) -> Account:
    """Save fresh tokens (encrypted) and mark the account active."""
    account.credentials = credentials
    account.token_expiry = expiry
    account.status = AccountStatus.ACTIVE
    account.status_reason = None  # type: ignore[assignment]  # nullable column, stubs say str
    await account.save()
    return account


class OAuthService:
    """Starts and completes the Google consent flow and refreshes tokens for YouTube accounts."""

    def __init__(
        self,
        *,
        auth_uri: str,
        token_uri: str,
        redirect_uri: str,
        signing_key: bytes,
        state_ttl: timedelta = timedelta(minutes=15),
    ) -> None:
        if len(signing_key) < 16:
            raise ValueError("signing_key must be at least 16 bytes")
        self.auth_uri = auth_uri
        self.token_uri = token_uri
        self.redirect_uri = redirect_uri
        self.state_ttl = state_ttl
        self._key = signing_key
        if any(urlparse(uri).scheme == "http" for uri in (auth_uri, token_uri)):
            # oauthlib raises InsecureTransportError on http endpoints unless told otherwise (it reads
            # this variable at each call). Settings admit http only on loopback or with
            # ALLOW_HTTP_ENDPOINTS (test setups), so an http endpoint here is one the admin chose.
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

    @classmethod
    def from_settings(cls, settings: Settings, signing_key: bytes, **kwargs: Any) -> OAuthService:
        """Build from GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI and PUBLIC_BASE_URL."""
        return cls(
            auth_uri=settings.google_auth_uri,
            token_uri=settings.google_token_uri,
            redirect_uri=settings.public_base_url.rstrip("/") + CALLBACK_PATH,
            signing_key=signing_key,
            **kwargs,
        )

    # -- state -----------------------------------------------------------------------

    def _sign(self, token: str) -> str:
        # surrogatepass: a query string's invalid UTF-8 (%FF) arrives as a lone surrogate.
        mac = hmac.new(self._key, token.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _new_state(self) -> str:
        token = secrets.token_urlsafe(24)
        return f"{token}.{self._sign(token)}"

    def _verify(self, state: str) -> None:
        token, _, sig = state.partition(".")
        given = sig.encode("utf-8", "surrogatepass")  # compare_digest refuses non-ASCII str
        if not token or not sig or not hmac.compare_digest(given, self._sign(token).encode()):
            raise _auth("this authorization link is not valid (bad signature); press Authorize again")

    @staticmethod
    def _hash(state: str) -> str:
        return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()

    # -- flow ------------------------------------------------------------------------

    def _flow(self, secret: ClientSecret, code_verifier: str | None = None) -> Flow:
        section = {
            "client_id": secret.client_id,
            "client_secret": secret.client_secret,
            # Configured endpoints, so tests and private deployments can point elsewhere.
            "auth_uri": self.auth_uri,
            "token_uri": self.token_uri,
            "redirect_uris": [self.redirect_uri],
        }
        return Flow.from_client_config(
            {secret.kind: section}, scopes=list(SCOPES), redirect_uri=self.redirect_uri,
            code_verifier=code_verifier,
        )

    async def start(self, account: Account, secret: ClientSecret, chat_id: int | None) -> str:
        """Store the client secret and a fresh state; return the consent URL."""
        flow = self._flow(secret)
        state = self._new_state()
        try:
            url, _ = flow.authorization_url(
                access_type="offline", prompt="consent", state=state  # both needed for a refresh token
            )
        finally:
            flow.oauth2session.close()
        account.credentials = {**(account.credentials or {}), "client_secret": secret.raw}
        await account.save(update_fields=["credentials", "updated_at"])
        await OAuthState.create(
            state_hash=self._hash(state),
            account=account,
            code_verifier=flow.code_verifier,
            chat_id=chat_id,
            expires_at=datetime.now(UTC) + self.state_ttl,
        )
        return str(url)

    async def complete(self, state: str, code: str) -> Account:
        """Exchange the code of a callback for tokens (the state is single use)."""
        self._verify(state)
        row = await OAuthState.get_or_none(state_hash=self._hash(state))
        if row is None:
            raise _auth("this authorization link is unknown; press Authorize again")
        return await self._complete_row(row, code)

    async def pending(self, state: str) -> OAuthState | None:
        """The stored row of a state this service issued (used or not), with its account."""
        return await OAuthState.get_or_none(state_hash=self._hash(state)).prefetch_related("account")

    async def complete_pasted(self, account_id: int, text: str) -> Account:
        """Complete from what the admin pasted: the redirected URL or a bare code."""
        text = text.strip()
        if "code=" in text or "error=" in text or "state=" in text:
            query = parse_qs(urlparse(text).query or text.lstrip("?"))
            if "error" in query:
                raise _auth(f"Google refused the authorization: {query['error'][0]}")
            code = (query.get("code") or [""])[0]
            state = (query.get("state") or [""])[0]
            if not code:
                raise _auth("the pasted URL has no 'code'; paste the whole address from the browser")
            if state:
                self._verify(state)
                row = await OAuthState.get_or_none(state_hash=self._hash(state), account_id=account_id)
                if row is None:
                    raise _auth("this authorization link is unknown; press Authorize again")
                return await self._complete_row(row, code)
        else:
            code = text
        if not code or any(c.isspace() for c in code):
            raise _auth("that is not an authorization code; paste the whole address from the browser")
        row = await OAuthState.filter(account_id=account_id, used_at__isnull=True).order_by("-id").first()
        if row is None:
            raise _auth("no authorization is waiting for this account; press Authorize again")
        return await self._complete_row(row, code)

    async def _complete_row(self, row: OAuthState, code: str) -> Account:
        now = datetime.now(UTC)
        if row.used_at is not None:
            raise _auth(ALREADY_USED)
        if row.expires_at <= now:
            raise _auth("this authorization link expired, press Authorize again")
        # Mark used before the exchange: a failed or replayed exchange never reuses the state.
        if not await OAuthState.filter(id=row.id, used_at__isnull=True).update(used_at=now):
            raise _auth(ALREADY_USED)
        account = await Account.get(id=row.account_id)
        secret = self._stored_secret(account)
        flow = self._flow(secret, code_verifier=row.code_verifier)
        try:
            token = await asyncio.to_thread(self._fetch_token, flow, code)
        finally:
            flow.oauth2session.close()
        granted = token.get("scope") or list(SCOPES)
        scopes = granted.split() if isinstance(granted, str) else list(granted)
        if UPLOAD_SCOPE not in scopes:
            raise _auth("the upload permission was not granted; authorize again and tick every box")
        expiry = datetime.now(UTC) + timedelta(seconds=int(token.get("expires_in") or 3600))
        creds = dict(account.credentials or {})
        creds.update(
            access_token=token["access_token"],
            # Google omits the refresh token on some re-consents: keep the one we have.
            refresh_token=token.get("refresh_token") or creds.get("refresh_token"),
            expiry=expiry.isoformat(),
            scopes=scopes,
        )
        return await _store_tokens(account, creds, expiry)

    @staticmethod
    def _fetch_token(flow: Flow, code: str) -> dict[str, Any]:
        try:
            return dict(flow.fetch_token(code=code))
        except Warning as w:
            # oauthlib raises (not warns) when Google grants fewer scopes than asked, as with
            # granular consent; the token is attached, and the caller checks the upload scope.
            token = getattr(w, "token", None)
            if token is None:
                raise
            return dict(token)
        except oauth_errors.InvalidGrantError:
            raise _auth("Google rejected the authorization code (expired or already used); "
                        "press Authorize again") from None
        except (oauth_errors.InvalidClientError, oauth_errors.UnauthorizedClientError) as exc:
            raise _auth(f"Google rejected the OAuth client ({exc.error}); check client_secret.json",
                        ErrorCode.INVALID_CREDENTIALS) from None
        except oauth_errors.OAuth2Error as exc:
            if (exc.status_code or 0) >= 500:
                raise TransientError(f"Google token endpoint error: {exc.error}") from None
            raise _auth(f"the code exchange failed: {exc.error}", ErrorCode.INVALID_CREDENTIALS) from None
        except requests.Timeout:
            raise TransientError("Google token endpoint timed out",
                                 code=ErrorCode.NETWORK_TIMEOUT) from None
        except requests.RequestException as exc:
            raise TransientError(f"Google token endpoint unreachable: {type(exc).__name__}") from None

    @staticmethod
    def _stored_secret(account: Account) -> ClientSecret:
        raw = (account.credentials or {}).get("client_secret")
        if not raw:
            raise _auth("no client_secret.json is stored for this account; upload it again",
                        ErrorCode.INVALID_CREDENTIALS)
        return parse_client_secret(json.dumps(raw).encode())

    # -- refresh ---------------------------------------------------------------------

    async def refresh(self, account: Account) -> Account:
        """Get a new access token with the stored refresh token."""
        creds_doc = dict(account.credentials or {})
        secret = self._stored_secret(account)
        if not creds_doc.get("refresh_token"):
            await self._mark_reauth(account, "no refresh token is stored")
            raise _auth("no refresh token is stored; authorize the account again")
        creds = Credentials(
            token=creds_doc.get("access_token"),
            refresh_token=creds_doc["refresh_token"],
            token_uri=self.token_uri,
            client_id=secret.client_id,
            client_secret=secret.client_secret,
            scopes=creds_doc.get("scopes") or list(SCOPES),
        )
        try:
            await asyncio.to_thread(self._refresh_sync, creds)
        except google.auth.exceptions.RefreshError as exc:
            if "invalid_grant" in str(exc):
                await self._mark_reauth(account, "Google revoked or expired the refresh token")
                raise _auth("Google revoked or expired the refresh token; authorize the account again") \
                    from None
            if getattr(exc, "retryable", False):
                raise TransientError("Google token endpoint error during refresh") from None
            raise _auth("Google rejected the refresh (check the OAuth client)",
                        ErrorCode.INVALID_CREDENTIALS) from None
        except google.auth.exceptions.TransportError:
            raise TransientError("Google token endpoint unreachable during refresh",
                                 code=ErrorCode.NETWORK_TIMEOUT) from None
        expiry = creds.expiry.replace(tzinfo=UTC) if creds.expiry else None  # google-auth: naive UTC
        creds_doc.update(access_token=creds.token, expiry=expiry.isoformat() if expiry else None)
        if creds.refresh_token:
            creds_doc["refresh_token"] = creds.refresh_token
        return await _store_tokens(account, creds_doc, expiry)

    @staticmethod
    def _refresh_sync(creds: Credentials) -> None:
        with requests.Session() as session:
            creds.refresh(google.auth.transport.requests.Request(session))

    @staticmethod
    async def _mark_reauth(account: Account, reason: str) -> None:
        account.status = AccountStatus.REQUIRES_REAUTH
        account.status_reason = reason
        await account.save(update_fields=["status", "status_reason", "updated_at"])
