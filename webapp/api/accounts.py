"""/api/accounts and /api/tokens (specification §4.2, §4.6, §4.11, §6.2, §6.6)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from core.errors import InvalidInput, NotFound
from core.models import Account, AuthMethod, Platform
from core.platforms.instagram_graph import LOGIN_TYPES
from core.services.accounts import CredentialsReplaced
from webapp import render
from webapp.auth import admin
from webapp.context import services
from webapp.parse import Fields, Query, json_body, path_id
from webapp.routes import PAGE, PERIOD, Param, RouteTable, arr, b, i, nullable, obj, ref, s

routes = RouteTable(tag="accounts")

ID = r"/api/accounts/{id:\d+}"
TOKEN = r"/api/tokens/{id:\d+}"
SECRET_FILES = ("client_secret", "oauth_client", "file")
RESULT = obj({"status": s(), "account": ref("Account")})
TOKEN_STATUS = obj({"account_id": i(), "alias": s(), "platform": s(), "status": s(), "reason": nullable(s()),
                    "token_expiry": nullable(s()), "days_left": nullable({"type": "number"}),
                    "auto_refresh": b(), "alert_before_days": i()})
CREATE_JSON = obj({
    "type": s(enum=["instagram", "youtube"]),
    "auth_method": s("instagram only", enum=["graph_api", "private_api"]),
    "alias": s(),
    "username": s("private_api"), "password": s("private_api"),
    "verification_code": s("private_api: the 2FA code, when Instagram asks"),
    "session_json": s("private_api: a saved instagrapi session instead of the password"),
    "login_type": s("graph_api: which of Meta's Instagram APIs the token is for (default: by its prefix, "
                    "EAA… Facebook Login, IGAA… Instagram Login)", enum=["facebook", "instagram"]),
    "access_token": s("graph_api"), "ig_user_id": s("graph_api"), "facebook_page_id": s("graph_api"),
    "token_expiry": s("graph_api, ISO 8601", format="date-time"),
    "app_id": s("graph_api, Facebook Login: required, for renewing the token"),
    "app_secret": s("graph_api, Facebook Login: required, for renewing the token"),
    "credentials": obj(description="the specification's nesting: access_token, token_expiry, password"),
    "client_secret": obj(description="youtube: the client_secret.json document"),
}, required=("type", "alias"))
UPLOAD_FORM = obj({
    "alias": s("a new YouTube account's name"),
    "client_secret": s("client_secret.json from Google Cloud", format="binary"),
    "account_id": s("instead of both: a new consent link for this account with its stored secret"),
})


def _admin_chat(request: web.Request) -> int:
    """Where the OAuth callback reports: the admin's private chat with the bot."""
    return admin(request).user_id


async def _form(request: web.Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """Text fields and file contents of a multipart body."""
    if not request.content_type.startswith("multipart/") and \
            request.content_type != "application/x-www-form-urlencoded":
        raise InvalidInput({"body": "send multipart/form-data (client_secret file and alias)"})
    try:
        form = await request.post()
    except (ValueError, HttpProcessingError) as exc:  # a malformed multipart body (boundary, headers)
        raise InvalidInput({"body": f"the multipart body cannot be read ({exc})"[:200]}) from None
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = await asyncio.to_thread(value.file.read)
        else:
            fields[key] = str(value)
    return fields, files


async def _start_youtube(request: web.Request, alias: str | None, secret: bytes | None) -> web.Response:
    if secret is None:  # without a file the service cannot say anything; with one it checks both
        errors = {"client_secret": "attach client_secret.json (the OAuth client from Google Cloud)"}
        if not alias:
            errors["alias"] = "give the account a name"
        raise InvalidInput(errors)
    account, url = await services(request).accounts.start_youtube(alias or "", secret,
                                                                  chat_id=_admin_chat(request))
    return web.json_response({"status": "success", "account_id": account.id, "authorize_url": url,
                              "account": render.account(account)}, status=201)


def _session_text(data: dict[str, Any], f: Fields) -> str | None:
    """``session_json`` as text (given as an object or its text), or a field error."""
    session = data.get("session_json")
    if isinstance(session, dict):
        return json.dumps(session)
    if session is not None and not isinstance(session, str):
        f.errors["session_json"] = "must be the session as a JSON object or its text"
        return None
    return session


def _expiry(value: str | None, errors: dict[str, str]) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors["token_expiry"] = f"'{value}' is not an ISO 8601 date-time"
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _create_instagram(request: web.Request, data: dict[str, Any]) -> Account:
    f = Fields(data)
    nested = f.mapping("credentials") or {}
    creds = Fields(nested, prefix="credentials.")
    method = f.choice("auth_method", AuthMethod, required=True)
    alias = f.text("alias", required=True) or ""
    accounts = services(request).accounts
    if method is AuthMethod.GRAPH_API:
        token = f.text("access_token") or creds.text("access_token") or ""
        expiry_text = f.text("token_expiry") or creds.text("token_expiry")
        ig_user_id, page_id = f.text("ig_user_id"), f.text("facebook_page_id") or f.text("page_id")
        app_id, app_secret = f.text("app_id"), f.text("app_secret")
        login = f.text("login_type")
        if login is not None and login not in LOGIN_TYPES:
            f.errors["login_type"] = "choose facebook or instagram"
        expiry = _expiry(expiry_text, f.errors)
        f.errors.update(creds.errors)
        f.done()
        return await accounts.add_instagram_graph(alias, token, login_type=login, ig_user_id=ig_user_id,
                                                  page_id=page_id, token_expiry=expiry, app_id=app_id,
                                                  app_secret=app_secret)
    if method is AuthMethod.PRIVATE_API:
        username = f.text("username") or ""
        password = f.text("password") or creds.text("password") or ""
        code = f.text("verification_code")
        session = _session_text(data, f)
        f.errors.update(creds.errors)
        f.done()
        return await accounts.add_instagram_private(alias, username, password, verification_code=code,
                                                    session_json=session)
    f.errors.setdefault("auth_method", "choose graph_api or private_api for Instagram")
    f.done()
    raise AssertionError("unreachable")


# ---- accounts ------------------------------------------------------------------------------

@routes.get("/api/accounts", "List accounts with their token status",
            query=(*PAGE, Param("type", s("instagram or youtube"))),
            response=obj({"total": i(), "limit": i(), "offset": i(), "accounts": arr(ref("Account"))}))
async def list_accounts(request: web.Request) -> web.Response:
    q = Query(request)
    limit, offset = q.page()
    platform = q.choices("type", Platform)
    q.done()
    svc = services(request).accounts
    rows = await svc.list(platform[0] if platform and len(platform) == 1 else None)
    items = [render.account(a, await svc.token_status(a)) for a in rows[offset:offset + limit]]
    return web.json_response(render.page(len(rows), limit, offset, "accounts", items))


@routes.post("/api/accounts", "Add an account: Instagram (JSON, verified live) or YouTube "
             "(multipart client_secret.json, or JSON client_secret): returns the consent URL",
             body=CREATE_JSON, status=201, response=obj({"status": s(), "account": ref("Account"),
                                                         "authorize_url": s("youtube only")}))
async def create_account(request: web.Request) -> web.Response:
    if request.content_type.startswith("multipart/"):
        fields, files = await _form(request)
        if fields.get("type", "youtube") != "youtube":
            raise InvalidInput({"type": "multipart is for YouTube (client_secret.json); "
                                        "send Instagram as JSON"})
        uploaded = next((files[k] for k in SECRET_FILES if k in files), None)
        return await _start_youtube(request, fields.get("alias"), uploaded)
    data = await json_body(request)
    f = Fields(data)
    kind = f.choice("type", Platform, required=True)
    f.done()
    if kind is Platform.YOUTUBE:
        alias, secret = f.text("alias"), f.mapping("client_secret")
        f.done()
        raw = json.dumps(secret).encode() if secret is not None else None
        return await _start_youtube(request, alias, raw)
    account = await _create_instagram(request, data)
    return web.json_response({"status": "success", "account": render.account(account)}, status=201)


@routes.get(ID, "An account with its token status", response=RESULT)
async def get_account(request: web.Request) -> web.Response:
    svc = services(request).accounts
    account = await svc.get(path_id(request))
    return web.json_response({"status": "success",
                              "account": render.account(account, await svc.token_status(account.id))})


@routes.put(ID, "Rename, change the expiry warning or the default proxy",
            body=obj({"alias": s(), "alert_before_days": i(minimum=0, maximum=60),
                      "default_proxy_id": nullable(i("null removes it"))}, extra=False), response=RESULT)
async def update_account(request: web.Request) -> web.Response:
    data = await json_body(request)
    f = Fields(data)
    f.only(("alias", "alert_before_days", "default_proxy_id"))
    alias = f.text("alias")
    days = f.number("alert_before_days")
    proxy_id: int | None | bool = f.number("default_proxy_id", nullable=True) if f.has("default_proxy_id") \
        else False
    f.done()
    if isinstance(proxy_id, int) and not isinstance(proxy_id, bool):
        # AccountService.update does not check the proxy (see the report's proposed diff).
        try:
            await services(request).proxies.get(proxy_id)
        except NotFound:
            raise InvalidInput({"default_proxy_id": f"there is no proxy {proxy_id}"}) from None
    svc = services(request).accounts
    account = await svc.update(path_id(request), alias=alias, alert_before_days=days,
                               default_proxy_id=proxy_id)
    return web.json_response({"status": "success",
                              "account": render.account(account, await svc.token_status(account.id))})


@routes.delete(ID, "Delete an account no connection uses", response=obj({"status": s(), "deleted": i()}))
async def delete_account(request: web.Request) -> web.Response:
    account_id = path_id(request)
    await services(request).accounts.delete(account_id)
    return web.json_response({"status": "success", "deleted": account_id})


CREDENTIALS_JSON = obj({
    "access_token": s("Graph accounts: the new long-lived token"),
    "app_id": s("Graph, Facebook Login: the Meta app's id (kept when omitted)"),
    "app_secret": s("Graph, Facebook Login: the Meta app's secret (kept when omitted)"),
    "token_expiry": s("Graph: ISO 8601", format="date-time"),
    "password": s("Instagram private API: the new password"),
    "verification_code": s("Instagram private API: the 2FA code, when Instagram asks"),
    "session_json": s("Instagram private API: a saved instagrapi session instead of the password"),
}, extra=False)
REPLACED = obj({"status": s(), "message": s(), "account": ref("Account"), "connections_resumed": arr(s())})


def _replaced(result: CredentialsReplaced, token: dict[str, Any] | None = None) -> web.Response:
    names = ", ".join(result.resumed)
    message = (f"New credentials checked and saved; resumed {names}" if result.resumed
               else "New credentials checked and saved")
    return web.json_response({"status": "success", "message": message,
                              "account": render.account(result.account, token),
                              "connections_resumed": result.resumed})


@routes.post(ID + "/credentials", "Give an existing account new credentials (a Graph token, an Instagram "
             "password or session): checked live first, then the connections it paused resume",
             body=CREDENTIALS_JSON, response=REPLACED)
async def replace_credentials(request: web.Request) -> web.Response:
    svc = services(request).accounts
    account = await svc.get(path_id(request))
    data = await json_body(request)
    f = Fields(data)
    if account.auth_method is AuthMethod.GRAPH_API:
        f.only(("access_token", "app_id", "app_secret", "token_expiry"))
        token = f.text("access_token", required=True) or ""
        app_id, app_secret = f.text("app_id"), f.text("app_secret")
        expiry = _expiry(f.text("token_expiry"), f.errors)
        f.done()
        result = await svc.replace_instagram_graph(account.id, token, app_id=app_id, app_secret=app_secret,
                                                   token_expiry=expiry)
    elif account.auth_method is AuthMethod.PRIVATE_API:
        f.only(("password", "verification_code", "session_json"))
        password, code = f.text("password"), f.text("verification_code")
        session = _session_text(data, f)
        f.done()
        result = await svc.replace_instagram_private(account.id, password=password, verification_code=code,
                                                     session_json=session)
    else:
        raise InvalidInput({"account": "a YouTube account is given new credentials by re-authorizing it "
                                       "(POST /api/tokens/upload with its account_id)"})
    return _replaced(result, await svc.token_status(account.id))


@routes.put(ID + "/cookies", "Store a YouTube account's cookies.txt (multipart file 'cookies') for "
            "downloads that need a signed-in session",
            form=obj({"cookies": s("cookies.txt", format="binary")}), response=REPLACED)
async def put_cookies(request: web.Request) -> web.Response:
    _, files = await _form(request)
    data = files.get("cookies") or files.get("file")
    if data is None:
        raise InvalidInput({"cookies": "attach the cookies.txt file (Netscape format) as 'cookies'"})
    result = await services(request).accounts.set_youtube_cookies(path_id(request), data)
    return _replaced(result)


@routes.delete(ID + "/cookies", "Remove a YouTube account's stored cookies.txt", response=REPLACED)
async def delete_cookies(request: web.Request) -> web.Response:
    result = await services(request).accounts.set_youtube_cookies(path_id(request), None)
    return _replaced(result)


@routes.post(ID + "/captcha-resolve", "Mark a CAPTCHA solved: the account, its connections and held jobs "
             "resume", body=obj({"resolved": b("must be true"), "resolution_notes": s(),
                                 "resume_connections": b()}),
             response=obj({"status": s(), "message": s(), "account_status": s(),
                           "connections_resumed": arr(i()), "jobs_requeued": arr(i())}))
async def captcha_resolve(request: web.Request) -> web.Response:
    f = Fields(await json_body(request, optional=True))
    f.only(("resolved", "resolution_notes", "resume_connections"))
    if f.flag("resolved", default=True) is False:
        f.errors["resolved"] = "send true once the challenge is solved in the Instagram app"
    notes = f.text("resolution_notes", max_length=1000)
    resume = f.flag("resume_connections", default=True)
    f.done()
    account = await services(request).accounts.get(path_id(request))
    result = await services(request).jobs.resolve_captcha(account.id, notes, bool(resume))
    return web.json_response(result.to_dict(account.alias))


@routes.post(ID + "/security-code", "Send the security code Instagram asked for, then resume",
             body=obj({"code": s("4-8 digits")}, required=("code",)),
             response=obj({"status": s(), "message": s(), "account_status": s(),
                           "connections_resumed": arr(i()), "jobs_requeued": arr(i())}))
async def security_code(request: web.Request) -> web.Response:
    f = Fields(await json_body(request))
    code = f.text("code", required=True)
    f.done()
    account = await services(request).accounts.get(path_id(request))
    result = await services(request).jobs.submit_security_code(account.id, code or "")
    return web.json_response(result.to_dict(account.alias))


@routes.get(ID + "/analytics", "Account analytics (health score, roles, connections, token)", query=(PERIOD,),
            response=obj(description="specification §4.8.3"))
async def account_analytics(request: web.Request) -> web.Response:
    q = Query(request)
    period = q.period()
    q.done()
    return web.json_response(await services(request).analytics.account_metrics(path_id(request), period))


# ---- tokens --------------------------------------------------------------------------------

@routes.post("/api/tokens/upload", "Upload client_secret.json: a YouTube account waiting for consent, "
             "and its consent URL", form=UPLOAD_FORM, status=201, tag="tokens",
             response=obj({"status": s(), "account_id": i(), "authorize_url": s(),
                           "account": ref("Account")}))
async def upload_token(request: web.Request) -> web.Response:
    fields, files = await _form(request)
    if fields.get("account_id"):
        if not fields["account_id"].isdigit():
            raise InvalidInput({"account_id": "must be a whole number"})
        if any(k in files for k in SECRET_FILES):
            raise InvalidInput({"client_secret": "a new client secret for an existing account is not "
                                                 "supported; re-authorize it with its stored secret, or "
                                                 "add a new account"})
        account_id = int(fields["account_id"])
        url = await services(request).accounts.reauthorize_youtube(account_id, chat_id=_admin_chat(request))
        account = await services(request).accounts.get(account_id)
        return web.json_response({"status": "success", "account_id": account_id, "authorize_url": url,
                                  "account": render.account(account)}, status=201)
    secret = next((files[k] for k in SECRET_FILES if k in files), None)
    return await _start_youtube(request, fields.get("alias"), secret)


@routes.get(TOKEN + "/status", "Token status and expiry", tag="tokens", response=TOKEN_STATUS)
async def token_status(request: web.Request) -> web.Response:
    return web.json_response(await services(request).accounts.token_status(path_id(request)))


@routes.post(TOKEN + "/refresh", "Refresh a token now (YouTube OAuth or Instagram Graph)", tag="tokens",
             response=TOKEN_STATUS, errors=(503,))
async def refresh_token(request: web.Request) -> web.Response:
    status = await services(request).accounts.refresh_token(path_id(request))
    return web.json_response({**status, "message": "Token refreshed"})
