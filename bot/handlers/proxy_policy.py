"""A connection's proxy rotation policy: mode, pool and direct fallback (specification §4.4.3)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import ConnAction, ConnCB, PolicyCB
from bot.handlers.common import show
from bot.views import e
from core.bootstrap import Services
from core.pipeline.proxy_choice import MODES, check_policy

MODE_LABEL = {"sticky": "📌 Sticky", "round_robin": "🔁 Round robin", "random": "🎲 Random",
              "least_used": "⚖️ Least used"}


async def render(services: Services, connection_id: int) -> tuple[str, InlineKeyboardMarkup]:
    connection = await services.connections.get(connection_id)
    policy = check_policy(connection.proxy_policy)
    proxies = await services.proxies.list()

    def b(text: str, what: str, value: str = "") -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=PolicyCB(id=connection_id, what=what,
                                                                     value=value).pack())

    lines = [f"🔀 <b>Proxies of {e(connection.name)}</b>", "",
             f"Mode: {MODE_LABEL[policy['mode']]}",
             "Pool: " + (", ".join(e(p.alias) for p in proxies if p.id in policy["pool"]) or
                         "empty (the connection's proxy or the account default is used)"),
             f"Fall back to a direct connection when no proxy is healthy: "
             f"{'yes' if policy['fallback_to_direct'] else 'no'}"]
    rows = [[b(("• " if policy["mode"] == m else "") + MODE_LABEL[m], "mode", m) for m in MODES[:2]],
            [b(("• " if policy["mode"] == m else "") + MODE_LABEL[m], "mode", m) for m in MODES[2:]]]
    rows += [[b(("✅ " if p.id in policy["pool"] else "⬜ ") + p.alias, "pool", str(p.id))] for p in proxies]
    rows.append([b(("✅" if policy["fallback_to_direct"] else "⬜") + " Direct fallback", "fallback")])
    rows.append([InlineKeyboardButton(text="⬅️ Connection", callback_data=ConnCB(
        action=ConnAction.OPEN, id=connection_id).pack())])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def open_policy(query: CallbackQuery, callback_data: ConnCB, services: Services) -> None:
    text, markup = await render(services, callback_data.id)
    await show(query, text, markup)


async def change(query: CallbackQuery, callback_data: PolicyCB, services: Services) -> None:
    connection = await services.connections.get(callback_data.id)
    policy = check_policy(connection.proxy_policy)
    if callback_data.what == "mode":
        policy["mode"] = callback_data.value
    elif callback_data.what == "pool":
        pid = int(callback_data.value)
        policy["pool"] = [p for p in policy["pool"] if p != pid] if pid in policy["pool"] else \
            [*policy["pool"], pid]
    elif callback_data.what == "fallback":
        policy["fallback_to_direct"] = not policy["fallback_to_direct"]
    await services.connections.update(connection.id, {"proxy_policy": policy})
    text, markup = await render(services, connection.id)
    await show(query, text, markup)


def create_router() -> Router:
    """A fresh router for the proxy policy view (before the connections router)."""
    router = Router(name="proxy_policy")
    router.callback_query.register(open_policy, ConnCB.filter(F.action == ConnAction.POLICY))
    router.callback_query.register(change, PolicyCB.filter())
    return router
