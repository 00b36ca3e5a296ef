"""Downloads through yt-dlp, with the proxy, a cookies file, a JavaScript runtime and progress,
mapped to our errors.

JavaScript runtime. Since 2025.11 yt-dlp solves YouTube's signature and "n" challenges
with an external JavaScript runtime plus the challenge-solver scripts of the
``yt-dlp-ejs`` package (both come with ``yt-dlp[default]`` and the ``deno`` package, see
pyproject.toml); without one it warns "No supported JavaScript runtime could be found"
and YouTube serves only images, so the download ends in "Requested format is not
available" (https://github.com/yt-dlp/yt-dlp/wiki/EJS). The runtime is passed to yt-dlp
explicitly through its ``js_runtimes`` option, ``{name: {"path": binary}}`` (yt-dlp
2026.11.23, ``YoutubeDL.py`` docstring and ``_js_runtimes``; names: deno, node, bun,
quickjs), so a process started as ``.venv/bin/forwarder`` without an activated virtualenv
(``.venv/bin`` not on PATH) uses the binary installed with it. (yt-dlp >= 2026.01.29 also
looks in Python's scripts directory by itself, yt-dlp commit dde5eab "Support Deno
installed via Python package"; older versions, ``pip install --target`` layouts and
user-scheme installs only work with the explicit path.)
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import logging
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.cookies import CookieLoadError
from yt_dlp.utils import DownloadError

from core.errors import AuthError, ErrorCode, ForwarderError, MediaError, NotFound, TransientError
from core.platforms.base import DownloadedFile, Progress, progress_from_thread
from core.platforms.proxy import ProxySpec, ytdlp_proxy
from core.platforms.youtube_cookies import private_cookies_file

log = logging.getLogger(__name__)

EJS_WIKI = "https://github.com/yt-dlp/yt-dlp/wiki/EJS"
# yt-dlp's order of preference (``--js-runtimes`` help, yt-dlp 2026.11.23 options.py): yt-dlp key, binary.
JS_RUNTIMES = (("deno", "deno"), ("node", "node"), ("quickjs", "qjs"), ("bun", "bun"))
RUNTIME_FIX = ('install the project with its dependencies (pip install . brings the "deno" package), '
               'or `pip install "deno>=2.3"` into the same environment, then restart the worker')


@dataclass(frozen=True)
class JsRuntime:
    """The JavaScript runtime handed to yt-dlp: its ``js_runtimes`` key and the binary."""

    name: str
    path: str
    version: str | None = None
    supported: bool | None = None
    """yt-dlp's verdict on the version (deno >= 2.3.0, node >= 22, ...); None when not probed."""


def _executable(path: str | None) -> str | None:
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


@functools.lru_cache(maxsize=1)
def find_js_runtime() -> JsRuntime | None:
    """The runtime yt-dlp should use, found without relying on PATH first.

    1. the ``deno`` package's own locator (``deno.find_deno_bin``, deno 2.9.8
       ``deno/_find_deno.py``: Python's scripts directory, the user scheme, ``--target`` layout);
    2. ``deno`` next to ``sys.executable`` (a virtualenv's ``bin``; the console script's
       interpreter even when the virtualenv is not activated);
    3. deno, node, qjs or bun on PATH, in yt-dlp's order of preference.
    """
    try:
        from deno import find_deno_bin

        if found := _executable(find_deno_bin()):
            return JsRuntime("deno", found)
    except (ImportError, FileNotFoundError, OSError):
        pass
    beside = Path(sys.executable).parent / ("deno.exe" if os.name == "nt" else "deno")
    if found := _executable(str(beside)):
        return JsRuntime("deno", found)
    for name, binary in JS_RUNTIMES:
        if found := _executable(shutil.which(binary)):
            return JsRuntime(name, found)
    return None


def js_runtime_options(runtime: JsRuntime | None = None) -> dict[str, Any]:
    """yt-dlp options naming the runtime explicitly (empty: yt-dlp's default, deno on PATH)."""
    runtime = runtime or find_js_runtime()
    if runtime is None:
        return {}
    return {"js_runtimes": {runtime.name: {"path": runtime.path}}}


def describe_js_runtime() -> JsRuntime | None:
    """The runtime with its version, probed the way yt-dlp probes it (``<binary> --version``
    through yt-dlp's own ``JsRuntime`` classes, registered in ``yt_dlp.globals``)."""
    runtime = find_js_runtime()
    if runtime is None:
        return None
    from yt_dlp.globals import supported_js_runtimes

    probe = supported_js_runtimes.value.get(runtime.name)
    info = probe(path=runtime.path).info if probe else None
    if info is None:
        return JsRuntime(runtime.name, runtime.path, None, False)
    return JsRuntime(runtime.name, runtime.path, info.version, info.supported)


def solver_scripts_version() -> str | None:
    """The installed ``yt-dlp-ejs`` (the challenge-solver scripts yt-dlp runs in the runtime)."""
    try:
        return importlib.metadata.version("yt-dlp-ejs")
    except importlib.metadata.PackageNotFoundError:
        return None


class _Quiet:
    """yt-dlp's logger: keep its chatter out of our logs, remember the last error and the warnings.

    yt-dlp calls ``logger.warning`` even with ``no_warnings`` set when a logger is given
    (``YoutubeDL.report_warning``, yt-dlp 2026.11.23); the JS-runtime trouble shows only there.
    """

    def __init__(self) -> None:
        self.last_error = ""
        self.warnings: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)
        if len(self.warnings) < 20:
            self.warnings.append(msg)

    def error(self, msg: str) -> None:
        self.last_error = msg


# yt-dlp's own words (yt-dlp 2026.11.23): extractor/youtube/_video.py warns NO_RUNTIME when no
# runtime is usable and SOLVING_FAILED when the runtime or the solver scripts failed;
# YoutubeDL.py warns ONLY_IMAGES and raises NO_FORMAT / NO_FORMATS.
NO_RUNTIME = "no supported javascript runtime could be found"
SOLVING_FAILED = ("n challenge solving failed", "signature solving failed")
ONLY_IMAGES = "only images are available for download"
NO_FORMAT = "requested format is not available"
NO_FORMATS = "no video formats found"
COOKIES_HINT = (
    "Add a cookies.txt to this YouTube account from its card (bot: /accounts -> the account -> cookies, "
    "or the Mini App's account page), exported from a browser signed in to YouTube. On a data-centre "
    "server also consider the optional PO-token provider plugin bgutil-ytdlp-pot-provider (README).")


def classify_ytdlp_error(text: str, proxy: ProxySpec | None, warnings: Iterable[str] = ()) -> ForwarderError:
    """Turn yt-dlp's error text (and the warnings before it) into the taxonomy (yt-dlp only gives words)."""
    low = text.lower()
    warned = " | ".join(warnings).lower()
    short = text.removeprefix("ERROR: ")[:300]
    if proxy is not None and ("proxy" in low or "407" in low or "socks" in low):
        return TransientError(f"Proxy {proxy.label} failed during the download: {short}",
                              code=ErrorCode.PROXY_ERROR)
    # "Sign in to confirm you're not a bot" / "... your age" is YouTube's playability reason, which
    # yt-dlp raises with its cookies hint appended (extractor/youtube/_video.py, 'sign in' branch).
    if "sign in to confirm" in low or "not a bot" in low or ("age" in low and "confirm" in low):
        what = "that this is not a bot" if "bot" in low else "the viewer's age"
        return AuthError(f"YouTube wants a signed-in session to confirm {what}: {short}",
                         code=ErrorCode.LOGIN_REQUIRED, hint=COOKIES_HINT)
    if NO_FORMAT in low or NO_FORMATS in low or ONLY_IMAGES in low:
        # Not the video's codec: YouTube withholds the formats when the challenges are not solved.
        if NO_RUNTIME in warned:
            return ForwarderError(
                f"yt-dlp found no JavaScript runtime, so YouTube offered no downloadable format: {short}",
                code=ErrorCode.CONFIGURATION,
                hint=f"yt-dlp needs a JavaScript runtime for YouTube: {RUNTIME_FIX}. See {EJS_WIKI}")
        if any(s in warned for s in SOLVING_FAILED):
            return ForwarderError(
                f"yt-dlp could not solve YouTube's challenges, so no format was offered: {short}",
                code=ErrorCode.CONFIGURATION,
                hint="Install yt-dlp with its default extras (yt-dlp[default] brings the yt-dlp-ejs solver "
                     f"scripts) and update yt-dlp; `forwarder check` shows the runtime. See {EJS_WIKI}")
        return ForwarderError(
            f"YouTube offered no downloadable video format: {short}", code=ErrorCode.CONFIGURATION,
            hint="The JavaScript runtime is missing or yt-dlp needs updating (YouTube changes often): "
                 f"run `forwarder check`, then update yt-dlp[default]. See {EJS_WIKI}")
    if NO_RUNTIME in low:
        return ForwarderError(f"yt-dlp found no JavaScript runtime: {short}", code=ErrorCode.CONFIGURATION,
                              hint=f"yt-dlp needs a JavaScript runtime for YouTube: {RUNTIME_FIX}.")
    if "private video" in low or "unavailable" in low or "404" in low or "has been removed" in low:
        return NotFound(f"The video cannot be downloaded: {short}")
    if "429" in low or "too many requests" in low:
        return TransientError(f"YouTube is rate limiting downloads: {short}", code=ErrorCode.API_RATE_LIMIT,
                              retry_after=600)
    if "timed out" in low or "timeout" in low:
        return TransientError(f"The download timed out: {short}", code=ErrorCode.NETWORK_TIMEOUT)
    return TransientError(f"The download failed: {short}")


async def download_with_ytdlp(
    url: str,
    dest_dir: Path,
    *,
    name: str,
    proxy: ProxySpec | None = None,
    cookies_file: Path | None = None,
    cookies_txt: str | None = None,
    ffmpeg: str | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 - yt-dlp's socket timeout, not a deadline for this call
    progress: Progress | None = None,
    js_runtime: JsRuntime | None = None,
) -> DownloadedFile:
    """Download ``url`` into ``dest_dir/<name>.mp4`` and describe the file.

    ``cookies_txt`` (an account's validated cookies.txt text) is written to a 0600 file in
    ``dest_dir`` for yt-dlp's ``cookiefile`` and removed once yt-dlp has closed (it writes
    the jar back on close, ``YoutubeDL.close``), also after an error.
    """
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
        **js_runtime_options(js_runtime),
    }
    if cookies_file is not None:
        options["cookiefile"] = str(cookies_file)
    if ffmpeg:
        options["ffmpeg_location"] = ffmpeg

    def extract(opts: dict[str, Any]) -> Path:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(url, download=True)
            if info is None:
                raise DownloadError("yt-dlp returned no information")
            downloads = info.get("requested_downloads") or [{}]
            return Path(downloads[0].get("filepath") or ydl.prepare_filename(info))

    def run() -> Path:
        if not cookies_txt:
            return extract(options)
        with private_cookies_file(cookies_txt, dest_dir) as jar:
            return extract({**options, "cookiefile": str(jar)})

    try:
        path = await asyncio.to_thread(run)
    except DownloadError as exc:
        raise classify_ytdlp_error(logger.last_error or str(exc), proxy, logger.warnings) from None
    except CookieLoadError:
        # yt-dlp raises it past its own error handling (YoutubeDL.cookiejar, yt-dlp 2026.11.23). Its
        # text quotes the offending line, a cookie value: it is not repeated here.
        raise AuthError("yt-dlp could not read the account's cookies.txt (not a valid Netscape cookies file)",
                        code=ErrorCode.INVALID_CREDENTIALS,
                        hint="Replace the cookies.txt from the account's card (a fresh Netscape-format "
                             "export from a browser signed in to YouTube).") from None
    except OSError as exc:
        raise TransientError(f"The download could not be written: {exc.strerror or exc}") from None
    if not path.exists() or path.stat().st_size == 0:
        raise MediaError(f"yt-dlp produced no file for {url}", code=ErrorCode.VIDEO_CORRUPT)
    return await asyncio.to_thread(DownloadedFile.of, path)
