"""The Telegram bot: the administrator's control plane."""
