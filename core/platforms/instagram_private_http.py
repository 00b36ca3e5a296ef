"""instagrapi's client as this adapter builds it: its own transport, its own login, a stall timeout.

instagrapi 3.x sends every private (mobile API) request through its own curl_cffi adapter: HTTP/2
only, TLS 1.3, no retries (``instagrapi/transports.py``), the transport its maintainers found the
current login needs (https://github.com/subzeroid/instagrapi/issues/2778: over HTTP/1.1 the CAA
login got an empty 429). ``build_client`` keeps that transport and

* sets the proxy with instagrapi's own ``set_proxy`` (the ``proxy`` argument of ``Client``);
* paces private requests with ``delay_range`` (instagrapi's best-practices guide: ``[1, 3]``);
* loads a saved session with ``override_app_version=True``, as instagrapi's login-migration guide
  says for sessions saved by older versions: app version, version code and Bloks hash are
  renewed, the device identifiers kept (``docs/usage-guide/login-migration.md``);
* adds a stall timeout to that same curl session: instagrapi passes no timeout on private calls,
  which curl_cffi reads as "wait forever" (``curl_cffi/requests/utils.py``).

Nothing else is mounted or rewritten for the default API base. ``Redirect`` is a test seam: given
another base (the fakes on 127.0.0.1), it points instagrapi's hard-coded ``https://*.instagram.com``
URLs there, keeping the ``Host`` the app names, while instagrapi's own adapters still do the I/O.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from instagrapi import Client
from requests.adapters import BaseAdapter

DEFAULT_API_BASE = "https://i.instagram.com"
DEFAULT_WEB_BASE = "https://www.instagram.com"
# instagrapi's best-practices guide: "adds a random delay between 1 and 3 seconds after each request"
# (docs/usage-guide/best-practices.md, "Add Delays").
DEFAULT_DELAY_RANGE: tuple[float, float] = (1.0, 3.0)

# Settings instagrapi stores in its session dict that choose transport and pacing, not identity:
# dropped on load (so the constructor's choices below apply; a session saved with an explicit
# private_transport would otherwise keep it, per the login-migration guide) and on save.
_NOT_RESTORED = (
    "private_transport", "public_transport", "public_transport_impersonate", "request_timeout",
    "public_request_retries_count", "public_request_retries_timeout", "session_retry_total",
    "session_retry_backoff_factor", "session_retry_statuses", "tls_verify",
)
# What a logged-out device keeps: everything except the login itself.
_LOGIN_STATE = ("cookies", "authorization_data", "last_login", "ig_u_rur", "ig_www_claim")
# instagrapi logs every private answer's body at DEBUG (mixins/private.py), and the CAA login's body
# carries the session itself (the authorization header and the sessionid and csrftoken cookies, in
# the Bloks action): its client logs through this logger, which never passes DEBUG on.
CLIENT_LOG = logging.getLogger("instagrapi.client")
CLIENT_LOG.setLevel(logging.INFO)


def _is_instagram(host: str) -> bool:
    return host == "instagram.com" or host.endswith(".instagram.com")


def is_instagram_base(api_base: str | None) -> bool:
    """Whether ``api_base`` is Instagram itself (``None`` too): instagrapi then runs as it is."""
    if not api_base:
        return True
    parts = urlsplit(api_base.rstrip("/"))
    return (parts.scheme == "https" and _is_instagram(parts.hostname or "") and not parts.path
            and not parts.port)


def proxy_url(proxies: dict[str, str] | None) -> str | None:
    """The one proxy URL ``Client(proxy=...)`` / ``set_proxy`` takes."""
    return (proxies or {}).get("https") or None


def build_client(settings: dict[str, Any] | None, *, proxy: str | None,
                 delay_range: tuple[float, float] | None, timeout: float,
                 redirect: Redirect | None = None) -> Client:
    """An instagrapi client on its default transport, optionally restored from a saved session."""
    restored = {k: v for k, v in (settings or {}).items() if k not in _NOT_RESTORED}
    client = Client(
        settings=restored, proxy=proxy, delay_range=list(delay_range) if delay_range else None,
        logger=CLIENT_LOG,
        # Challenges raise, so the service pauses the account and asks the admin.
        with_challenge_flow=False,
        # Old sessions renew their app profile and keep their device (login-migration guide).
        override_app_version=True,
        # A fixed sleep before each private call on top of delay_range (instagrapi's default 1 s).
        request_timeout=0,
        # The public session's own retries (a requests Retry on 429/5xx, POSTs included): jobs retry
        # with backoff themselves, and a repeated POST could publish twice.
        session_retry_total=0,
    )
    if proxy:
        for session in (client.private, client.public, client.graphql):
            # Environment proxies and NO_PROXY must not route around the configured proxy.
            session.trust_env = False
    _stall_timeout(client, timeout)
    if redirect is not None:
        redirect.install(client)
    return client


def _stall_timeout(client: Client, timeout: float) -> None:
    """Give up on a private request that connects or moves no byte for ``timeout`` seconds.

    Set on instagrapi's own curl session (``curl_options`` is where instagrapi itself sets per-call
    curl options, and where its wire tests set theirs): a total timeout would cut long uploads.
    """
    adapter = client.private.get_adapter(DEFAULT_API_BASE + "/")
    session = getattr(getattr(adapter, "inner", adapter), "client", None)
    options = getattr(session, "curl_options", None)
    if options is None:
        return
    from curl_cffi import CurlOpt

    options[CurlOpt.CONNECTTIMEOUT_MS] = max(int(timeout * 1000), 1)
    options[CurlOpt.LOW_SPEED_LIMIT] = 1
    options[CurlOpt.LOW_SPEED_TIME] = max(math.ceil(timeout), 1)


class Redirect:
    """Test seam: sends instagrapi's Instagram URLs to another base (the fakes on 127.0.0.1).

    Only ever built for a base that is not Instagram (``is_instagram_base``). The I/O stays with the adapters
    instagrapi mounted (its curl_cffi one on the private session); a plain ``http://`` base is
    spoken to over HTTP/1.1, as instagrapi's own wire tests switch that curl session's
    ``http_version`` (tests/regression/test_private_transport_wire.py).
    """

    def __init__(self, api_base: str) -> None:
        parts = urlsplit(api_base.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the Instagram API base must be an http(s) URL, got {api_base!r}")
        if is_instagram_base(api_base):
            raise ValueError("an Instagram API base needs no redirect")
        self.scheme, self.netloc, self.prefix = parts.scheme, parts.netloc, parts.path

    def __call__(self, url: str) -> str:
        """The URL to connect to for ``url``."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not _is_instagram(parts.hostname or ""):
            return url  # media URLs come from responses and already point where they should
        return urlunsplit((self.scheme, self.netloc, self.prefix + parts.path, parts.query, parts.fragment))

    def install(self, client: Client) -> None:
        """Wrap the adapters instagrapi mounted (idempotent: ``init()`` re-mounts the public one)."""
        for session in (client.private, client.public, client.graphql):
            wrapped: dict[int, Redirected] = {}  # instagrapi mounts one adapter for both prefixes
            for prefix in ("https://", "http://"):
                adapter = session.adapters.get(prefix)
                if adapter is None or (isinstance(adapter, Redirected) and adapter.redirect is self):
                    continue
                if id(adapter) not in wrapped:
                    wrapped[id(adapter)] = Redirected(self, adapter)
                session.mount(prefix, wrapped[id(adapter)])


class Redirected(BaseAdapter):
    """One of instagrapi's adapters, sent to the redirect's base (see ``Redirect``)."""

    def __init__(self, redirect: Redirect, inner: BaseAdapter) -> None:
        super().__init__()
        self.redirect, self.inner = redirect, inner
        curl = getattr(inner, "client", None)
        if redirect.scheme == "http" and curl is not None and hasattr(curl, "http_version"):
            from curl_cffi import CurlHttpVersion

            curl.http_version = CurlHttpVersion.V1_1

    def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Any = None) -> Any:
        """Send ``request`` to its redirected URL; the response still names the original."""
        target = self.redirect(request.url or "")
        if target == request.url:
            return self.inner.send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                   proxies=proxies)
        # A copy: requests files cookies under the URL of the request it passed in, so the jar keeps
        # Instagram's domains whatever host really answers. The Host the app names goes along.
        outgoing = request.copy()
        outgoing.url = target
        if "Host" not in outgoing.headers:  # (case-insensitive) instagrapi names it on private calls
            outgoing.headers["Host"] = urlsplit(request.url).netloc
        response = self.inner.send(outgoing, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                   proxies=proxies)
        response.request = request
        response.url = request.url
        return response

    def close(self) -> None:
        self.inner.close()


def saved_settings(client: Client) -> dict[str, Any]:
    """The client's session as stored: identity and login, no transport choices, JSON-safe."""
    settings = client.get_settings()
    for key in _NOT_RESTORED:
        settings.pop(key, None)
    result: dict[str, Any] = json.loads(json.dumps(settings, default=str))
    return result


def device_only(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """A saved session without its login: the same device logs in again."""
    if not settings:
        return None
    return {key: value for key, value in settings.items() if key not in _LOGIN_STATE}


def close_client(client: Client | None) -> None:
    """Close the client's sessions (and so instagrapi's curl session and connection pools)."""
    if client is None:
        return
    for session in (client.private, client.public, client.graphql):
        session.close()
