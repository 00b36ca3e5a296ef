"""The Mini App's page and its static assets (``webapp/static``), served by the project itself.

``GET /app`` is the page BotFather's menu button opens; it carries no data (the data comes from
``/api`` with the Mini App's initData). ``GET /app/assets/{path}`` serves exactly the files under
``webapp/static``: no directory listings, nothing outside it. Assets are revalidated on each load
(``no-cache`` with an ETag), so an upgrade reaches every client at once.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from aiohttp import web

from webapp.errors import error_response
from webapp.routes import RouteTable, s

STATIC = Path(__file__).resolve().parent / "static"
PAGE = STATIC / "app" / "index.html"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
               ".txt": "text/plain"}
# The page talks only to its own origin; Telegram's clients frame it, so no frame-ancestors rule.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'")

routes = RouteTable(tag="mini app")


@cache
def _version() -> str:
    """A short hash of every asset, so a new release is a new URL for the page's entry points."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@cache
def _page() -> str:
    return PAGE.read_text(encoding="utf-8").replace("{{version}}", _version())


@routes.get("/app", "The Telegram Mini App (HTML; its data comes from /api)", auth=False,
            content_type="text/html", response=s("HTML page"))
async def page(request: web.Request) -> web.Response:
    return web.Response(text=_page(), content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP,
                                 "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"})


def asset_path(relative: str) -> Path | None:
    """The file under ``STATIC`` that ``relative`` names, or None (traversal, hidden, unknown type)."""
    parts = relative.split("/")
    if "\x00" in relative or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None  # NUL: no file system takes it (resolve() would raise)
    path = (STATIC / relative).resolve()
    if not path.is_relative_to(STATIC) or path.suffix not in ASSET_TYPES or not path.is_file():
        return None
    return path


@routes.get("/app/assets/{path:.+}", "A static asset of the Mini App (scripts, styles)", auth=False,
            content_type="text/plain", response=s("the file"))
async def asset(request: web.Request) -> web.StreamResponse:
    path = asset_path(request.match_info["path"])
    if path is None:
        return error_response(404, "not_found", f"There is no asset {request.match_info['path']}")
    return web.FileResponse(path, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                                           "Content-Type": ASSET_TYPES[path.suffix]})
