"""Downloads through yt-dlp, with the proxy, a cookies file and progress, mapped to our errors."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.utils import DownloadError

from core.errors import AuthError, ErrorCode, ForwarderError, MediaError, NotFound, TransientError
from core.platforms.base import DownloadedFile, Progress, progress_from_thread
from core.platforms.proxy import ProxySpec, ytdlp_proxy

log = logging.getLogger(__name__)


class _Quiet:
    """yt-dlp's logger: keep its chatter out of our logs, remember the last error."""

    def __init__(self) -> None:
        self.last_error = ""

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        self.last_error = msg


def classify_ytdlp_error(text: str, proxy: ProxySpec | None) -> ForwarderError:
    """Turn yt-dlp's error text into the taxonomy (yt-dlp only gives words)."""
    low = text.lower()
    short = text.removeprefix("ERROR: ")[:300]
    if proxy is not None and ("proxy" in low or "407" in low or "socks" in low):
        return TransientError(f"Proxy {proxy.label} failed during the download: {short}",
                              code=ErrorCode.PROXY_ERROR)
    if "sign in to confirm" in low or "not a bot" in low or ("age" in low and "confirm" in low):
        return AuthError(f"YouTube wants a signed-in session for this video: {short}",
                         code=ErrorCode.LOGIN_REQUIRED,
                         hint="Give the connection a cookies.txt exported from a logged-in browser.")
    if "private video" in low or "unavailable" in low or "404" in low or "has been removed" in low:
        return NotFound(f"The video cannot be downloaded: {short}")
    if "429" in low or "too many requests" in low:
        return TransientError(f"YouTube is rate limiting downloads: {short}", code=ErrorCode.API_RATE_LIMIT,
                              retry_after=600)
    if "timed out" in low or "timeout" in low:
        return TransientError(f"The download timed out: {short}", code=ErrorCode.NETWORK_TIMEOUT)
    if "no video formats" in low or "requested format is not available" in low:
        return MediaError(f"No downloadable video format: {short}", code=ErrorCode.UNSUPPORTED_CODEC)
    return TransientError(f"The download failed: {short}")


async def download_with_ytdlp(
    url: str,
    dest_dir: Path,
    *,
    name: str,
    proxy: ProxySpec | None = None,
    cookies_file: Path | None = None,
    ffmpeg: str | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 - yt-dlp's socket timeout, not a deadline for this call
    progress: Progress | None = None,
) -> DownloadedFile:
    """Download ``url`` into ``dest_dir/<name>.mp4`` and describe the file."""
    await asyncio.to_thread(dest_dir.mkdir, parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    logger = _Quiet()

    report = progress_from_thread(loop, progress)

    def hook(status: dict[str, Any]) -> None:
        if status.get("status") not in ("downloading", "finished"):
            return
        done = int(status.get("downloaded_bytes") or 0)
        report(done, int(status.get("total_bytes") or status.get("total_bytes_estimate") or done))

    options: dict[str, Any] = {
        "outtmpl": str(dest_dir / f"{name}.%(ext)s"),
        "format": "bv*[ext=mp4]+ba[ext=m4a]/b[ext=mp4]/bv*+ba/b",
        "merge_output_format": "mp4",
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "socket_timeout": timeout,
        "retries": 2,
        "logger": logger,
        "progress_hooks": [hook],
        # An empty proxy disables proxies from the environment: the account's choice wins.
        "proxy": ytdlp_proxy(proxy) if proxy else "",
        "overwrites": True,
    }
    if cookies_file is not None:
        options["cookiefile"] = str(cookies_file)
    if ffmpeg:
        options["ffmpeg_location"] = ffmpeg

    def run() -> Path:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=True)
            if info is None:
                raise DownloadError("yt-dlp returned no information")
            downloads = info.get("requested_downloads") or [{}]
            return Path(downloads[0].get("filepath") or ydl.prepare_filename(info))

    try:
        path = await asyncio.to_thread(run)
    except DownloadError as exc:
        raise classify_ytdlp_error(logger.last_error or str(exc), proxy) from None
    except OSError as exc:
        raise TransientError(f"The download could not be written: {exc.strerror or exc}") from None
    if not path.exists() or path.stat().st_size == 0:
        raise MediaError(f"yt-dlp produced no file for {url}", code=ErrorCode.VIDEO_CORRUPT)
    return await asyncio.to_thread(DownloadedFile.of, path)
