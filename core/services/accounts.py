"""Accounts: add (verified live before they are saved), list, token status, update, delete.

* Instagram through the private API: alias, username, password, an optional 2FA code or a
  saved session JSON; the login happens before anything is stored.
* Instagram through one of Meta's two Graph APIs (``login_type``): Facebook Login (token, IG
  user id or Page id, the Meta app's id and secret for renewals) or Instagram Login (token only);
  the account is identified with the token on its own host before it is stored.
* YouTube: the uploaded ``client_secret.json`` is checked, an account row waits in
  ``requires_reauth`` with the consent URL; ``finish_youtube`` runs after the OAuth
  callback (or a pasted code) and records the channel it finds.
* Credentials of an existing account (a new token, password, session file, YouTube
  authorization or cookies file) are replaced only once they are checked live against the same
  account; the account is then healthy again and the connections it had paused are resumed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from core.errors import ForwarderError, InvalidInput, NotFound
from core.models import Account, AccountStatus, AuthMethod, Connection, Platform
from core.pipeline.effects import resume_connections, uses
from core.pipeline.rules import aware
from core.platforms.base import MemoryCredentials, PasswordLogin, TokenRefresh
from core.platforms.factory import PlatformFactory
from core.platforms.instagram_graph import FACEBOOK_LOGIN, INSTAGRAM_LOGIN, LOGIN_TYPES
from core.platforms.instagram_graph import login_type as stored_login_type
from core.platforms.youtube_cookies import COOKIES_KEY, parse_cookies_txt
from core.platforms.youtube_oauth import ClientSecretError, OAuthService, parse_client_secret

ALIAS_MAX = 64
LOGIN_NAMES = {FACEBOOK_LOGIN: "Facebook Login", INSTAGRAM_LOGIN: "Instagram Login"}
GRAPH_SECRETS = ("access_token", "app_secret")


@dataclass
class CredentialsReplaced:
    """An account whose new credentials were checked live, and the connections resumed because of it."""

    account: Account
    resumed: list[str] = field(default_factory=list)


def _session(errors: dict[str, str], session_json: str | None) -> dict[str, Any] | None:
    """A saved instagrapi session from its JSON text, or a field error."""
    if not session_json:
        return None
    try:
        session = json.loads(session_json)
    except (ValueError, RecursionError):
        session = None
    if not isinstance(session, dict):
        errors["session_json"] = "the session is not a JSON object exported by instagrapi"
        return None
    return session


def _password_login(adapter: object) -> PasswordLogin:
    if not isinstance(adapter, PasswordLogin):
        raise ForwarderError("this account's adapter does not log in with a password")
    return adapter


def _digits(errors: dict[str, str], name: str, value: str | None) -> str | None:
    value = (value or "").strip()
    if value and not (value.isascii() and value.isdigit()):
        errors[name] = "an id is digits only"
    return value or None


def utcnow() -> datetime:
    return datetime.now(UTC)


class AccountService:
    """Every account action of the specification (§4.2, §4.6)."""

    def __init__(self, factory: PlatformFactory, oauth: OAuthService, *, owner_id: int = 0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.factory = factory
        self.oauth = oauth
        self.owner_id = owner_id
        self.clock = clock

    async def get(self, account_id: int) -> Account:
        account = await Account.get_or_none(id=account_id, owner_id=self.owner_id)
        if account is None:
            raise NotFound(f"Account {account_id} does not exist")
        return account

    async def list(self, platform: Platform | None = None) -> list[Account]:
        query = Account.filter(owner_id=self.owner_id)
        if platform is not None:
            query = query.filter(platform=platform)
        return list(await query.order_by("platform", "alias"))

    async def _alias(self, alias: str, errors: dict[str, str], exclude: int | None = None) -> str:
        alias = (alias or "").strip()
        if not 1 <= len(alias) <= ALIAS_MAX:
            errors["alias"] = f"give the account a name of 1 to {ALIAS_MAX} characters"
        elif await Account.filter(owner_id=self.owner_id, alias=alias).exclude(id=exclude or 0).exists():
            errors["alias"] = f"an account named '{alias}' already exists; pick another name"
        return alias

    # ---- Instagram ------------------------------------------------------------------

    async def add_instagram_private(self, alias: str, username: str, password: str, *,
                                    verification_code: str | None = None,
                                    session_json: str | None = None) -> Account:
        """Log in first; store the account only when Instagram accepted it."""
        errors: dict[str, str] = {}
        alias = await self._alias(alias, errors)
        username = (username or "").strip().lstrip("@")
        if not username:
            errors["username"] = "type the Instagram username"
        if not password and not session_json:
            errors["password"] = "type the password (or give a saved session)"
        session = _session(errors, session_json)
        if errors:
            raise InvalidInput(errors)
        creds: dict[str, Any] = {"username": username, "password": password}
        if session:
            creds["session"] = session
        store = MemoryCredentials(creds)
        probe = Account(platform=Platform.INSTAGRAM, auth_method=AuthMethod.PRIVATE_API, alias=alias)
        async with self.factory.source(probe, store=store) as adapter:
            info = await _password_login(adapter).login(verification_code)
        return await Account.create(
            owner_id=self.owner_id, platform=Platform.INSTAGRAM, auth_method=AuthMethod.PRIVATE_API,
            alias=alias, username=info.username or username, external_id=info.external_id,
            credentials=store.credentials, status=AccountStatus.ACTIVE, last_verified_at=self.clock(),
            profile={"full_name": info.title})

    def _graph_credentials(self, errors: dict[str, str], login_type: str | None, access_token: str,
                           ig_user_id: str | None, page_id: str | None, app_id: str | None,
                           app_secret: str | None, *, keep: Mapping[str, Any] | None = None
                           ) -> dict[str, Any]:
        """The credential dict for a Graph account, or field errors; ``keep``: what is stored already."""
        token = (access_token or "").strip()
        kind = login_type or None
        if kind is None and keep and keep.get("access_token"):
            kind = stored_login_type(keep)  # the account keeps its login type when its token changes
        if kind is None and token:
            kind = INSTAGRAM_LOGIN if token.startswith("IG") else FACEBOOK_LOGIN
        if kind not in LOGIN_TYPES:
            errors["login_type"] = "choose Facebook Login (a Page-linked account) or Instagram Login"
            return {}
        if not token:
            errors["access_token"] = "paste the long-lived access token"
        elif kind == FACEBOOK_LOGIN and token.startswith("IG"):
            errors["access_token"] = ("this is an Instagram Login token (IGAA…); choose Instagram Login, "
                                      "or paste the Facebook Login token (EAA…)")
        elif kind == INSTAGRAM_LOGIN and token.startswith("EAA"):
            errors["access_token"] = ("this is a Facebook Login token (EAA…); choose Facebook Login, "
                                      "or paste the Instagram Login token (IGAA…)")
        creds: dict[str, Any] = {k: v for k, v in (keep or {}).items() if k != "access_token"}
        creds.update(login_type=kind, access_token=token)
        for name, value in (("ig_user_id", ig_user_id), ("page_id", page_id)):
            if (digits := _digits(errors, name, value)) is not None:
                creds[name] = digits
        if app_id is not None and (digits := _digits(errors, "app_id", app_id)) is not None:
            creds["app_id"] = digits
        if app_secret and app_secret.strip():
            creds["app_secret"] = app_secret.strip()
        if kind == FACEBOOK_LOGIN:
            if not (creds.get("ig_user_id") or creds.get("page_id")):
                errors["ig_user_id"] = "give the Instagram user id or the Facebook Page id"
            if not (creds.get("app_id") and creds.get("app_secret")):
                # fb_exchange_token renews a Facebook Login token only with the app's id and secret.
                errors.setdefault("app_id", "give the Meta app's id and secret (App settings → Basic): "
                                            "without them the token cannot be renewed and stops in 60 days")
        else:
            for name in ("page_id", "app_id", "app_secret"):
                creds.pop(name, None)  # Instagram Login has no Page and renews without the app secret
        return creds

    async def add_instagram_graph(self, alias: str, access_token: str, *, login_type: str | None = None,
                                  ig_user_id: str | None = None, page_id: str | None = None,
                                  token_expiry: datetime | None = None, app_id: str | None = None,
                                  app_secret: str | None = None) -> Account:
        """Identify the account with the token on its login type's host; store it when the token works."""
        errors: dict[str, str] = {}
        alias = await self._alias(alias, errors)
        creds = self._graph_credentials(errors, login_type, access_token, ig_user_id, page_id, app_id,
                                        app_secret)
        if errors:
            raise InvalidInput(errors)
        if token_expiry:
            creds["token_expires_at"] = token_expiry.isoformat()
        store = MemoryCredentials(creds)
        probe = Account(platform=Platform.INSTAGRAM, auth_method=AuthMethod.GRAPH_API, alias=alias)
        async with self.factory.source(probe, store=store) as adapter:
            info = await adapter.identify()
        return await Account.create(
            owner_id=self.owner_id, platform=Platform.INSTAGRAM, auth_method=AuthMethod.GRAPH_API,
            alias=alias, username=info.username, external_id=info.external_id, credentials=store.credentials,
            token_expiry=token_expiry, status=AccountStatus.ACTIVE, last_verified_at=self.clock(),
            profile={"name": info.title, "login_type": creds["login_type"]})

    # ---- new credentials for an existing account ------------------------------------------

    def _same_account(self, account: Account, external_id: str | None, username: str | None) -> None:
        if account.external_id and external_id and str(external_id) != str(account.external_id):
            who = f"@{username}" if username else f"account {external_id}"
            mine = account.username or account.external_id
            raise InvalidInput({"credentials": f"these credentials belong to {who}, not to "
                                               f"{account.alias} (@{mine}); add that account separately"})

    async def _healthy(self, account: Account, credentials: dict[str, Any], **fields: Any
                       ) -> CredentialsReplaced:
        """Store checked credentials, mark the account healthy, resume what it had paused."""
        account.credentials = credentials
        account.status = AccountStatus.ACTIVE
        account.last_verified_at = self.clock()
        for name, value in {"status_reason": None, **fields}.items():
            setattr(account, name, value)
        await account.save(update_fields=["credentials", "status", "status_reason", "last_verified_at",
                                          "updated_at", *fields])
        resumed = await resume_connections(account)
        return CredentialsReplaced(account, [c.name for c in resumed])

    async def replace_instagram_graph(self, account_id: int, access_token: str, *,
                                      login_type: str | None = None, ig_user_id: str | None = None,
                                      page_id: str | None = None,
                                      app_id: str | None = None, app_secret: str | None = None,
                                      token_expiry: datetime | None = None) -> CredentialsReplaced:
        """A new token (and optionally app credentials) for a Graph account, checked live first."""
        account = await self.get(account_id)
        if account.auth_method != AuthMethod.GRAPH_API:
            raise InvalidInput({"access_token": f"{account.alias} does not log in with a Graph API token"})
        errors: dict[str, str] = {}
        creds = self._graph_credentials(errors, login_type, access_token, ig_user_id, page_id, app_id,
                                        app_secret, keep=account.credentials or {})
        if errors:
            raise InvalidInput(errors)
        creds.pop("token_expires_at", None)
        if token_expiry:
            creds["token_expires_at"] = token_expiry.isoformat()
        store = MemoryCredentials(creds)
        async with self.factory.source(account, store=store) as adapter:
            info = await adapter.identify()
        self._same_account(account, info.external_id, info.username)
        profile = {**(account.profile or {}), "login_type": creds["login_type"]}
        return await self._healthy(account, store.credentials, token_expiry=token_expiry, profile=profile)

    async def replace_instagram_private(self, account_id: int, *, password: str | None = None,
                                        verification_code: str | None = None,
                                        session_json: str | None = None) -> CredentialsReplaced:
        """A new password (with a 2FA code when asked) or session file, logged in before it is kept."""
        account = await self.get(account_id)
        if account.auth_method != AuthMethod.PRIVATE_API:
            raise InvalidInput({"password": f"{account.alias} does not log in with a password"})
        creds = dict(account.credentials or {})
        errors: dict[str, str] = {}
        if session_json:
            if (session := _session(errors, session_json)) is not None:
                creds["session"] = session
        elif password:
            creds["password"] = password
            creds.pop("session", None)  # the old login is what failed: log in afresh with the password
        else:
            errors["password"] = "type the new password (or give a saved session file)"
        if errors:
            raise InvalidInput(errors)
        creds.pop("challenge", None)
        store = MemoryCredentials(creds)
        async with self.factory.source(account, store=store) as adapter:
            info = await _password_login(adapter).login(verification_code)
        self._same_account(account, info.external_id, info.username)
        return await self._healthy(account, store.credentials)

    async def set_youtube_cookies(self, account_id: int, data: bytes | None) -> CredentialsReplaced:
        """Store a YouTube account's cookies.txt for yt-dlp (None removes it); checked before it is kept."""
        account = await self.get(account_id)
        if account.platform != Platform.YOUTUBE:
            raise InvalidInput({"cookies": f"{account.alias} is not a YouTube account"})
        creds = dict(account.credentials or {})
        if data is None:
            creds.pop(COOKIES_KEY, None)
        else:
            try:
                creds[COOKIES_KEY] = parse_cookies_txt(data)
            except ValueError as exc:
                raise InvalidInput({"cookies": str(exc)}) from None
        account.credentials = creds
        await account.save(update_fields=["credentials", "updated_at"])
        return CredentialsReplaced(account)

    # ---- YouTube --------------------------------------------------------------------

    async def start_youtube(self, alias: str, client_secret: bytes, chat_id: int | None = None
                            ) -> tuple[Account, str]:
        """Check the client secret, create the waiting account, return it with the consent URL."""
        errors: dict[str, str] = {}
        alias = await self._alias(alias, errors)
        try:
            secret = parse_client_secret(client_secret)
        except ClientSecretError as exc:
            errors["client_secret"] = str(exc)
        if errors:
            raise InvalidInput(errors)
        async with in_transaction():
            account = await Account.create(
                owner_id=self.owner_id, platform=Platform.YOUTUBE, auth_method=AuthMethod.OAUTH, alias=alias,
                status=AccountStatus.REQUIRES_REAUTH, status_reason="waiting for the Google authorization",
                profile={"project_key": secret.project_id or secret.client_id})
        url = await self.oauth.start(account, secret, chat_id)
        return account, url

    async def reauthorize_youtube(self, account_id: int, chat_id: int | None = None) -> str:
        """A new consent URL for an account whose authorization was lost."""
        account = await self.get(account_id)
        raw = (account.credentials or {}).get("client_secret")
        if account.platform != Platform.YOUTUBE or not raw:
            raise ForwarderError(f"Account {account.alias} is not a YouTube account with a client secret")
        return await self.oauth.start(account, parse_client_secret(json.dumps(raw).encode()), chat_id)

    async def finish_youtube(self, account: Account) -> CredentialsReplaced:
        """After the tokens are stored: find the channel, record it, resume what the account had paused."""
        async with self.factory.source(account) as adapter:
            info = await adapter.identify()
        account.external_id = info.external_id
        account.username = info.username
        account.profile = {**(account.profile or {}), "channel_title": info.title, **dict(info.extra)}
        account.last_verified_at = self.clock()
        await account.save(update_fields=["external_id", "username", "profile", "last_verified_at",
                                          "updated_at"])
        resumed = await resume_connections(account)
        return CredentialsReplaced(account, [c.name for c in resumed])

    # ---- status, update, delete -------------------------------------------------------

    async def token_status(self, account_id: int | Account) -> dict[str, Any]:
        """Status, expiry and days left (the specification's token status); an Account row already
        read is used as it is (a list of N accounts costs one query, not N + 1)."""
        account = account_id if isinstance(account_id, Account) else await self.get(account_id)
        expiry = aware(account.token_expiry)
        refreshable = bool((account.credentials or {}).get("refresh_token"))
        left = (expiry - self.clock()).total_seconds() / 86400 if expiry else None
        return {"account_id": account.id, "alias": account.alias, "platform": account.platform.value,
                "status": account.status.value, "reason": account.status_reason,
                "token_expiry": expiry.isoformat() if expiry else None,
                "days_left": round(left, 2) if left is not None else None,
                "auto_refresh": refreshable or account.auth_method == AuthMethod.GRAPH_API,
                "alert_before_days": account.alert_before_days}

    async def refresh_token(self, account_id: int) -> dict[str, Any]:
        """Refresh a YouTube or Graph token now; return the new token status."""
        account = await self.get(account_id)
        if account.platform == Platform.YOUTUBE:
            await self.oauth.refresh(account)
        elif account.auth_method == AuthMethod.GRAPH_API:
            async with self.factory.source(account) as adapter:
                if not isinstance(adapter, TokenRefresh):
                    raise ForwarderError(f"Account {account.alias}'s adapter cannot renew its token")
                expiry = await adapter.refresh_token()
            await Account.filter(id=account.id).update(token_expiry=expiry)
            await Account.filter(id=account.id, status=AccountStatus.EXPIRY_WARNING).update(
                status=AccountStatus.ACTIVE, status_reason=None)
        else:
            raise ForwarderError(f"Account {account.alias} logs in with a session, not a token: "
                                 "nothing to refresh")
        return await self.token_status(account.id)

    async def update(self, account_id: int, *, alias: str | None = None,
                     alert_before_days: int | None = None, default_proxy_id: int | None | bool = False
                     ) -> Account:
        """Rename, change the expiry warning or the default proxy (False: unchanged)."""
        account = await self.get(account_id)
        errors: dict[str, str] = {}
        if alias is not None:
            account.alias = await self._alias(alias, errors, exclude=account.id)
        if alert_before_days is not None:
            if not 0 <= alert_before_days <= 60:
                errors["alert_before_days"] = "warn 0 to 60 days before a token expires"
            account.alert_before_days = alert_before_days
        if default_proxy_id is not False:
            account.default_proxy_id = default_proxy_id
        if errors:
            raise InvalidInput(errors)
        await account.save()
        return account

    async def delete(self, account_id: int) -> None:
        """Delete an account no connection uses."""
        account = await self.get(account_id)
        names: list[Any] = await Connection.filter(uses(account.id)).values_list("name", flat=True)
        if names:
            raise ForwarderError(f"Account {account.alias} is used by {', '.join(sorted(names))}; "
                                 "delete or change those connections first")
        await account.delete()
