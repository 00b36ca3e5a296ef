"""Stream a Reel's video from Instagram's CDN through the account's proxy (aiohttp).

instagrapi's own ``video_download_by_url`` uses a bare ``requests.get`` that ignores the
proxy; this session always goes through it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

from core.errors import ErrorCode, ForwarderError, TransientError
from core.platforms.base import DownloadedFile, Progress
from core.platforms.proxy import ProxySpec, aiohttp_connector, classify_proxy_failure

CHUNK = 256 * 1024
_PROXY_FAILURES = (ProxyError, ProxyConnectionError, ProxyTimeoutError, aiohttp.ClientProxyConnectionError,
                   aiohttp.ClientHttpProxyError, asyncio.IncompleteReadError, ConnectionResetError)
USER_AGENT = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36"


class UrlExpired(Exception):
    """The CDN refused a signed media URL (they expire): ask Instagram for a fresh one."""


def _cleanup(path: Path) -> None:
    path.unlink(missing_ok=True)


class MediaDownloader:
    """One aiohttp session (proxied when a proxy is set) for media files."""

    def __init__(self, proxy: ProxySpec | None, timeout: float) -> None:
        self.proxy = proxy
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp_connector(self.proxy) if self.proxy else aiohttp.TCPConnector()
            # No total limit: a long video may take minutes; a stalled socket may not.
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=self.timeout)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                                  headers={"User-Agent": USER_AGENT})
        return self._session

    async def aclose(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str, target: Path, progress: Progress | None = None) -> DownloadedFile:
        """Download ``url`` to ``target`` (via ``target.part``, renamed when complete)."""
        part = target.with_name(target.name + ".part")
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        try:
            await self._stream(url, part, progress)
        except BaseException as exc:
            await asyncio.to_thread(_cleanup, part)
            if isinstance(exc, UrlExpired | ForwarderError) or not isinstance(exc, Exception):
                raise
            raise self._error(exc) from None
        await asyncio.to_thread(part.replace, target)
        return await asyncio.to_thread(DownloadedFile.of, target)

    async def _stream(self, url: str, part: Path, progress: Progress | None) -> None:
        async with self._http().get(url) as response:
            if response.status in (403, 404, 410):
                raise UrlExpired(str(response.status))
            if response.status == 429:
                raise TransientError("Instagram's CDN is rate limiting downloads",
                                     code=ErrorCode.API_RATE_LIMIT)
            if response.status >= 400:
                raise TransientError(f"Instagram's CDN answered HTTP {response.status}")
            total = response.content_length or 0
            done = 0
            handle = await asyncio.to_thread(part.open, "wb")
            try:
                async for chunk in response.content.iter_chunked(CHUNK):
                    await asyncio.to_thread(handle.write, chunk)
                    done += len(chunk)
                    if progress is not None:
                        await progress(done, max(total, done))
            finally:
                await asyncio.to_thread(handle.close)
        if total and done != total:
            raise TransientError(f"the download stopped after {done} of {total} bytes")

    def _error(self, exc: Exception) -> ForwarderError:
        if self.proxy is not None and isinstance(exc, _PROXY_FAILURES):
            return classify_proxy_failure(exc, self.proxy)
        details = {"exception": type(exc).__name__}
        if isinstance(exc, TimeoutError):
            return TransientError("Instagram's CDN did not answer in time", code=ErrorCode.NETWORK_TIMEOUT,
                                  details=details)
        if isinstance(exc, aiohttp.ClientError | OSError):
            return TransientError("Instagram's CDN is unreachable", details=details)
        return ForwarderError(f"unexpected download error ({type(exc).__name__})",
                              code=ErrorCode.INTERNAL_ERROR, details=details)
