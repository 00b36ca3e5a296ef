"""Accounts: list, card with token status, add (Instagram private API, Graph API, YouTube with
client_secret.json and OAuth), refresh, re-authorize, CAPTCHA actions, delete.

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
    graph_id = State()
    graph_expiry = State()
    client_secret = State()
    paste = State()


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
    lines = [f"{STATUS_ICON[a.status]} <b>{e(a.alias)}</b> — {KIND[a.auth_method]}",
             f"Account: {e(a.username or a.external_id or '—')}"
             + (f" · {e(a.profile.get('channel_title'))}" if a.profile.get("channel_title") else ""),
             f"Status: {a.status.value.replace('_', ' ')}"
             + (f" — {e(a.status_reason[:300])}" if a.status_reason else "")]
    if status.get("token_expiry"):
        lines.append(f"Token expires: {status['token_expiry'][:16].replace('T', ' ')} UTC "
                     f"({status['days_left']:.1f} days)" + (" · refreshed automatically"
                                                           if status["auto_refresh"] else ""))
    rows: list[list[InlineKeyboardButton]] = []
    if a.status is AccountStatus.CAPTCHA_DETECTED:
        rows.append([_button("✅ Mark CAPTCHA solved", AccAction.SOLVED, a.id),
                     _button("🔢 Enter security code", AccAction.CODE, a.id)])
    if a.platform == Platform.YOUTUBE:
        rows.append([_button("🔄 Refresh token", AccAction.REFRESH, a.id),
                     _button("🔐 Re-authorize", AccAction.REAUTH, a.id)])
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
        await state.set_state(AddAccount.token)
        await message.answer("🔑 Paste the long-lived access token (the message is deleted once read):")
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
    await state.set_state(AddAccount.graph_id)
    await message.answer("🆔 The Instagram user id (digits), or <code>page 123…</code> for the Facebook "
                         "page id:")


async def take_graph_id(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip().lower()
    page = text.startswith("page")
    value = text.removeprefix("page").strip()
    if not (value.isascii() and value.isdigit()):
        await message.answer("❌ An id is digits only. Send it again, or /cancel.")
        return
    await state.update_data(graph_id=value, graph_page=page)
    await state.set_state(AddAccount.graph_expiry)
    await message.answer("📅 When does the token expire? <code>YYYY-MM-DD</code> (long-lived tokens last 60 "
                         "days), or <code>-</code> if you do not know:")


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
            data["alias"], data["token"], ig_user_id=None if page else value, page_id=value if page else None,
            token_expiry=expiry)
    except InvalidInput as exc:
        reason = html.escape("; ".join(exc.fields.values()), quote=False)
        await message.answer(f"❌ {reason}\nSend the id again, or /cancel.")
        return
    await state.clear()
    await message.answer(f"✅ Added <b>{e(account.alias)}</b> (@{e(account.username)}). The token works.")


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
    account = await services.accounts.finish_youtube(account)
    await state.clear()
    title = account.profile.get("channel_title") or account.alias
    await message.answer(f"✅ YouTube connected: <b>{e(title)}</b> ({e(account.external_id)}).")


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
    return router
