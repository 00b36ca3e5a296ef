"""Typed callback data (Telegram caps callback data at 64 bytes: short prefixes)."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class Area(StrEnum):
    """Top-level areas of the main menu."""

    MENU = "menu"
    CONNECTIONS = "conn"
    ACCOUNTS = "acc"
    PROXIES = "prx"
    JOBS = "jobs"
    ANALYTICS = "ana"
    SETTINGS = "set"
    HELP = "help"


class MenuCB(CallbackData, prefix="m"):
    """Open an area of the main menu."""

    area: Area
