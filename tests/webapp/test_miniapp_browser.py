"""The Mini App in real headless Chromium (Debian's chromium driven by Playwright, no browser
download), against the web app over a seeded database in its own process.

Opened as Telegram opens it: the launch parameters (signed initData, theme) in the URL's hash,
read by the served telegram-web-app.js. Screenshots of every screen at 390x844 in the light and
dark Telegram themes are written to ``$ARTIFACTS_DIR/miniapp`` (default ``artifacts/miniapp``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.webapp.conftest import init_data

playwright_api = pytest.importorskip("playwright.sync_api")
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                         "(scripts/test.sh installs it with apt-get)")
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR") or ROOT / "artifacts") / "miniapp"

# Telegram's own default themes (what its clients pass as tgWebAppThemeParams).
THEMES: dict[str, dict[str, str]] = {
    "light": {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#999999",
              "link_color": "#2481cc",
              "button_color": "#2481cc", "button_text_color": "#ffffff", "secondary_bg_color": "#efeff3",
              "header_bg_color": "#ffffff", "accent_text_color": "#2481cc", "section_bg_color": "#ffffff",
              "section_header_text_color": "#6d6d71", "subtitle_text_color": "#999999",
              "destructive_text_color": "#ff3b30"},
    "dark": {"bg_color": "#212121", "text_color": "#ffffff", "hint_color": "#aaaaaa", "link_color": "#8774e1",
             "button_color": "#8774e1", "button_text_color": "#ffffff", "secondary_bg_color": "#181818",
             "header_bg_color": "#212121", "accent_text_color": "#8774e1", "section_bg_color": "#212121",
             "section_header_text_color": "#aaaaaa", "subtitle_text_color": "#aaaaaa",
             "destructive_text_color": "#ff595a"},
}
# route -> (top bar title, a selector that is there once the screen has its data)
SCREENS: dict[str, tuple[str, str]] = {
    "/": ("Dashboard", "[data-testid=activity]"),
    "/connections": ("Connections", "[data-testid=connections]"),
    "/connections/1": ("Travel → Shorts", "[data-testid=conn-jobs]"),
    "/connections/new": ("New connection", "[data-testid=name]"),
    "/jobs": ("Jobs & logs", "[data-testid=active-jobs]"),
    "/jobs?tab=dead": ("Jobs & logs", "[data-testid=dead-letter]"),
    "/jobs?tab=logs": ("Jobs & logs", "[data-testid=logs]"),
    "/jobs/1": ("Job #1", ".card .badge"),
    "/analytics": ("Analytics", ".chart-box.loaded"),
    "/accounts": ("Accounts", "[data-account]"),
    "/accounts/2": ("food.daily", "[data-testid=captcha-banner]"),
    "/accounts/new": ("Add account", "[data-testid=add-account]"),
    "/proxies": ("Proxies", "[data-testid=proxies]"),
    "/settings": ("Settings", "[data-testid=save-general]"),
    "/notifications": ("Notifications", ".list-item"),
    "/more": ("More", "a[href='#/accounts']"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    log = tmp_path_factory.mktemp("miniapp") / "server.log"
    with log.open("w") as errors:
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests/webapp/miniapp_server.py")], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=errors, text=True)
    assert proc.stdout is not None
    with proc, proc.stdout:
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            pytest.fail(f"the Mini App server did not start: {log.read_text()}")
        yield json.loads(line)
        proc.terminate()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


class App:
    """One Mini App tab: opened as Telegram opens it, with what it logged and requested."""

    def __init__(self, browser: Any, server: dict[str, Any], theme: str = "light",
                 data: str | None = None) -> None:
        self.base = server["base"]
        self.context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"{m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        launch = urlencode({"tgWebAppData": data or server["init_data"], "tgWebAppVersion": "8.0",
                            "tgWebAppThemeParams": json.dumps(THEMES[theme])})
        self.page.goto(f"{self.base}/app#{launch}")

    def open(self, route: str) -> None:
        self.page.evaluate("route => { location.hash = '#' + route; }", route)

    def ready(self, selector: str, timeout: float = 15_000) -> None:
        self.page.wait_for_selector(selector, timeout=timeout)
        self.page.wait_for_function("!document.querySelector('#screen > .loading')", timeout=timeout)

    def title(self) -> str:
        return str(self.page.text_content(".topbar-title"))

    def close(self) -> None:
        self.context.close()


def api(server: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(server["base"] + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "tma " + init_data(),
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_screen_renders_in_the_telegram_theme(server: dict[str, Any], browser: Any, theme: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    app = App(browser, server, theme)
    try:
        app.ready("[data-testid=activity]")
        # The theme came from the launch parameters, through telegram-web-app.js, into the page.
        background = app.page.evaluate("getComputedStyle(document.body).backgroundColor")
        expected = THEMES[theme]["secondary_bg_color"]
        assert background == "rgb({}, {}, {})".format(*(int(expected[i:i + 2], 16) for i in (1, 3, 5)))
        assert app.page.evaluate("document.documentElement.dataset.scheme") == theme
        for route, (title, selector) in SCREENS.items():
            app.open(route)
            app.ready(selector)
            assert app.title() == title, route
            name = route.strip("/").replace("/", "-").replace("?tab=", "-") or "dashboard"
            app.page.screenshot(path=str(ARTIFACTS / f"{theme}-{name}.png"))
        assert app.problems == []
        outside = [url for url in app.requests if not url.startswith((app.base, "blob:", "data:"))]
        assert outside == [], "every asset and call stays on the app's own origin"
    finally:
        app.close()


def test_the_dashboard_shows_the_numbers_of_the_api(server: dict[str, Any], browser: Any) -> None:
    summary = api(server, "GET", "/api/dashboard/summary")
    app = App(browser, server)
    try:
        app.ready("[data-testid=activity]")
        metrics = app.page.locator(".metric .metric-value").all_text_contents()
        connections = summary["connections"]
        assert metrics[0] == f"{connections['active']}/{connections['total']}"
        assert metrics[1] == str(summary["jobs_24h"]["succeeded"])
        assert metrics[3] == str(summary["queue"]["pending_jobs"])
        first = app.page.locator("[data-testid=activity] .list-item").first
        assert f"#{summary['recent_activity'][0]['job_id']}" in first.text_content()
        # no worker runs beside this server: the admin is told so, and what to do
        assert "forwarder worker" in app.page.text_content("[data-testid=no-worker]")
    finally:
        app.close()


def test_create_a_connection_run_it_and_the_job_appears(server: dict[str, Any], browser: Any) -> None:
    app = App(browser, server)
    page = app.page
    try:
        app.ready("[data-testid=activity]")
        page.click("[data-testid=new-connection]")
        app.ready("[data-testid=name]")
        page.click("[data-testid=next]")  # nothing typed: the step says what is missing and stays
        assert "Give the connection a name" in page.text_content(".field-message")
        page.fill("[data-testid=name]", "Harbour reels")
        page.click("[data-testid=next]")
        page.select_option("[data-testid=source]", label="travel.reels")
        page.select_option("[data-testid=destination]", label="Travel Shorts")
        for _ in range(5):  # accounts, proxy, filters, schedule, video: the defaults
            page.click("[data-testid=next]")
        assert "Step 7 of 7" in page.text_content(".steps-label")
        assert "Harbour reels" in page.text_content(".card")
        page.click("[data-testid=save-inactive]")
        app.ready("[data-testid=run-now]")
        assert app.title() == "Harbour reels"
        created = [c for c in api(server, "GET", "/api/connections?limit=100")["connections"]
                   if c["name"] == "Harbour reels"]
        assert len(created) == 1 and created[0]["status"] == "stopped"
        page.click("[data-testid=run-now]")
        page.wait_for_selector("[data-testid=conn-jobs] [data-job]")
        assert "new post(s) found" in page.text_content("#toast")
        jobs = api(server, "GET", f"/api/jobs?connection_id={created[0]['id']}")["jobs"]
        assert len(jobs) == 1
        page.screenshot(path=str(ARTIFACTS / "flow-connection-after-run.png"))
        page.click("a[data-nav=jobs]")
        page.wait_for_selector(f"[data-testid=active-jobs] [data-job='{jobs[0]['job_id']}']")
        assert app.problems == []
    finally:
        app.close()


def test_active_jobs_update_live(server: dict[str, Any], browser: Any) -> None:
    app = App(browser, server)
    try:
        app.open("/jobs")
        app.ready("[data-testid=active-jobs]")
        before = app.page.locator("[data-testid=active-jobs] [data-job]").count()
        started = api(server, "POST", "/api/connections/1/run")  # a new post arrives while the page is open
        new_jobs = [job["job_id"] for job in started["jobs_created"]]
        assert new_jobs
        for job_id in new_jobs:
            app.page.wait_for_selector(f"[data-testid=active-jobs] [data-job='{job_id}']", timeout=10_000)
        assert app.page.locator("[data-testid=active-jobs] [data-job]").count() == before + len(new_jobs)
    finally:
        app.close()


def test_a_refused_save_returns_to_the_step_at_fault(server: dict[str, Any], browser: Any) -> None:
    app = App(browser, server)
    page = app.page
    try:
        app.open("/connections/new")
        app.ready("[data-testid=name]")
        page.fill("[data-testid=name]", "Travel → Shorts")  # taken
        page.click("[data-testid=next]")
        page.select_option("[data-testid=source]", label="travel.reels")
        page.select_option("[data-testid=destination]", label="Travel Shorts")
        for _ in range(5):
            page.click("[data-testid=next]")
        page.click("[data-testid=save-inactive]")
        page.wait_for_selector("[data-testid=name] ~ .field-message")
        assert "Step 1 of 7" in page.text_content(".steps-label")
        assert "Travel → Shorts" in page.text_content(".field-message")
    finally:
        app.close()


def test_captcha_banner_mark_solved_resumes_the_account(server: dict[str, Any], browser: Any) -> None:
    app = App(browser, server)
    try:
        app.ready("[data-testid=captcha-banner]")
        assert "food.daily" in app.page.text_content("[data-testid=captcha-banner]")
        app.page.click("[data-testid=captcha-solved]")
        app.page.wait_for_selector("[data-testid=captcha-banner]", state="detached")
        account = api(server, "GET", "/api/accounts/2")["account"]
        assert account["status"] == "active"
    finally:
        app.close()


def test_an_expired_session_says_so(server: dict[str, Any], browser: Any) -> None:
    app = App(browser, server, data=init_data(auth_date=time.time() - 2 * 3600))
    try:
        app.page.wait_for_selector(".problem.full")
        assert "Session expired" in app.page.text_content(".problem.full h2")
        assert "reopen" in app.page.text_content(".problem.full").lower()
    finally:
        app.close()


def test_a_non_admin_is_turned_away(server: dict[str, Any], browser: Any) -> None:
    app = App(browser, server, data=init_data(user_id=4242))
    try:
        app.page.wait_for_selector(".problem.full")
        assert "Not an administrator" in app.page.text_content(".problem.full h2")
        assert "ADMIN_IDS" in app.page.text_content(".problem.full")
    finally:
        app.close()


def test_graph_form_asks_which_login_and_keeps_what_was_typed(server: dict[str, Any], browser: Any) -> None:
    app = App(browser, server)
    try:
        app.open("/accounts/new")
        app.ready("[data-testid=add-account]")
        page = app.page
        page.click(".tabs >> text=Instagram Graph")
        page.wait_for_selector("[name=app_secret]")  # Facebook Login: the app's id and secret are asked
        page.fill("[name=alias]", "brand.two")
        page.click("[data-field=login_type] >> text=Instagram Login")
        page.wait_for_selector("[name=app_secret]", state="detached")
        assert page.input_value("[name=alias]") == "brand.two"
        assert "IGAA" in page.text_content(".form .hint")
        assert not app.problems
    finally:
        app.close()


def test_update_credentials_refuses_a_token_of_the_other_login_type(server: dict[str, Any],
                                                                   browser: Any) -> None:
    app = App(browser, server)
    try:
        app.open("/accounts/3")
        app.ready("[data-testid=update-credentials]")
        app.page.click("[data-testid=update-credentials]")
        app.page.fill("[name=access_token]", "IGAA" + "x" * 40)
        app.page.click("[data-testid=save-credentials]")
        app.page.wait_for_selector(".sheet .banner-red")
        assert "Instagram Login token" in app.page.text_content(".sheet .banner-red")
        assert api(server, "GET", "/api/accounts/3")["account"]["status"] == "expiry_warning"  # unchanged
    finally:
        app.close()
