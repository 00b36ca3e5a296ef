"""The domain: settings, models, services, platform adapters and the video engine.

Nothing here imports aiogram, arq or aiohttp.web.
"""

__version__ = "0.1.0"
