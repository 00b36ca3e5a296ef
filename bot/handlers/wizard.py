"""The connection wizard (specification §4.3.1): basic, accounts, proxy, filters, schedule,
transforms, review. Buttons where the choice is finite; typed input is checked in place by
the same rules the service applies; Back and Cancel on every step. Editing reuses the steps.
"""

from __future__ import annotations

import html
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import ConnAction, ConnCB, WizCB
from bot.views import ARROW, connection_card, e
from core.bootstrap import Services
from core.errors import InvalidInput
from core.models import Direction, Platform
from core.pipeline.rules import Filters, RuleError, Schedule
from core.settings import Settings

STEPS = ("name", "type", "source", "dest", "proxy", "filters", "schedule", "transforms", "review")
QUALITIES = ("original", "optimized", "maximum_compatibility")


class Wizard(StatesGroup):
    """One state per step; the draft lives in the FSM data under ``draft``."""

    name = State()
    type = State()
    source = State()
    dest = State()
    proxy = State()
    filters = State()
    keywords = State()
    exclude = State()
    backfill = State()
    schedule = State()
    windows = State()
    transforms = State()
    review = State()


def _b(text: str, step: str, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=WizCB(step=step, value=value).pack())


def _nav(step: str) -> list[InlineKeyboardButton]:
    row = [_b("✖️ Cancel", "cancel")]
    if step != "name":
        row.insert(0, _b("⬅️ Back", "back", step))
    return row


def _kb(rows: list[list[InlineKeyboardButton]], step: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[r for r in rows if r] + [_nav(step)])


def _title(n: int, label: str) -> str:
    return f"🧭 <b>New connection — step {n}/7: {label}</b>\n\n"


async def render(step: str, draft: dict[str, Any], services: Services) -> tuple[str, InlineKeyboardMarkup]:
    """The message of one step."""
    if step == "name":
        return _title(1, "basic") + "Send a name for the connection (1–100 characters).", _kb([], step)
    if step == "type":
        return _title(1, "basic") + f"Name: <b>{e(draft['name'])}</b>\nWhich direction?", _kb([
            [_b(ARROW[d], "type", d.value)] for d in Direction], step)
    if step in ("source", "dest"):
        direction = Direction(draft["type"])
        want = {("source", Direction.INSTAGRAM_TO_YOUTUBE): Platform.INSTAGRAM,
                ("source", Direction.YOUTUBE_TO_INSTAGRAM): Platform.YOUTUBE,
                ("dest", Direction.INSTAGRAM_TO_YOUTUBE): Platform.YOUTUBE,
                ("dest", Direction.YOUTUBE_TO_INSTAGRAM): Platform.INSTAGRAM}[(step, direction)]
        accounts = await services.accounts.list(want)
        label = "source" if step == "source" else "destination"
        text = _title(2, "accounts") + f"Choose the {label} ({want.value}) account."
        if not accounts:
            text += f"\n\nThere is no {want.value} account yet: add one under 👤 Accounts first."
        return text, _kb([[_b(f"{a.alias} ({a.status.value})", step, str(a.id))] for a in accounts], step)
    if step == "proxy":
        proxies = await services.proxies.list()
        rows = [[_b("No proxy (account default or direct)", "proxy", "0")]]
        rows += [[_b(f"{p.alias} ({p.health.value})", "proxy", str(p.id))] for p in proxies]
        return _title(3, "proxy") + "Which proxy should this connection use?", _kb(rows, step)
    if step == "filters":
        f = draft.get("filters", {})
        summary = (f"keywords: {', '.join(f['caption_keywords'])}" if f.get("caption_keywords")
                   else "all new posts")
        if f.get("exclude_keywords"):
            summary += f"; not: {', '.join(f['exclude_keywords'])}"
        if f.get("include_old_posts"):
            summary += f"; backfill {f['date_range']['from']} – {f['date_range'].get('to') or 'today'}"
        return _title(4, "filters") + f"Now: <b>{e(summary)}</b>", _kb([
            [_b("✅ Forward all new posts", "filters", "all")],
            [_b("🔤 Only captions with keywords…", "filters", "keywords")],
            [_b("🚫 Exclude keywords…", "filters", "exclude")],
            [_b("🕰 Also forward old posts (date range)…", "filters", "backfill")],
            [_b("Next ➡️", "filters", "next")]], step)
    if step == "schedule":
        s = Schedule.from_json(draft.get("schedule"))
        now = (f"every {s.interval_minutes} min" + (" within " + ", ".join(
            f"{w.start:%H:%M}-{w.end:%H:%M}" for w in s.windows) if s.windows else ""))
        return _title(5, "schedule") + f"Now: <b>{now}</b>\nCheck for new posts every…", _kb([
            [_b(f"{m} min", "schedule", str(m)) for m in (5, 15, 30, 60)],
            [_b("🕘 Only in daily windows…", "schedule", "windows")],
            [_b("Next ➡️", "schedule", "next")]], step)
    if step == "transforms":
        t = draft.get("transform_options", {})
        on = {True: "✅", False: "⬜"}
        return _title(6, "video") + "Tap to change, then Next.", _kb([
            [_b(f"{on[bool(t.get('upscale'))]} Upscale to 1080p", "transforms", "upscale")],
            [_b(f"{on[bool(t.get('greenscreen'))]} Green-screen layout", "transforms", "greenscreen")],
            [_b(f"🎚 Quality: {t.get('quality', 'optimized')}", "transforms", "quality")],
            [_b("Next ➡️", "transforms", "next")]], step)
    return _review(draft, services), _kb([
        [_b("💾 Save & activate", "save", "active"), _b("💾 Save inactive", "save", "stopped")]], step)


def _review(draft: dict[str, Any], services: Services) -> str:
    f, t = draft.get("filters", {}), draft.get("transform_options", {})
    s = Schedule.from_json(draft.get("schedule"))
    lines = [_title(7, "review"),
             f"Name: <b>{e(draft['name'])}</b>", f"Direction: {ARROW[Direction(draft['type'])]}",
             f"Source: {e(draft.get('source_name', '?'))} → destination: {e(draft.get('dest_name', '?'))}",
             f"Proxy: {e(draft.get('proxy_name') or 'none')}",
             "Filters: " + (f"keywords {e(', '.join(f['caption_keywords']))}" if f.get("caption_keywords")
                            else "all new posts")
             + (f"; excluding {e(', '.join(f['exclude_keywords']))}" if f.get("exclude_keywords") else "")
             + (f"; backfill from {f['date_range']['from']}" if f.get("include_old_posts") else ""),
             f"Schedule: every {s.interval_minutes} min" + (" within " + ", ".join(
                 f"{w.start:%H:%M}-{w.end:%H:%M}" for w in s.windows) if s.windows else ""),
             f"Video: upscale {'on' if t.get('upscale') else 'off'}, green screen "
             f"{'on' if t.get('greenscreen') else 'off'}, quality {t.get('quality', 'optimized')}"]
    return "\n".join(lines)


async def _draft(state: FSMContext) -> dict[str, Any]:
    return dict((await state.get_data()).get("draft") or {})


async def goto(target: Message | CallbackQuery, state: FSMContext, services: Services, step: str,
               draft: dict[str, Any], note: str = "") -> None:
    """Show ``step`` (editing the wizard message when a button was pressed)."""
    await state.set_state(getattr(Wizard, step))
    await state.update_data(draft=draft)
    text, markup = await render(step, draft, services)
    text = (note + "\n\n" + text) if note else text
    if isinstance(target, CallbackQuery) and isinstance(target.message, Message):
        await target.message.edit_text(text, reply_markup=markup)
    elif isinstance(target, Message):
        await target.answer(text, reply_markup=markup)


async def start(query: CallbackQuery, callback_data: ConnCB, services: Services, state: FSMContext) -> None:
    """➕ New connection, or ✏️ Edit one (the steps start filled in)."""
    await query.answer()
    draft: dict[str, Any] = {}
    if callback_data.action is ConnAction.EDIT:
        c = await services.connections.get(callback_data.id)
        draft = {"edit_id": c.id, "name": c.name, "type": c.direction.value,
                 "source_account_id": c.source_account.id, "source_name": c.source_account.alias,
                 "destination_account_id": c.destination_account.id, "dest_name": c.destination_account.alias,
                 "proxy_id": c.proxy.id if c.proxy else None,
                 "proxy_name": c.proxy.alias if c.proxy else None,
                 "filters": c.filters, "schedule": c.schedule, "transform_options": c.transform_options}
    await state.clear()
    await goto(query, state, services, "name", draft,
               f"✏️ Editing <b>{e(draft['name'])}</b>: send a new name or the same one." if draft else "")


async def on_button(query: CallbackQuery, callback_data: WizCB, services: Services, state: FSMContext,
                    settings: Settings) -> None:
    step, value = callback_data.step, callback_data.value
    draft = await _draft(state)
    if step == "cancel":
        await state.clear()
        await query.answer("Cancelled")
        if isinstance(query.message, Message):
            await query.message.edit_text("✖️ Wizard cancelled. Nothing was saved.")
        return
    if not (await state.get_state() or "").startswith(Wizard.__name__ + ":"):
        # A button of a wizard already saved or cancelled: its draft is gone.
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer("⌛ This wizard is no longer open. "
                                       "Start again with ➕ New connection.")
        return
    if step == "back":
        index = STEPS.index(value) if value in STEPS else 1
        await query.answer()
        await goto(query, state, services, STEPS[max(index - 1, 0)], draft)
        return
    await query.answer()
    if step == "type":
        draft["type"] = value
        await goto(query, state, services, "source", draft)
    elif step in ("source", "dest"):
        account = await services.accounts.get(int(value))
        key = "source" if step == "source" else "dest"
        draft[f"{'source' if key == 'source' else 'destination'}_account_id"] = account.id
        draft[f"{key}_name"] = account.alias
        await goto(query, state, services, "dest" if step == "source" else "proxy", draft)
    elif step == "proxy":
        proxy = await services.proxies.get(int(value)) if value != "0" else None
        draft["proxy_id"] = proxy.id if proxy else None
        draft["proxy_name"] = proxy.alias if proxy else None
        await goto(query, state, services, "filters", draft)
    elif step == "filters":
        if value == "all":
            filters = dict(draft.get("filters") or {})
            filters.update(mode="forward_all_new", caption_keywords=[])
            draft["filters"] = Filters.from_json(filters).to_json()
            await goto(query, state, services, "filters", draft)
        elif value in ("keywords", "exclude", "backfill"):
            await state.set_state(getattr(Wizard, value))
            await state.update_data(draft=draft)
            prompt = {"keywords": "Send the keywords, comma-separated (a caption needs any one of them):",
                      "exclude": "Send the keywords to exclude, comma-separated (or - for none):",
                      "backfill": "Send the date range of old posts to forward once: "
                                  "<code>2025-01-01 2025-10-17</code> (the end may be left out)."}[value]
            if isinstance(query.message, Message):
                await query.message.answer(prompt)
        else:
            await goto(query, state, services, "schedule", draft)
    elif step == "schedule":
        if value == "windows":
            await state.set_state(Wizard.windows)
            await state.update_data(draft=draft)
            if isinstance(query.message, Message):
                await query.message.answer(
                    f"Send the daily windows in {html.escape(settings.timezone)}, e.g. "
                    "<code>09:00-12:00, 18:00-22:00</code>:")
        elif value == "next":
            await goto(query, state, services, "transforms", draft)
        else:
            schedule = dict(draft.get("schedule") or {})
            schedule["check_interval_minutes"] = int(value)
            draft["schedule"] = Schedule.from_json(schedule).to_json()
            await goto(query, state, services, "schedule", draft)
    elif step == "transforms":
        t = dict(draft.get("transform_options") or {"quality": "optimized"})
        if value in ("upscale", "greenscreen"):
            t[value] = not t.get(value)
        elif value == "quality":
            t["quality"] = QUALITIES[(QUALITIES.index(t.get("quality", "optimized")) + 1) % len(QUALITIES)]
        draft["transform_options"] = t
        await goto(query, state, services, "review" if value == "next" else "transforms", draft)
    elif step == "save":
        await save(query, state, services, settings, draft, value)


async def save(query: CallbackQuery, state: FSMContext, services: Services, settings: Settings,
               draft: dict[str, Any], status: str) -> None:
    keys = ("name", "type", "source_account_id", "destination_account_id", "proxy_id", "filters", "schedule",
            "transform_options")
    data: dict[str, Any] = {k: draft[k] for k in keys if k in draft}
    try:
        if draft.get("edit_id"):
            connection = await services.connections.update(int(draft["edit_id"]), data)
            if status == "active":
                await services.connections.start(connection.id)
        else:
            connection = await services.connections.create({**data, "status": status})
    except InvalidInput as exc:
        fields = "\n".join(f"• {e(k)}: {e(v)}" for k, v in exc.fields.items())
        first = next(iter(exc.fields)).split(".")[0]
        back = {"name": "name", "type": "type", "source_account_id": "source",
                "destination_account_id": "dest", "proxy_id": "proxy"}.get(first, "filters")
        await goto(query, state, services, back, draft, f"❌ Not saved:\n{fields}")
        return
    await state.clear()
    connection = await services.connections.get(connection.id)
    text, markup = connection_card(connection, settings.timezone)
    if isinstance(query.message, Message):
        await query.message.edit_text("💾 Saved.\n\n" + text, reply_markup=markup)


async def on_text(message: Message, services: Services, state: FSMContext) -> None:
    """Typed answers: checked in place; a wrong one is asked again with the reason."""
    step = (await state.get_state() or "").split(":")[-1]
    text = (message.text or "").strip()
    draft = await _draft(state)
    try:
        if step == "name":
            if not 1 <= len(text) <= 100:
                raise RuleError("name", "the name must be 1 to 100 characters")
            draft["name"] = text
            await goto(message, state, services, "type", draft)
            return
        filters = dict(draft.get("filters") or {})
        if step == "keywords":
            filters.update(mode="caption_keywords", caption_keywords=text)
        elif step == "exclude":
            filters["exclude_keywords"] = [] if text == "-" else text
        elif step == "backfill":
            parts = text.replace("–", " ").split()
            if not 1 <= len(parts) <= 2:
                raise RuleError("date_range", "send one or two dates: 2025-01-01 2025-10-17")
            filters.update(include_old_posts=True, date_range={"from": parts[0],
                                                               "to": parts[1] if len(parts) > 1 else None})
        elif step == "windows":
            schedule = dict(draft.get("schedule") or {})
            schedule.update(type="windows", windows=[w.strip() for w in text.split(",") if w.strip()])
            draft["schedule"] = Schedule.from_json(schedule).to_json()
            await goto(message, state, services, "schedule", draft)
            return
        draft["filters"] = Filters.from_json(filters).to_json()
    except RuleError as exc:
        await message.answer(f"❌ {e(exc.message)}\nSend it again, or press Back / Cancel.")
        return
    await goto(message, state, services, "filters", draft)


async def use_text(message: Message) -> None:
    """A file, photo or sticker where the step wants typed text: say so instead of staying silent."""
    await message.answer("✏️ Send it as a text message, or press Back / Cancel (or send /cancel).")


async def use_buttons(message: Message) -> None:
    """Text where the step wants a button: say so instead of staying silent."""
    await message.answer("👆 Choose with the buttons above, or press Back / Cancel (or send /cancel).")


def create_router() -> Router:
    """A fresh router for the wizard."""
    router = Router(name="wizard")
    router.callback_query.register(start, ConnCB.filter(F.action.in_({ConnAction.NEW, ConnAction.EDIT})))
    router.callback_query.register(on_button, WizCB.filter())
    typed = StateFilter(Wizard.name, Wizard.keywords, Wizard.exclude, Wizard.backfill, Wizard.windows)
    router.message.register(on_text, typed, F.text & ~F.text.startswith("/"))
    router.message.register(use_text, typed, ~F.text)
    buttons = StateFilter(Wizard.type, Wizard.source, Wizard.dest, Wizard.proxy, Wizard.filters,
                          Wizard.schedule, Wizard.transforms, Wizard.review)
    router.message.register(use_buttons, buttons, ~F.text.startswith("/"))
    return router
