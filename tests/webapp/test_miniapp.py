"""The Mini App's page and assets over HTTP: served by the project, nothing from elsewhere,
nothing outside webapp/static."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from webapp.miniapp import STATIC, asset_path

IMPORT = re.compile(r"""^import\s[^'"]*['"](\.{1,2}/[^'"]+)['"]""", re.M)


async def test_the_page_loads_its_assets_from_this_server_only(client: TestClient) -> None:
    resp = await client.get("/app")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/app/assets/") or s.startswith("data:") for s in sources), sources
    assert "{{version}}" not in html
    for source in sources:
        if source.startswith("/app/assets/"):
            asset = await client.get(source)
            assert asset.status == 200, source
            assert asset.headers["Cache-Control"] == "no-cache"


async def test_every_module_the_app_imports_is_served(client: TestClient) -> None:
    pending, seen = ["app/js/app.js"], set()
    while pending:
        relative = pending.pop()
        if relative in seen:
            continue
        seen.add(relative)
        resp = await client.get(f"/app/assets/{relative}")
        assert resp.status == 200, relative
        assert resp.content_type == "text/javascript"
        folder = relative.rsplit("/", 1)[0]
        for target in IMPORT.findall(await resp.text()):
            parts = [*folder.split("/"), *target.split("/")]
            resolved: list[str] = []
            for part in parts:
                if part == "..":
                    resolved.pop()
                elif part != ".":
                    resolved.append(part)
            pending.append("/".join(resolved))
    assert len(seen) >= 10  # the shell, its helpers and every screen


async def test_telegram_web_app_js_is_the_vendored_copy(client: TestClient) -> None:
    resp = await client.get("/app/assets/vendor/telegram-web-app.js")
    assert resp.status == 200
    body = await resp.text()
    assert "window.Telegram" in body and "tgWebAppData" in body


@pytest.mark.parametrize("path", [
    "../miniapp.py", "app/../../miniapp.py", "%2e%2e/miniapp.py", "app/%2e%2e/%2e%2e/app.py", "app/js",
    "app/js/", ".hidden.js", "app/js/missing.js", "app/index.html", "/etc/passwd",
    "vendor/../../../core/settings.py",
])
async def test_nothing_outside_the_static_folder_is_served(client: TestClient, path: str) -> None:
    resp = await client.get(f"/app/assets/{path}")
    assert resp.status == 404
    assert resp.content_type == "application/json"


def test_asset_path_keeps_inside_the_folder() -> None:
    assert asset_path("app/js/app.js") == STATIC / "app" / "js" / "app.js"
    assert asset_path("app/../app/js/app.js") is None
    assert asset_path("app/index.html") is None  # the page has its own route, with its headers
    assert asset_path("") is None


async def test_the_page_needs_no_session_but_the_data_does(client: TestClient) -> None:
    assert (await client.get("/app")).status == 200
    resp = await client.get("/api/dashboard/summary")
    assert resp.status == 401
