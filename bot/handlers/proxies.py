"""Proxies: list with health, add from one line (the message is deleted), test, test all, delete."""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import Area, MenuCB, ProxyAction, ProxyCB
from bot.handlers.common import delete_quietly, reply, show
from bot.views import e, local, menu_button
from core.bootstrap import Services
from core.models import Proxy, ProxyHealth
from core.platforms.proxy import ProxyInputError, ProxySpec, parse_port
from core.settings import Settings

HEALTH_ICON = {ProxyHealth.HEALTHY: "🟢", ProxyHealth.UNHEALTHY: "🔴", ProxyHealth.UNCHECKED: "⚪"}
ASK = ("🛡 Send the proxy on one line:\n<code>name type://user:password@host:port</code>\n"
       "for example <code>us1 socks5://bob:secret@203.0.113.7:1080</code> (type: http, https or "
       "socks5; the name and the credentials are optional). The message is deleted once read. /cancel stops.")


class AddProxy(StatesGroup):
    """Waiting for the proxy line (a new proxy, or new values for ``edit_id``), or step by step."""

    line = State()
    host = State()
    port = State()
    username = State()
    password = State()
    alias = State()


def _kb(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[r for r in rows if r])


def _button(text: str, action: ProxyAction, proxy_id: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=ProxyCB(action=action, id=proxy_id).pack())


def proxy_list(proxies: list[Proxy]) -> tuple[str, InlineKeyboardMarkup]:
    lines = [f"🛡 <b>Proxies</b> ({len(proxies)})", ""]
    lines += [f"{HEALTH_ICON[p.health]} {e(p.alias)} — {p.type.value}://{e(p.host)}:{p.port}"
              + (f", {p.latency_ms} ms" if p.latency_ms is not None else "") for p in proxies] \
        or ["No proxy yet. Jobs connect directly."]
    rows = [[_button(f"{HEALTH_ICON[p.health]} {p.alias}"[:60], ProxyAction.OPEN, p.id)] for p in proxies]
    rows.append([_button("➕ Add (one line)", ProxyAction.ADD),
                 _button("➕ Step by step", ProxyAction.STEPS)])
    rows.append([_button("🩺 Test all", ProxyAction.TEST_ALL)])
    rows.append([menu_button()])
    return "\n".join(lines), _kb(rows)


def proxy_card(p: Proxy, tz: str) -> tuple[str, InlineKeyboardMarkup]:
    lines = [f"{HEALTH_ICON[p.health]} <b>{e(p.alias)}</b>",
             f"{p.type.value}://{e(p.host)}:{p.port}" + (" (with username/password)" if p.username else ""),
             f"Health: {p.health.value}" + (f", {p.latency_ms} ms" if p.latency_ms is not None else ""),
             f"Last check: {local(p.last_check_at, tz)} · last success: {local(p.last_success_at, tz)}",
             f"Consecutive failures: {p.consecutive_failures}"]
    if p.last_error:
        lines.append(f"Last error: {e(p.last_error[:300])}")
    return "\n".join(lines), _kb([
        [_button("🩺 Test", ProxyAction.TEST, p.id), _button("✏️ Edit", ProxyAction.EDIT, p.id),
         _button("🗑 Delete", ProxyAction.DELETE, p.id)],
        [_button("⬅️ Proxies", ProxyAction.LIST), menu_button()]])


def parse_line(text: str) -> tuple[str, ProxySpec]:
    """``name type://user:pass@host:port`` (name optional) -> (alias, spec)."""
    parts = text.strip().split()
    if len(parts) == 2 and "://" not in parts[0]:
        alias, line = parts
    elif len(parts) == 1:
        alias, line = "", parts[0]
    else:
        raise ProxyInputError("line", "send one line: an optional name, then type://user:password@host:port")
    spec = ProxySpec.parse(line)
    return alias or f"{spec.host}:{spec.port}", spec


async def command(message: Message, services: Services) -> None:
    text, markup = proxy_list(await services.proxies.list())
    await show(message, text, markup)


async def menu(query: CallbackQuery, services: Services) -> None:
    text, markup = proxy_list(await services.proxies.list())
    await show(query, text, markup)


async def action(query: CallbackQuery, callback_data: ProxyCB, services: Services, settings: Settings,
                 state: FSMContext) -> None:
    act, pid, proxies = callback_data.action, callback_data.id, services.proxies
    if act is ProxyAction.STEPS:
        await show(query, "🛡 Which kind of proxy?", _kb([[InlineKeyboardButton(
            text=k, callback_data=ProxyCB(action=ProxyAction.KIND, kind=k).pack()) for k in ("http", "https",
                                                                                          "socks5")]]))
        return
    if act is ProxyAction.KIND:
        await state.set_state(AddProxy.host)
        await state.update_data(step={"type": callback_data.kind})
        await reply(query, "🖥 The proxy's host name or IP address:")
        return
    if act in (ProxyAction.ADD, ProxyAction.EDIT):
        await state.set_state(AddProxy.line)
        await state.update_data(edit_id=pid if act is ProxyAction.EDIT else None)
        await reply(query, ASK if act is ProxyAction.ADD else
                    ASK.replace("Send the proxy", "Send the proxy's new values"))
        return
    if act is ProxyAction.TEST_ALL:
        await query.answer("Testing every proxy…")
        results = await proxies.health_check_all()
        text, markup = proxy_list(await proxies.list())
        ok = sum(1 for r in results.values() if r.ok)
        if isinstance(query.message, Message):
            await query.message.edit_text(f"🩺 {ok} of {len(results)} proxies answered.\n\n" + text,
                                          reply_markup=markup)
        return
    if act is ProxyAction.DELETE:
        proxy = await proxies.get(pid)
        await show(query, f"🗑 Delete proxy <b>{e(proxy.alias)}</b>?", _kb([
            [_button("Yes, delete", ProxyAction.DELETE_YES, pid), _button("No", ProxyAction.OPEN, pid)]]))
        return
    if act is ProxyAction.DELETE_YES:
        alias = (await proxies.get(pid)).alias
        await proxies.delete(pid)
        text, markup = proxy_list(await proxies.list())
        await show(query, f"🗑 Deleted <b>{e(alias)}</b>.\n\n" + text, markup)
        return
    if act is ProxyAction.LIST:
        text, markup = proxy_list(await proxies.list())
        await show(query, text, markup)
        return
    if act is ProxyAction.TEST:
        check = await proxies.health_check(pid)
        await query.answer(f"✅ answered in {check.average_latency_ms} ms" if check.ok
                           else f"❌ {check.error}"[:190])
        text, markup = proxy_card(await proxies.get(pid), settings.timezone)
        if isinstance(query.message, Message):
            await query.message.edit_text(text, reply_markup=markup)
        return
    text, markup = proxy_card(await proxies.get(pid), settings.timezone)
    await show(query, text, markup)


async def take_line(message: Message, services: Services, state: FSMContext, settings: Settings) -> None:
    """The proxy line: deleted at once (it may carry a password), validated, saved, tested."""
    text = message.text or ""
    await delete_quietly(message)
    edit_id = (await state.get_data()).get("edit_id")
    try:
        alias, spec = parse_line(text)
        if edit_id:
            named = len(text.split()) == 2
            changes: dict[str, object] = {"type": spec.type, "host": spec.host, "port": spec.port,
                                          "username": spec.username, "password": spec.password}
            if named:
                changes["alias"] = alias
            proxy = await services.proxies.update(int(edit_id), **changes)
        else:
            proxy = await services.proxies.create(alias, spec.type, spec.host, spec.port, spec.username,
                                                  spec.password)
    except ProxyInputError as exc:
        await message.answer(f"❌ {html.escape(exc.message, quote=False)}\nSend the line again, or /cancel.")
        return
    await state.clear()
    check = await services.proxies.health_check(proxy.id)
    note = (f"✅ Saved <b>{e(proxy.alias)}</b>; it answered in {check.average_latency_ms} ms." if check.ok
            else f"⚠️ Saved <b>{e(proxy.alias)}</b>, but the test failed: {e(check.error)}")
    text, markup = proxy_card(await services.proxies.get(proxy.id), settings.timezone)
    await message.answer(note + "\n\n" + text, reply_markup=markup)


STEP_PROMPTS = {
    "host": ("port", "🔢 The port (1-65535):"),
    "port": ("username", "👤 The username, or - for none:"),
    "username": ("password", "🔒 The password, or - for none (the message is deleted once read):"),
    "password": ("alias", "🏷 A name for this proxy, or - to name it host:port:"),
}


async def take_step(message: Message, services: Services, state: FSMContext, settings: Settings) -> None:
    """One field of the step-by-step dialog, checked as it comes."""
    field = (await state.get_state() or "").split(":")[-1]
    text = (message.text or "").strip()
    data = dict((await state.get_data()).get("step") or {})
    if field == "password":
        await delete_quietly(message)
    value: object = None if text == "-" and field in ("username", "password", "alias") else text
    try:
        if field == "host":
            ProxySpec(str(data["type"]), text, 1)
        elif field == "port":
            value = parse_port(text)
    except ProxyInputError as exc:
        await message.answer(f"❌ {html.escape(exc.message, quote=False)}\nSend it again, or /cancel.")
        return
    data[field] = value
    await state.update_data(step=data)
    if field != "alias":
        following, prompt = STEP_PROMPTS[field]
        await state.set_state(getattr(AddProxy, following))
        await message.answer(prompt)
        return
    alias = str(data.get("alias") or f"{data['host']}:{data['port']}")
    try:
        proxy = await services.proxies.create(
            alias, str(data["type"]), str(data["host"]), int(str(data["port"])),
            data.get("username"), data.get("password"))  # type: ignore[arg-type]
    except ProxyInputError as exc:
        await message.answer(f"❌ {html.escape(exc.message, quote=False)}\nSend another name, or /cancel.")
        return
    await state.clear()
    text_, markup = proxy_card(await services.proxies.get(proxy.id), settings.timezone)
    await message.answer(f"✅ Saved <b>{e(proxy.alias)}</b>. Test it below.\n\n" + text_, reply_markup=markup)


def create_router() -> Router:
    """A fresh router for the proxies area."""
    router = Router(name="proxies")
    router.message.register(command, Command("proxies"))
    router.callback_query.register(menu, MenuCB.filter(F.area == Area.PROXIES))
    router.callback_query.register(action, ProxyCB.filter())
    router.message.register(take_line, StateFilter(AddProxy.line), F.text & ~F.text.startswith("/"))
    router.message.register(take_step, StateFilter(AddProxy.host, AddProxy.port, AddProxy.username,
                                                   AddProxy.password, AddProxy.alias),
                            F.text & ~F.text.startswith("/"))
    return router
