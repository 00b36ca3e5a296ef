"""Keyboards as pure functions."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.callbacks import Area, MenuCB

AREA_TITLES: dict[Area, str] = {
    Area.CONNECTIONS: "🔗 Connections",
    Area.ACCOUNTS: "👤 Accounts",
    Area.PROXIES: "🛡 Proxies",
    Area.JOBS: "⚙️ Jobs",
    Area.ANALYTICS: "📊 Analytics",
    Area.SETTINGS: "🔧 Settings",
}


def _button(area: Area) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=AREA_TITLES[area], callback_data=MenuCB(area=area).pack())


def main_menu(webapp_url: str | None = None) -> InlineKeyboardMarkup:
    """The main menu: two areas a row, the Mini App first when it is reachable over https."""
    rows: list[list[InlineKeyboardButton]] = []
    if webapp_url:
        rows.append([InlineKeyboardButton(text="📱 Open the Mini App", web_app=WebAppInfo(url=webapp_url))])
    areas = list(AREA_TITLES)
    rows += [[_button(a) for a in areas[i:i + 2]] for i in range(0, len(areas), 2)]
    rows.append([InlineKeyboardButton(text="❓ Help", callback_data=MenuCB(area=Area.HELP).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def back_to_menu() -> InlineKeyboardMarkup:
    """A single 'back to the menu' button."""
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="⬅️ Main menu", callback_data=MenuCB(area=Area.MENU).pack())
    ]])
