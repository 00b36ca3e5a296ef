"""Texts the bot sends, kept in one place."""

from __future__ import annotations

MENU_TEXT = (
    "🎬 <b>Reels ⇄ Shorts forwarder</b>\n\n"
    "Forward short vertical videos between Instagram Reels and YouTube Shorts.\n"
    "Pick an area:"
)

COMMANDS: list[tuple[str, str]] = [
    ("start", "Main menu"),
    ("menu", "Main menu"),
    ("connections", "Forwarding connections"),
    ("accounts", "Instagram and YouTube accounts"),
    ("proxies", "Proxies and their health"),
    ("jobs", "Active jobs and history"),
    ("dlq", "Dead-letter queue"),
    ("logs", "Recent logs"),
    ("analytics", "Charts and figures"),
    ("settings", "System settings"),
    ("help", "What this bot does"),
    ("cancel", "Cancel the current dialog"),
]

HELP_TEXT = (
    "ℹ️ <b>Help</b>\n\n"
    "This bot forwards Reels to Shorts and Shorts to Reels between accounts you connect.\n\n"
    + "\n".join(f"/{name} — {desc}" for name, desc in COMMANDS)
)

