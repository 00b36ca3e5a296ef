"""`forwarder check`: configuration, database, Redis, ffmpeg, yt-dlp's JS runtime and platform base URLs."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

from core import crypto
from core.bootstrap import connect_redis, prepare_data_dir
from core.db import close_db, init_db
from core.errors import ConfigError
from core.redis_embedded import EmbeddedRedis
from core.settings import Settings


class Report:
    """Collects check lines and whether all passed."""

    def __init__(self) -> None:
        self.failed = 0

    def line(self, ok: bool, name: str, detail: str) -> None:
        if not ok:
            self.failed += 1
        print(f"[{'ok' if ok else 'FAIL':>4}] {name}: {detail}")

    def warn(self, name: str, detail: str) -> None:
        """A problem that stops one feature, not the whole system (not counted as a failure)."""
        print(f"[WARN] {name}: {detail}")


def base_urls(settings: Settings) -> dict[str, str]:
    """Every external endpoint the system talks to."""
    urls = {
        "TELEGRAM_API_BASE": settings.telegram_api_base,
        "YOUTUBE_API_BASE": settings.youtube_api_base,
        "GOOGLE_AUTH_URI": settings.google_auth_uri,
        "GOOGLE_TOKEN_URI": settings.google_token_uri,
        "YOUTUBE_WEB_BASE": settings.youtube_web_base,
        "INSTAGRAM_API_BASE": settings.instagram_api_base,
        "GRAPH_API_BASE": settings.graph_facebook_url,
        "INSTAGRAM_GRAPH_API_BASE": settings.graph_instagram_url,
        "GRAPH_UPLOAD_BASE": settings.graph_upload_url,
    }
    for i, url in enumerate(settings.proxy_check_urls, 1):
        urls[f"PROXY_CHECK_URLS[{i}]"] = url
    return urls


async def _reach(url: str, limit: float = 3.0) -> str | None:
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parsed.hostname, port), limit)
    except (OSError, TimeoutError) as exc:
        return exc.__class__.__name__
    writer.close()
    return None


def _check_js_runtime(report: Report) -> None:
    """The JavaScript runtime yt-dlp will be given for YouTube downloads (core.platforms.youtube_download)."""
    from importlib.metadata import version

    from core.platforms.youtube_download import (
        EJS_WIKI,
        RUNTIME_FIX,
        describe_js_runtime,
        solver_scripts_version,
    )

    name = "yt-dlp JS runtime"
    runtime = describe_js_runtime()
    if runtime is None:
        report.warn(name, f"none found: YouTube sources cannot download Shorts (\"Requested format is not "
                          f"available\"). Fix: {RUNTIME_FIX}. See {EJS_WIKI}")
        return
    where = f"{runtime.name} {runtime.version or '(no version: it did not run)'} at {runtime.path}"
    if not runtime.supported:
        report.warn(name, f"{where} is not usable by yt-dlp (too old or it did not run). Fix: {RUNTIME_FIX}")
        return
    scripts = solver_scripts_version()
    if scripts is None:
        report.warn(name, f"{where}, but the challenge-solver scripts (yt-dlp-ejs) are missing: "
                          "pip install \"yt-dlp[default]\"")
        return
    report.line(True, name, f"{where} (yt-dlp {version('yt-dlp')}, yt-dlp-ejs {scripts})")


async def run_check(settings: Settings, *, reach: bool = False) -> int:
    """Print one line per check; 0 when all pass, 1 otherwise."""
    report = Report()
    try:
        settings.require_bot()
        report.line(True, "config", f"bot token set, {len(settings.admin_ids)} admin id(s)")
    except ConfigError as exc:
        report.line(False, "config", str(exc))
    report.line(True, "alerts", settings.alert_chat_id or "ALERT_CHAT_ID not set: alerts go to the admins")
    try:
        data_dir = prepare_data_dir(settings)
        secret = settings.secret_keys.get_secret_value() if settings.secret_keys else None
        ring = crypto.load_keyring(secret, data_dir, create=False)
        source = "SECRET_KEYS" if secret else "the key file"
        report.line(True, "keys", f"{len(ring.keys)} key(s) from {source}")
    except ConfigError as exc:
        report.line(False, "keys", str(exc))
    try:
        await init_db(settings.resolved_database_url)
        report.line(True, "database", settings.resolved_database_url.split("@")[-1])
    except ConfigError as exc:
        report.line(False, "database", str(exc))
    finally:
        await close_db()
    embedded: EmbeddedRedis | None = None
    try:
        if settings.uses_embedded_redis:
            embedded = EmbeddedRedis(settings.data_dir, port=settings.embedded_redis_port)
            url = embedded.start()
        else:
            url = settings.redis_url or ""
        client = await connect_redis(url)
        info = await client.info("server")
        await client.aclose()
        kind = "embedded" if embedded else url.split("@")[-1]
        report.line(True, "redis", f"{kind}, redis {info.get('redis_version', '?')}")
    except ConfigError as exc:
        report.line(False, "redis", str(exc))
    finally:
        if embedded is not None:
            embedded.stop()
    try:
        from core.video.binary import locate

        binary = locate(settings.ffmpeg_binary)
        probe = f", ffprobe {binary.ffprobe}" if binary.ffprobe else ", no ffprobe (probing via ffmpeg)"
        report.line(True, "ffmpeg", f"{binary.ffmpeg} ({binary.version()}){probe}")
    except ConfigError as exc:
        report.line(False, "ffmpeg", str(exc))
    _check_js_runtime(report)
    for name, url in base_urls(settings).items():
        problem = await _reach(url) if reach else None
        if not reach:
            detail = url
        else:
            detail = f"{url} reachable" if problem is None else f"{url} unreachable ({problem})"
        report.line(problem is None, name, detail)
    print("All checks passed." if not report.failed else f"{report.failed} check(s) failed.")
    return 0 if not report.failed else 1
