"""Routers in the order the dispatcher tries them; the error router comes last."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import areas, errors, start


def get_routers() -> list[Router]:
    """Every router of the bot, error router last."""
    return [start.router, areas.router, errors.router]
