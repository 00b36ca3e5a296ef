"""Accounts: list, card with token status, add (Instagram private API, Graph API with Facebook Login
or Instagram Login, YouTube with client_secret.json and OAuth), new credentials for an existing
account (token, password or session, cookies.txt), refresh, re-authorize, CAPTCHA actions, delete.

Messages that carry a password, a token or an authorization code are deleted once read.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, time
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import AccAction, AccCB, Area, MenuCB
from bot.handlers.alert_actions import CodeEntry, resolved_text
from bot.handlers.common import delete_quietly, reply, show
from bot.views import e, menu_button
from core.bootstrap import Services
from core.errors import AuthError, InvalidInput
from core.models import Account, AccountStatus, AuthMethod, Platform
from core.platforms.instagram_graph import FACEBOOK_LOGIN, INSTAGRAM_LOGIN, login_type
from core.services.accounts import LOGIN_NAMES, CredentialsReplaced

STATUS_ICON = {AccountStatus.ACTIVE: "🟢", AccountStatus.EXPIRY_WARNING: "🟡",
               AccountStatus.TOKEN_EXPIRED: "🔴", AccountStatus.REQUIRES_REAUTH: "🔴",
               AccountStatus.CAPTCHA_DETECTED: "🧩",
               AccountStatus.SUSPENDED: "⛔", AccountStatus.DISABLED: "⚪"}
USERNAME_MAX = 100  # Instagram usernames are at most 30; an e-mail or phone number also logs in
KIND = {AuthMethod.PRIVATE_API: "Instagram (private API)", AuthMethod.GRAPH_API: "Instagram (Graph API)",
        AuthMethod.OAUTH: "YouTube"}


class AddAccount(StatesGroup):
    """The add-account dialog."""

    alias = State()
    username = State()
    password = State()
    two_factor = State()
    token = State()
    graph_login = State()
    graph_id = State()
    graph_app_id = State()
    graph_app_secret = State()
    graph_expiry = State()
    client_secret = State()
    paste = State()


class NewCredentials(StatesGroup):
    """New credentials for an existing account, from its card."""

    token = State()
    app = State()
    password = State()
    two_factor = State()
    cookies = State()


def _kb(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[r for r in rows if r])


def _button(text: str, action: AccAction, account_id: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=AccCB(action=action, id=account_id).pack())


def account_list(accounts: list[Account]) -> tuple[str, InlineKeyboardMarkup]:
    lines = [f"👤 <b>Accounts</b> ({len(accounts)})", ""]
    lines += [f"{STATUS_ICON[a.status]} {e(a.alias)} — {KIND[a.auth_method]}" for a in accounts] \
        or ["No account yet: add the Instagram and YouTube accounts to forward between."]
    rows = [[_button(f"{STATUS_ICON[a.status]} {a.alias}"[:60], AccAction.OPEN, a.id)] for a in accounts]
    rows.append([_button("➕ Add account", AccAction.ADD)])
    rows.append([menu_button()])
    return "\n".join(lines), _kb(rows)


def account_card(a: Account, status: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup]:
    kind = KIND[a.auth_method]
    if a.auth_method == AuthMethod.GRAPH_API:
        kind = f"Instagram (Graph API, {LOGIN_NAMES[login_type(a.credentials or {})]})"
    lines = [f"{STATUS_ICON[a.status]} <b>{e(a.alias)}</b> — {kind}",
             f"Account: {e(a.username or a.external_id or '—')}"
             + (f" · {e(a.profile.get('channel_title'))}" if a.profile.get("channel_title") else ""),
             f"Status: {a.status.value.replace('_', ' ')}"
             + (f" — {e(a.status_reason[:300])}" if a.status_reason else "")]
    if a.platform == Platform.YOUTUBE:
        lines.append("Cookies for downloads: " + ("stored" if (a.credentials or {}).get("cookies_txt")
                                                  else "none (add them if YouTube asks to sign in)"))
    if status.get("token_expiry"):
        lines.append(f"Token expires: {status['token_expiry'][:16].replace('T', ' ')} UTC "
                     f"({status['days_left']:.1f} days)" + (" · refreshed automatically"
                                                           if status["auto_refresh"] else ""))
    rows: list[list[InlineKeyboardButton]] = []
    if a.auth_method != AuthMethod.OAUTH:
        rows.append([_button("🔑 Update credentials", AccAction.UPDATE, a.id)])
    if a.status is AccountStatus.CAPTCHA_DETECTED:
        rows.append([_button("✅ Mark CAPTCHA solved", AccAction.SOLVED, a.id),
                     _button("🔢 Enter security code", AccAction.CODE, a.id)])
    if a.platform == Platform.YOUTUBE:
        rows.append([_button("🔄 Refresh token", AccAction.REFRESH, a.id),
                     _button("🔐 Re-authorize", AccAction.REAUTH, a.id)])
        rows.append([_button("🍪 Cookies for downloads", AccAction.COOKIES, a.id)])
    elif a.auth_method == AuthMethod.GRAPH_API:
        rows.append([_button("🔄 Refresh token", AccAction.REFRESH, a.id)])
    rows.append([_button("🗑 Delete", AccAction.DELETE, a.id)])
    rows.append([_button("⬅️ Accounts", AccAction.LIST), menu_button()])
    return "\n".join(lines), _kb(rows)


async def command(message: Message, services: Services) -> None:
    text, markup = account_list(await services.accounts.list())
    await show(message, text, markup)


async def menu(query: CallbackQuery, services: Services) -> None:
    text, markup = account_list(await services.accounts.list())
    await show(query, text, markup)


async def action(query: CallbackQuery, callback_data: AccCB, services: Services, state: FSMContext) -> None:
    act, aid, accounts = callback_data.action, callback_data.id, services.accounts
    if act is AccAction.LIST:
        text, markup = account_list(await accounts.list())
        await show(query, text, markup)
    elif act is AccAction.ADD:
        await show(query, "➕ Which kind of account?", _kb([
            [_button("📸 Instagram (username + password)", AccAction.ADD_IG)],
            [_button("🏢 Instagram business (Graph API token)", AccAction.ADD_GRAPH)],
            [_button("▶️ YouTube (client_secret.json)", AccAction.ADD_YT)],
            [_button("⬅️ Accounts", AccAction.LIST)]]))
    elif act in (AccAction.ADD_IG, AccAction.ADD_GRAPH, AccAction.ADD_YT):
        await state.set_state(AddAccount.alias)
        await state.update_data(kind=act.value)
        await reply(query, "✏️ A short name for this account (as it shows in connections), or /cancel:")
    elif act in (AccAction.GRAPH_FACEBOOK, AccAction.GRAPH_INSTAGRAM):
        if await state.get_state() != AddAccount.graph_login.state:
            await query.answer("That choice has expired; start again from /accounts.")
            return
        kind = FACEBOOK_LOGIN if act is AccAction.GRAPH_FACEBOOK else INSTAGRAM_LOGIN
        await state.update_data(login=kind)
        await state.set_state(AddAccount.token)
        prefix = "EAA…" if kind == FACEBOOK_LOGIN else "IGAA…"
        await reply(query, f"🔑 Paste the long-lived access token ({prefix}; the message is deleted once "
                           "read):")
    elif act is AccAction.UPDATE:
        await _ask_new_credentials(query, state, await accounts.get(aid))
    elif act is AccAction.COOKIES:
        account = await accounts.get(aid)
        await state.set_state(NewCredentials.cookies)
        await state.update_data(account_id=aid)
        await reply(query, f"🍪 Send the <code>cookies.txt</code> for <b>{e(account.alias)}</b> as a file "
                           "(Netscape format, exported from a browser signed in to YouTube; deleted once "
                           "read). yt-dlp uses it when YouTube asks to sign in. Send <code>-</code> to "
                           "remove the stored one, or /cancel.")
    elif act is AccAction.SOLVED:
        result = await services.jobs.resolve_captcha(aid, notes="marked solved in the bot")
        account = await accounts.get(aid)
        await reply(query, resolved_text(result, account.alias))
    elif act is AccAction.CODE:
        await state.set_state(CodeEntry.code)
        await state.update_data(account_id=aid)
        await reply(query, "🔢 Send the security code Instagram sent (4 to 8 digits), or /cancel.")
    elif act is AccAction.REFRESH:
        await accounts.refresh_token(aid)
        await query.answer("Token refreshed")
        text, markup = account_card(await accounts.get(aid), await accounts.token_status(aid))
        if isinstance(query.message, Message):
            await query.message.edit_text(text, reply_markup=markup)
    elif act is AccAction.REAUTH:
        chat = query.from_user.id if query.from_user else None
        url = await accounts.reauthorize_youtube(aid, chat)
        await state.set_state(AddAccount.paste)
        await state.update_data(account_id=aid)
        await reply(query, _consent_text(), _consent_kb(url))
    elif act is AccAction.DELETE:
        account = await accounts.get(aid)
        yes, no = _button("Yes, delete", AccAction.DELETE_YES, aid), _button("No", AccAction.OPEN, aid)
        await show(query, f"🗑 Delete account <b>{e(account.alias)}</b>? Its stored credentials are erased.",
                   _kb([[yes, no]]))
    elif act is AccAction.DELETE_YES:
        alias = (await accounts.get(aid)).alias
        await accounts.delete(aid)
        text, markup = account_list(await accounts.list())
        await show(query, f"🗑 Deleted <b>{e(alias)}</b>.\n\n" + text, markup)
    else:
        text, markup = account_card(await accounts.get(aid), await accounts.token_status(aid))
        await show(query, text, markup)


def _consent_text() -> str:
    return ("🔐 Press <b>Authorize YouTube</b>, sign in with the channel's Google account and allow "
            "access.\n\n"
            "When the browser lands on this app's page the bot finishes by itself. If it shows an "
            "address that does not open (no public URL), copy that whole address (or just the code) "
            "and send it here. /cancel stops.")


def _consent_kb(url: str) -> InlineKeyboardMarkup:
    return _kb([[InlineKeyboardButton(text="🔐 Authorize YouTube", url=url)]])


async def take_alias(message: Message, state: FSMContext, services: Services) -> None:
    alias = (message.text or "").strip()
    if not 1 <= len(alias) <= 64 or any(a.alias == alias for a in await services.accounts.list()):
        await message.answer("❌ Pick a name of 1 to 64 characters that no other account uses.")
        return
    await state.update_data(alias=alias)
    kind = (await state.get_data())["kind"]
    if kind == AccAction.ADD_IG.value:
        await state.set_state(AddAccount.username)
        await message.answer("📸 The Instagram username:")
    elif kind == AccAction.ADD_GRAPH.value:
        await state.set_state(AddAccount.graph_login)
        await message.answer(
            "🏢 Which of Meta's Instagram APIs does the token come from?\n"
            "• <b>Facebook Login</b>: the account is linked to a Facebook Page; tokens start with "
            "<code>EAA</code>; renewing needs your Meta app's id and secret.\n"
            "• <b>Instagram Login</b>: no Page needed; tokens start with <code>IGAA</code>.",
            reply_markup=_kb([[_button("📘 Facebook Login", AccAction.GRAPH_FACEBOOK)],
                              [_button("📸 Instagram Login", AccAction.GRAPH_INSTAGRAM)]]))
    else:
        await state.set_state(AddAccount.client_secret)
        await message.answer("📄 Send the <code>client_secret.json</code> you downloaded from the Google "
                             "Cloud console (APIs & Services → Credentials → OAuth client) as a file.")


async def take_username(message: Message, state: FSMContext) -> None:
    username = (message.text or "").strip().lstrip("@")
    if not 1 <= len(username) <= USERNAME_MAX or any(c.isspace() for c in username):
        await message.answer(f"❌ Send the Instagram username (1 to {USERNAME_MAX} characters, no spaces), "
                             "or /cancel.")
        return
    await state.update_data(username=username)
    await state.set_state(AddAccount.password)
    await message.answer("🔒 The password (the message is deleted once read), or a saved instagrapi session "
                         "as a <code>.json</code> file:")


async def _add_private(message: Message, state: FSMContext, services: Services, code: str | None) -> None:
    data = await state.get_data()
    try:
        account = await services.accounts.add_instagram_private(
            data["alias"], data["username"], data["password"], verification_code=code)
    except AuthError as exc:
        if "two-factor" in exc.message.lower() and not code:
            await state.set_state(AddAccount.two_factor)
            await message.answer("🔢 Instagram asks for the two-factor code (from the app or SMS):")
            return
        await state.clear()
        await message.answer(f"❌ Instagram refused: {html.escape(exc.message)}\n💡 {html.escape(exc.hint)}")
        return
    await state.clear()
    await message.answer(f"✅ Added <b>{e(account.alias)}</b> (@{e(account.username)}). "
                         "Verified with Instagram.")


async def take_password(message: Message, state: FSMContext, services: Services) -> None:
    password = message.text or ""
    await delete_quietly(message)
    await state.update_data(password=password)
    await message.answer("⏳ Logging in to Instagram…")
    await _add_private(message, state, services, None)


async def take_session_file(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    """A saved session instead of the password (deleted once read, like a password)."""
    if message.document is None or (message.document.file_size or 0) > 512 * 1024:
        await message.answer("❌ Send the password as text, or the session as a .json file (at most 512 KB).")
        return
    buffer = await bot.download(message.document)
    session = (buffer.read() if buffer else b"").decode("utf-8", "replace")
    await delete_quietly(message)
    data = await state.get_data()
    try:
        account = await services.accounts.add_instagram_private(data["alias"], data["username"], "",
                                                                session_json=session)
    except InvalidInput as exc:
        await message.answer("❌ " + e("; ".join(exc.fields.values())) + "\nSend it again, or /cancel.")
        return
    except AuthError as exc:
        await state.clear()
        await message.answer(f"❌ Instagram refused the session: {e(exc.message)}")
        return
    await state.clear()
    await message.answer(f"✅ Added <b>{e(account.alias)}</b> (@{e(account.username)}) from its session.")


async def take_two_factor(message: Message, state: FSMContext, services: Services) -> None:
    code = (message.text or "").strip()
    await delete_quietly(message)
    await _add_private(message, state, services, code)


async def take_token(message: Message, state: FSMContext) -> None:
    await state.update_data(token=(message.text or "").strip())
    await delete_quietly(message)
    if (await state.get_data()).get("login") == INSTAGRAM_LOGIN:
        await state.update_data(graph_id=None, graph_page=False)
        await _ask_expiry(message, state)
        return
    await state.set_state(AddAccount.graph_id)
    await message.answer("🆔 The Instagram user id (digits), or <code>page 123…</code> for the Facebook "
                         "page id:")


async def _ask_expiry(message: Message, state: FSMContext) -> None:
    await state.set_state(AddAccount.graph_expiry)
    await message.answer("📅 When does the token expire? <code>YYYY-MM-DD</code> (long-lived tokens last 60 "
                         "days), or <code>-</code> if you do not know:")


async def take_graph_app_id(message: Message, state: FSMContext) -> None:
    value = (message.text or "").strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 32):
        await message.answer("❌ The App ID is digits only (Meta app dashboard → App settings → Basic). "
                             "Send it again, or /cancel.")
        return
    await state.update_data(app_id=value)
    await state.set_state(AddAccount.graph_app_secret)
    await message.answer("🔑 The App secret from the same page (the message is deleted once read):")


async def take_graph_app_secret(message: Message, state: FSMContext) -> None:
    secret = (message.text or "").strip()
    await delete_quietly(message)
    if not secret or len(secret) > 128 or any(c.isspace() for c in secret):
        await message.answer("❌ Paste the App secret (one word, no spaces), or /cancel.")
        return
    await state.update_data(app_secret=secret)
    await _ask_expiry(message, state)


async def take_graph_id(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip().lower()
    page = text.startswith("page")
    value = text.removeprefix("page").strip()
    if not (value.isascii() and value.isdigit()):
        await message.answer("❌ An id is digits only. Send it again, or /cancel.")
        return
    await state.update_data(graph_id=value, graph_page=page)
    await state.set_state(AddAccount.graph_app_id)
    await message.answer("🧩 Facebook Login tokens are renewed with your Meta app's credentials. The "
                         "<b>App ID</b> (Meta app dashboard → App settings → Basic):")


async def take_graph_expiry(message: Message, state: FSMContext, services: Services) -> None:
    text = (message.text or "").strip()
    expiry = None
    if text != "-":
        try:
            expiry = datetime.combine(date.fromisoformat(text), time(0, 0), UTC)
        except ValueError:
            await message.answer("❌ Send the date as YYYY-MM-DD, or - to skip.")
            return
    data = await state.get_data()
    value, page = data["graph_id"], data["graph_page"]
    try:
        account = await services.accounts.add_instagram_graph(
            data["alias"], data["token"], login_type=data.get("login"), ig_user_id=None if page else value,
            page_id=value if page else None, token_expiry=expiry, app_id=data.get("app_id"),
            app_secret=data.get("app_secret"))
    except InvalidInput as exc:
        await state.clear()
        reason = html.escape("; ".join(exc.fields.values()), quote=False)
        await message.answer(f"❌ {reason}\nNothing was saved.",
                             reply_markup=_kb([[_button("➕ Add account", AccAction.ADD)]]))
        return
    await state.clear()
    login = LOGIN_NAMES[account.credentials["login_type"]]
    await message.answer(f"✅ Added <b>{e(account.alias)}</b> (@{e(account.username)}) with {login}. "
                         "The token works.")


async def take_client_secret(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    if message.document is None:
        await message.answer("📄 Send the file itself (as a document), or /cancel.")
        return
    if (message.document.file_size or 0) > 64 * 1024:
        await message.answer("❌ That file is too large for a client_secret.json; send the right file.")
        return
    buffer = await bot.download(message.document)
    data = buffer.read() if buffer else b""
    await delete_quietly(message)
    alias = (await state.get_data())["alias"]
    try:
        account, url = await services.accounts.start_youtube(alias, data, chat_id=message.chat.id)
    except InvalidInput as exc:
        reason = html.escape("; ".join(exc.fields.values()), quote=False)
        await message.answer(f"❌ {reason}\nSend the file again, or /cancel.")
        return
    await state.set_state(AddAccount.paste)
    await state.update_data(account_id=account.id)
    await message.answer(_consent_text(), reply_markup=_consent_kb(url))


async def take_paste(message: Message, state: FSMContext, services: Services) -> None:
    text = message.text or ""
    await delete_quietly(message)
    account_id = int((await state.get_data())["account_id"])
    account = await services.oauth.complete_pasted(account_id, text)
    done = await services.accounts.finish_youtube(account)
    account = done.account
    await state.clear()
    title = account.profile.get("channel_title") or account.alias
    resumed = f"\n▶️ Resumed: {e(', '.join(done.resumed))}." if done.resumed else ""
    await message.answer(f"✅ YouTube connected: <b>{e(title)}</b> ({e(account.external_id)}).{resumed}")


# ---- new credentials for an existing account -------------------------------------------------

async def _ask_new_credentials(query: CallbackQuery, state: FSMContext, account: Account) -> None:
    await state.update_data(account_id=account.id)
    if account.auth_method == AuthMethod.GRAPH_API:
        await state.set_state(NewCredentials.token)
        kind = login_type(account.credentials or {})
        prefix = "EAA…" if kind == FACEBOOK_LOGIN else "IGAA…"
        await reply(query, f"🔑 Paste the new long-lived access token for <b>{e(account.alias)}</b> "
                           f"({LOGIN_NAMES[kind]}, {prefix}; deleted once read). It is checked with "
                           "Instagram before it replaces the old one. /cancel keeps the old one.")
    else:
        await state.set_state(NewCredentials.password)
        await reply(query, f"🔒 Send the new Instagram password for <b>{e(account.alias)}</b> (deleted once "
                           "read), or a saved instagrapi session as a <code>.json</code> file. It is logged "
                           "in before it replaces the old one. /cancel keeps the old one.")


def _replaced_text(result: CredentialsReplaced) -> tuple[str, InlineKeyboardMarkup]:
    a = result.account
    done = (f"▶️ Resumed: {e(', '.join(result.resumed))}." if result.resumed
            else "No connection was waiting for this account.")
    return (f"✅ New credentials for <b>{e(a.alias)}</b> checked and saved; the account is active.\n{done}",
            _kb([[_button("👤 Open the account", AccAction.OPEN, a.id)]]))


async def _new_account_id(state: FSMContext) -> int:
    return int((await state.get_data())["account_id"])


async def take_new_token(message: Message, state: FSMContext, services: Services) -> None:
    token = (message.text or "").strip()
    await delete_quietly(message)
    account = await services.accounts.get(await _new_account_id(state))
    creds = account.credentials or {}
    if login_type({"access_token": token, **{k: v for k, v in creds.items() if k == "login_type"}}) \
            == FACEBOOK_LOGIN and not (creds.get("app_id") and creds.get("app_secret")):
        await state.update_data(token=token)
        await state.set_state(NewCredentials.app)
        await message.answer("🧩 No Meta app credentials are stored, and a Facebook Login token is renewed "
                             "only with them. Send <code>APP_ID:APP_SECRET</code> (deleted once read):")
        return
    await _replace_graph(message, state, services, token, None, None)


async def take_new_app(message: Message, state: FSMContext, services: Services) -> None:
    text = (message.text or "").strip()
    await delete_quietly(message)
    app_id, _, secret = text.partition(":")
    if not (app_id.isascii() and app_id.isdigit() and secret.strip()):
        await message.answer("❌ Send <code>APP_ID:APP_SECRET</code> (digits, a colon, the secret), "
                             "or /cancel.")
        return
    await _replace_graph(message, state, services, str((await state.get_data())["token"]), app_id,
                         secret.strip())


async def _replace_graph(message: Message, state: FSMContext, services: Services, token: str,
                         app_id: str | None, app_secret: str | None) -> None:
    await message.answer("⏳ Checking the token with Instagram…")
    try:
        result = await services.accounts.replace_instagram_graph(
            await _new_account_id(state), token, app_id=app_id, app_secret=app_secret)
    except InvalidInput as exc:
        await state.set_state(NewCredentials.token)
        await message.answer("❌ " + e("; ".join(exc.fields.values())) + "\nPaste a token again, or /cancel.")
        return
    except AuthError as exc:
        await state.set_state(NewCredentials.token)
        await message.answer(f"❌ Instagram refused the token: {e(exc.message)}\nPaste another one, or "
                             "/cancel to keep the old one.")
        return
    await state.clear()
    text, markup = _replaced_text(result)
    await message.answer(text, reply_markup=markup)


async def _replace_private(message: Message, state: FSMContext, services: Services, *,
                           password: str | None = None, code: str | None = None,
                           session: str | None = None) -> None:
    await message.answer("⏳ Logging in to Instagram…")
    try:
        result = await services.accounts.replace_instagram_private(
            await _new_account_id(state), password=password, verification_code=code, session_json=session)
    except InvalidInput as exc:
        await message.answer("❌ " + e("; ".join(exc.fields.values())) + "\nSend it again, or /cancel.")
        return
    except AuthError as exc:
        if exc.details.get("two_factor") or "two-factor" in exc.message.lower() and not code:
            await state.update_data(password=password)
            await state.set_state(NewCredentials.two_factor)
            await message.answer("🔢 Instagram asks for the two-factor code (from the app or SMS):")
            return
        await state.set_state(NewCredentials.password)
        await message.answer(f"❌ Instagram refused: {e(exc.message)}\nSend the password again, or /cancel "
                             "to keep the old credentials.")
        return
    await state.clear()
    text, markup = _replaced_text(result)
    await message.answer(text, reply_markup=markup)


async def take_new_password(message: Message, state: FSMContext, services: Services) -> None:
    password = message.text or ""
    await delete_quietly(message)
    await _replace_private(message, state, services, password=password)


async def take_new_session(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    if message.document is None or (message.document.file_size or 0) > 512 * 1024:
        await message.answer("❌ Send the password as text, or the session as a .json file (at most 512 KB).")
        return
    buffer = await bot.download(message.document)
    session = (buffer.read() if buffer else b"").decode("utf-8", "replace")
    await delete_quietly(message)
    await _replace_private(message, state, services, session=session)


async def take_new_two_factor(message: Message, state: FSMContext, services: Services) -> None:
    code = (message.text or "").strip()
    await delete_quietly(message)
    password = (await state.get_data()).get("password")
    await _replace_private(message, state, services, password=password, code=code)


async def take_cookies(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    account_id = await _new_account_id(state)
    if message.text and message.text.strip() == "-":
        await services.accounts.set_youtube_cookies(account_id, None)
        await state.clear()
        await message.answer("🍪 The stored cookies were removed.",
                             reply_markup=_kb([[_button("👤 Open the account", AccAction.OPEN, account_id)]]))
        return
    if message.document is None or (message.document.file_size or 0) > 1024 * 1024:
        await message.answer("❌ Send the cookies.txt as a file (at most 1 MB), - to remove, or /cancel.")
        return
    buffer = await bot.download(message.document)
    data = buffer.read() if buffer else b""
    await delete_quietly(message)
    try:
        await services.accounts.set_youtube_cookies(account_id, data)
    except InvalidInput as exc:
        await message.answer("❌ " + e("; ".join(exc.fields.values())) + "\nSend the file again, or /cancel.")
        return
    await state.clear()
    await message.answer("🍪 Cookies saved (encrypted); downloads from YouTube use them from now on.",
                         reply_markup=_kb([[_button("👤 Open the account", AccAction.OPEN, account_id)]]))


def create_router() -> Router:
    """A fresh router for the accounts area and its dialog."""
    router = Router(name="accounts")
    router.message.register(command, Command("accounts"))
    router.callback_query.register(menu, MenuCB.filter(F.area == Area.ACCOUNTS))
    router.callback_query.register(action, AccCB.filter())
    text = F.text & ~F.text.startswith("/")
    router.message.register(take_alias, StateFilter(AddAccount.alias), text)
    router.message.register(take_username, StateFilter(AddAccount.username), text)
    router.message.register(take_password, StateFilter(AddAccount.password), text)
    router.message.register(take_session_file, StateFilter(AddAccount.password), F.document)
    router.message.register(take_two_factor, StateFilter(AddAccount.two_factor), text)
    router.message.register(take_token, StateFilter(AddAccount.token), text)
    router.message.register(take_graph_id, StateFilter(AddAccount.graph_id), text)
    router.message.register(take_graph_expiry, StateFilter(AddAccount.graph_expiry), text)
    router.message.register(take_client_secret, StateFilter(AddAccount.client_secret))
    router.message.register(take_paste, StateFilter(AddAccount.paste), text)
    router.message.register(take_graph_app_id, StateFilter(AddAccount.graph_app_id), text)
    router.message.register(take_graph_app_secret, StateFilter(AddAccount.graph_app_secret), text)
    router.message.register(take_new_token, StateFilter(NewCredentials.token), text)
    router.message.register(take_new_app, StateFilter(NewCredentials.app), text)
    router.message.register(take_new_password, StateFilter(NewCredentials.password), text)
    router.message.register(take_new_session, StateFilter(NewCredentials.password), F.document)
    router.message.register(take_new_two_factor, StateFilter(NewCredentials.two_factor), text)
    router.message.register(take_cookies, StateFilter(NewCredentials.cookies))
    return router
