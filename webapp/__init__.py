"""The aiohttp web app: Mini App, JSON API, OAuth callback, health and metrics."""
