"""Builds the adapter for an account: the one place that knows which class serves which account.

Every base URL comes from settings; credentials come from the account row (decrypted on
read, encrypted on write) through ``AccountCredentials``. The caller closes what it gets
(``async with factory.source(account, proxy) as source``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from core.errors import AuthError, ErrorCode
from core.models import Account, AuthMethod, Platform
from core.platforms.base import AccountCredentials, CodeProvider, CredentialStore, Destination, Source
from core.platforms.proxy import ProxySpec
from core.platforms.quota import DEFAULT_DAILY_UNITS, DEFAULT_DAILY_UPLOADS, QuotaLedger

if TYPE_CHECKING:
    from core.settings import Settings


class PlatformFactory:
    """Adapters for accounts, configured from settings."""

    def __init__(self, settings: Settings, quota: QuotaLedger, *, graph_poll_interval: float | None = None,
                 youtube_chunk_size: int | None = None, instagram_configure_wait: float = 10.0,
                 youtube_daily_units: int = DEFAULT_DAILY_UNITS,
                 youtube_daily_uploads: int = DEFAULT_DAILY_UPLOADS) -> None:
        self.settings = settings
        self.quota = quota
        # None: Meta's documented cadence (the adapter's default); tests pass a short one.
        self.graph_poll_interval = graph_poll_interval
        # instagrapi waits this long for Instagram to transcode before configuring a clip.
        self.instagram_configure_wait = instagram_configure_wait
        # Budgets per Google project and Pacific day (the admin's quota settings).
        self.youtube_daily_units = youtube_daily_units
        self.youtube_daily_uploads = youtube_daily_uploads
        self.youtube_chunk_size = youtube_chunk_size

    def _adapter(self, account: Account, proxy: ProxySpec | None, store: CredentialStore,
                 code_provider: CodeProvider | None, role: str) -> Any:
        s = self.settings
        if account.platform == Platform.YOUTUBE:
            from core.platforms.youtube import YouTubeSource
            from core.platforms.youtube_client import YouTubeClient
            from core.platforms.youtube_upload import YouTubeDestination

            client = YouTubeClient(
                store, api_base=s.youtube_api_base, token_uri=s.google_token_uri, proxy=proxy,
                quota=self.quota, project_key=(account.profile or {}).get("project_key"),
                daily_units=self.youtube_daily_units, daily_uploads=self.youtube_daily_uploads,
            )
            # The store also holds the optional cookies.txt ("cookies_txt") yt-dlp downloads with.
            source = YouTubeSource(client, channel_id=account.external_id, web_base=s.youtube_web_base,
                                   proxy=proxy, ffmpeg=s.ffmpeg_binary, credentials=store)
            if role == "source":
                return source
            kwargs: dict[str, Any] = {"web_base": s.youtube_web_base, "source": source}
            if self.youtube_chunk_size:
                kwargs["chunk_size"] = self.youtube_chunk_size
            return YouTubeDestination(client, **kwargs)
        if account.auth_method == AuthMethod.GRAPH_API:
            from core.platforms.instagram_graph import InstagramGraphAdapter

            pace: dict[str, Any] = {}
            if self.graph_poll_interval is not None:
                pace["poll_interval"] = self.graph_poll_interval
            return InstagramGraphAdapter(store, api_base=s.graph_api_base,
                                         instagram_base=s.instagram_graph_api_base,
                                         upload_base=s.graph_upload_base, version=s.graph_api_version,
                                         proxy=proxy, **pace)
        if account.auth_method == AuthMethod.PRIVATE_API:
            from core.platforms.instagram_private import InstagramPrivateAdapter
            from core.platforms.instagram_private_http import is_instagram_base

            fake: dict[str, Any] = {}
            if not is_instagram_base(s.instagram_api_base):
                # Test seam: a base that is not Instagram is a test's fake. instagrapi is pointed at
                # it and not paced (delay_range); for Instagram neither is passed: no rewriting and
                # instagrapi's recommended pacing.
                fake = {"api_base": s.instagram_api_base, "delay_range": None}
            return InstagramPrivateAdapter(store, proxy=proxy, code_provider=code_provider,
                                           ffmpeg=s.ffmpeg_binary,
                                           configure_wait=self.instagram_configure_wait, **fake)
        raise AuthError(f"Account {account.alias} uses {account.auth_method}, which no adapter serves",
                        code=ErrorCode.INVALID_CREDENTIALS)

    @asynccontextmanager
    async def source(self, account: Account, proxy: ProxySpec | None = None,
                     store: CredentialStore | None = None) -> AsyncIterator[Source]:
        """The account as a source, closed on exit."""
        adapter = self._adapter(account, proxy, store or AccountCredentials(account), None, "source")
        try:
            yield adapter
        finally:
            await adapter.aclose()

    @asynccontextmanager
    async def destination(self, account: Account, proxy: ProxySpec | None = None,
                          store: CredentialStore | None = None,
                          code_provider: CodeProvider | None = None) -> AsyncIterator[Destination]:
        """The account as a destination, closed on exit."""
        adapter = self._adapter(account, proxy, store or AccountCredentials(account), code_provider,
                                "destination")
        try:
            yield adapter
        finally:
            await adapter.aclose()
