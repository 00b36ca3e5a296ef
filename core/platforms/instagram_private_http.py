"""HTTP plumbing for instagrapi: one requests transport on all of its sessions.

instagrapi 3.2 hard-codes ``https://i.instagram.com`` (and ``b.i.``/``www.`` hosts) and
re-mounts its own transport adapters whenever ``init()`` runs (``set_settings`` does).
``InstagramTransport`` is mounted on its three requests sessions (``private``, ``public``,
``graphql``) after every such re-mount and

* sends every Instagram URL to the configured base (identity for the default base),
* forces the configured proxy on every request, whatever the session's own settings,
* applies a timeout (instagrapi passes none on private calls),
* never retries on its own: a repeated POST could publish a video twice,
* speaks SOCKS with urllib3's own manager even after yt-dlp patched requests' one.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from instagrapi import Client
from requests.adapters import HTTPAdapter
from requests.utils import get_auth_from_url
from urllib3.contrib.socks import SOCKSProxyManager

DEFAULT_API_BASE = "https://i.instagram.com"
DEFAULT_WEB_BASE = "https://www.instagram.com"

# Settings instagrapi stores in its session dict that decide transport, not identity; they are
# forced on load and dropped on save so a stored session can never switch transports.
TRANSPORT_SETTINGS: dict[str, Any] = {
    "private_transport": "requests",
    "public_transport": "requests",
    # instagrapi sleeps request_timeout seconds before each private call; jobs pace themselves.
    "request_timeout": 0,
    "session_retry_total": 0,
}
_DROPPED_ON_SAVE = (
    *TRANSPORT_SETTINGS, "public_transport_impersonate", "public_request_retries_count",
    "public_request_retries_timeout", "session_retry_backoff_factor", "session_retry_statuses",
    "tls_verify",
)
# What a logged-out device keeps: everything except the login itself.
_LOGIN_STATE = ("cookies", "authorization_data", "last_login", "ig_u_rur", "ig_www_claim")


def _is_instagram(host: str) -> bool:
    return host == "instagram.com" or host.endswith(".instagram.com")


class HostRewrite:
    """Maps instagrapi's hard-coded Instagram URLs onto the configured API base."""

    def __init__(self, api_base: str) -> None:
        parts = urlsplit(api_base.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the Instagram API base must be an http(s) URL, got {api_base!r}")
        self.scheme, self.netloc, self.prefix = parts.scheme, parts.netloc, parts.path
        self.identity = api_base.rstrip("/") == DEFAULT_API_BASE

    def __call__(self, url: str) -> str:
        """The URL to connect to for ``url``."""
        if self.identity:
            return url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not _is_instagram(parts.hostname or ""):
            return url  # CDN media URLs come from responses and already point where they should
        return urlunsplit((self.scheme, self.netloc, self.prefix + parts.path, parts.query, parts.fragment))


class InstagramTransport(HTTPAdapter):
    """A requests adapter that rewrites Instagram hosts, forces the proxy and a timeout."""

    def __init__(self, rewrite: HostRewrite, proxies: dict[str, str] | None, timeout: float) -> None:
        super().__init__(max_retries=0)
        self.rewrite = rewrite
        self.proxies = dict(proxies) if proxies else None
        self.timeout = timeout

    def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Any = None) -> Any:
        """Send ``request`` to its rewritten URL; the response still names the original."""
        target = self.rewrite(request.url or "")
        outgoing = request
        if target != request.url:
            # A copy: requests files cookies under the URL of the request it passed in, so the
            # session's jar keeps Instagram's domains whatever host we really talk to.
            outgoing = request.copy()
            outgoing.url = target
            if "Host" in outgoing.headers:  # instagrapi pins Host to i.instagram.com
                outgoing.headers["Host"] = urlsplit(target).netloc
        response = super().send(
            outgoing, stream=stream, timeout=self.timeout if timeout is None else timeout,
            verify=verify, cert=cert, proxies=self.proxies if self.proxies else proxies,
        )
        if self.proxies and response.status_code == 407:
            # A plain-http target gets the proxy's own 407 as a response, not an exception.
            response.close()
            raise requests.exceptions.ProxyError(
                "the proxy answered 407 Proxy Authentication Required", request=request, response=response
            )
        if outgoing is not request:
            response.request = request
            response.url = request.url
        return response

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """urllib3's own SOCKS manager, whatever another library patched into requests.

        yt-dlp replaces ``requests.adapters.SOCKSProxyManager`` process-wide when it loads; its
        sockets leak on a failed handshake and its errors read differently.
        """
        if proxy in self.proxy_manager or not proxy.lower().startswith("socks"):
            return super().proxy_manager_for(proxy, **proxy_kwargs)
        username, password = get_auth_from_url(proxy)
        manager = self.proxy_manager[proxy] = SOCKSProxyManager(
            proxy, username=username, password=password, num_pools=self._pool_connections,
            maxsize=self._pool_maxsize, block=self._pool_block, **proxy_kwargs,
        )
        return manager


def mount(client: Client, transport: InstagramTransport) -> None:
    """Put ``transport`` on every requests session of ``client`` (idempotent)."""
    for session in (client.private, client.public, client.graphql):
        if any(session.adapters.get(prefix) is not transport for prefix in ("https://", "http://")):
            session.mount("https://", transport)
            session.mount("http://", transport)
        if transport.proxies:
            # Environment proxies and NO_PROXY must not route around the configured proxy.
            session.trust_env = False
            session.proxies = dict(transport.proxies)


def build_client(settings: dict[str, Any] | None, transport: InstagramTransport) -> Client:
    """A sync instagrapi client on plain requests, optionally restored from saved settings."""
    client = Client(private_transport="requests", with_challenge_flow=False, delay_range=[0, 0],
                    request_timeout=0, session_retry_total=0)
    if transport.proxies:
        client.set_proxy(transport.proxies["https"])
    if settings:
        client.set_settings({**settings, **TRANSPORT_SETTINGS})
    mount(client, transport)
    return client


def saved_settings(client: Client) -> dict[str, Any]:
    """The client's session as stored: identity and login, no transport choices, JSON-safe."""
    settings = client.get_settings()
    for key in _DROPPED_ON_SAVE:
        settings.pop(key, None)
    result: dict[str, Any] = json.loads(json.dumps(settings, default=str))
    return result


def device_only(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """A saved session without its login: the same device logs in again."""
    if not settings:
        return None
    return {key: value for key, value in settings.items() if key not in _LOGIN_STATE}


def close_client(client: Client | None) -> None:
    """Close the client's requests sessions (and so their connection pools)."""
    if client is None:
        return
    for session in (client.private, client.public, client.graphql):
        session.close()
