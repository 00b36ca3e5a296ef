"""One proxy description rendered for every client library, a health check, and error mapping.

Proxy types (specification §4.4.1: HTTP, HTTPS, SOCKS5):

* ``http``   an HTTP proxy; every library tunnels through it with ``CONNECT``
  (aiohttp-socks always does; requests/httplib2 forward plain-http requests instead).
* ``https``  what proxy vendors sell as an "HTTPS proxy": an HTTP proxy that tunnels HTTPS
  with ``CONNECT``. The connection *to the proxy* is plain TCP, the way requests treated
  ``https://`` proxy URLs before urllib3 1.26; TLS to the proxy itself is not supported.
  So it renders exactly like ``http``.
* ``socks5`` SOCKS5, always with remote DNS: the proxy resolves target names, so lookups
  neither leak the server's location nor fail where only the proxy can resolve.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
import httplib2
from aiohttp_socks import ProxyConnectionError, ProxyConnector, ProxyError, ProxyTimeoutError, ProxyType

from core.errors import ErrorCode, TransientError
from core.models import Proxy

TYPES = ("http", "https", "socks5")
# Schemes accepted when parsing; socks5h is socks5 (we always resolve on the proxy).
_SCHEMES = {"http": "http", "https": "https", "socks5": "socks5", "socks5h": "socks5", "socks": "socks5"}
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_FORMATS = "type://user:pass@host:port, host:port or host:port:user:pass"


class ProxyInputError(ValueError):
    """The admin typed a proxy field that cannot work; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _shown(value: object, limit: int = 40) -> str:
    """A typed value quoted back in a message, cut short."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _check_host(host: str) -> str:
    host = host.strip().strip("[]").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.rstrip(".")
    labels = name.split(".")
    # An all-digit last label is a mistyped IPv4 address (999.1.1.1), never a host name.
    if name and len(name) <= 253 and all(_LABEL.fullmatch(label) for label in labels) \
            and not labels[-1].isdigit():
        return name
    raise ProxyInputError("host", f"host '{_shown(host)}' is not a hostname or an IP address")


def parse_port(port: int | str) -> int:
    """A port as typed by the admin, checked to be 1-65535."""
    text = str(port).strip()
    if not re.fullmatch(r"-?[0-9]+", text):  # not int(): it takes '8_0', '+80' and other scripts' digits
        raise ProxyInputError("port", f"port must be a number, got '{_shown(port)}'")
    number = int(text)
    if not 1 <= number <= 65535:
        raise ProxyInputError("port", f"port must be 1-65535, got {number}")
    return number


def _check_type(kind: str) -> str:
    value = str(kind).strip().lower()
    if value not in TYPES:
        raise ProxyInputError("type", f"type must be one of {', '.join(TYPES)}, got '{_shown(kind)}'")
    return value


@dataclass(frozen=True)
class ProxySpec:
    """A validated proxy: where it is, how to speak to it, and its credentials."""

    type: str
    host: str
    port: int
    username: str | None = field(default=None)
    password: str | None = field(default=None, repr=False)
    alias: str | None = None

    def __post_init__(self) -> None:
        # Frozen: normalise through object.__setattr__ so every spec is valid by construction.
        object.__setattr__(self, "type", _check_type(self.type))
        object.__setattr__(self, "host", _check_host(self.host))
        object.__setattr__(self, "port", parse_port(self.port))
        username = self.username or None
        password = self.password or None
        if password is not None and username is None:
            raise ProxyInputError("username", "a password was given without a username")
        if username is not None and password is None:
            raise ProxyInputError("password", "a username was given without a password")
        too_long = username is not None and (len(username) > 255 or len(password or "") > 255)
        if too_long and self.type == "socks5":
            raise ProxyInputError("password", "SOCKS5 usernames and passwords are limited to 255 bytes")
        object.__setattr__(self, "username", username)
        object.__setattr__(self, "password", password)

    @classmethod
    def from_model(cls, proxy: Proxy) -> ProxySpec:
        """The spec of a stored proxy (credentials decrypted by the model's fields)."""
        return cls(
            type=str(proxy.type), host=proxy.host, port=proxy.port,
            username=proxy.username, password=proxy.password, alias=proxy.alias,
        )

    @classmethod
    def parse(cls, text: str, default_type: str = "http", alias: str | None = None) -> ProxySpec:
        """Read ``type://user:pass@host:port``, ``host:port`` or ``host:port:user:pass``."""
        text = text.strip()
        if not text:
            raise ProxyInputError("proxy", f"the proxy is empty; use {_FORMATS}")
        if "://" in text:
            scheme, rest = text.split("://", 1)
            kind = _SCHEMES.get(scheme.lower())
            if kind is None:
                raise ProxyInputError("type",
                                      f"type must be one of {', '.join(TYPES)}, got '{_shown(scheme)}'")
            # rpartition: an unquoted '@' or '/' in the password still parses.
            userinfo, at, hostport = rest.rpartition("@")
            hostport = hostport.split("/", 1)[0]
            user = password = None
            if at:
                raw_user, colon, raw_pass = userinfo.partition(":")
                user, password = unquote(raw_user), (unquote(raw_pass) if colon else None)
            host, port = _split_hostport(hostport)
            return cls(kind, host, parse_port(port), user, password, alias)
        if text.startswith("["):
            host, port = _split_hostport(text)
            return cls(default_type, host, parse_port(port), alias=alias)
        _refuse_bare_ipv6(text)
        parts = text.split(":", 3)
        if len(parts) == 2:
            return cls(default_type, parts[0], parse_port(parts[1]), alias=alias)
        if len(parts) == 4:
            # Vendors' host:port:user:pass lists are not URL-quoted: take them as typed.
            return cls(default_type, parts[0], parse_port(parts[1]), parts[2], parts[3], alias)
        raise ProxyInputError("proxy", f"a proxy needs a host and a port; use {_FORMATS}")

    @property
    def label(self) -> str:
        """How messages name the proxy: its alias, else host:port."""
        return self.alias or self.address

    @property
    def address(self) -> str:
        """host:port, IPv6 in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, scheme: str | None = None) -> str:
        """The proxy as a URL with percent-quoted credentials (contains the password)."""
        auth = ""
        if self.username is not None:
            auth = f"{quote(self.username, safe='')}:{quote(self.password or '', safe='')}@"
        return f"{scheme or self.type}://{auth}{self.address}"

    def __str__(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{self.type}://{user}{self.address}"

    def __repr__(self) -> str:
        return f"ProxySpec({self}, alias={self.alias!r})"


def _refuse_bare_ipv6(text: str) -> None:
    """``2001:db8::1:8080`` is ambiguous (the last group may be the port): ask for brackets."""
    for candidate in (text, text.rpartition(":")[0]):
        try:
            bare = ipaddress.ip_address(candidate).version == 6
        except ValueError:
            continue
        if bare:
            raise ProxyInputError("host", "an IPv6 address needs brackets: [2001:db8::1]:1080")


def _split_hostport(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if bracket and rest.startswith(":"):
            return host, rest[1:]
    else:
        _refuse_bare_ipv6(hostport)
        host, colon, port = hostport.rpartition(":")
        if colon and host:
            return host, port
    raise ProxyInputError("port", f"a proxy needs a host and a port; use {_FORMATS}")


# ---- renderings, one per client library ------------------------------------------------

def aiohttp_connector(spec: ProxySpec, **kwargs: Any) -> aiohttp.BaseConnector:
    """An aiohttp connector that tunnels every request through the proxy (call inside a loop)."""
    # aiohttp-socks refuses https:// and socks5h:// URLs, so build the connector from fields.
    kind = ProxyType.SOCKS5 if spec.type == "socks5" else ProxyType.HTTP
    return ProxyConnector(
        proxy_type=kind, host=spec.host, port=spec.port,
        username=spec.username, password=spec.password, rdns=True, **kwargs,
    )


def requests_proxies(spec: ProxySpec) -> dict[str, str]:
    """The ``proxies`` mapping for a requests session (instagrapi)."""
    # socks5h makes urllib3 (through PySocks, a dependency we rely on) resolve on the proxy.
    url = spec.url("socks5h" if spec.type == "socks5" else "http")
    return {"http": url, "https": url}


def httplib2_proxy_info(spec: ProxySpec) -> httplib2.ProxyInfo:
    """An httplib2 ProxyInfo for googleapiclient; SOCKS5 with remote DNS."""
    socks = httplib2.socks
    kind = socks.PROXY_TYPE_SOCKS5 if spec.type == "socks5" else socks.PROXY_TYPE_HTTP
    return httplib2.ProxyInfo(
        proxy_type=kind, proxy_host=spec.host, proxy_port=spec.port, proxy_rdns=True,
        proxy_user=spec.username, proxy_pass=spec.password,
    )


def ytdlp_proxy(spec: ProxySpec) -> str:
    """yt-dlp's ``proxy`` option; yt-dlp resolves remotely only for ``socks5h://``."""
    return spec.url("socks5h" if spec.type == "socks5" else "http")


# ---- failures ----------------------------------------------------------------------------

def _refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or getattr(seen, "errno", None) == errno.ECONNREFUSED:
            return True
        seen = seen.__cause__ or seen.__context__
    return "refused" in str(exc).lower()


def classify_proxy_failure(exc: BaseException, spec: ProxySpec) -> TransientError:
    """Turn a proxy library exception into a ``proxy_error`` the admin can act on."""
    name = spec.label
    text = str(exc)
    lowered = text.lower()
    status = getattr(exc, "error_code", None) or getattr(exc, "status", None)
    creds_hint = "Check the proxy's username and password under Proxies."
    pysocks = _pysocks_failure(exc, spec, creds_hint)
    if pysocks is not None:
        return pysocks
    if isinstance(exc, ProxyError | aiohttp.ClientHttpProxyError):
        if status == 407 or "authentication failure" in lowered or "authentication method" in lowered:
            if spec.username is None:
                message = f"Proxy {name} requires a username and password ({status or 'auth'})"
            else:
                message = f"Proxy {name} rejected the username/password ({status or 'auth'})"
            return _proxy_error(message, exc, creds_hint)
        if isinstance(exc, aiohttp.ClientHttpProxyError) or status:
            return _proxy_error(f"Proxy {name} answered {status or text} instead of connecting", exc)
        return _proxy_error(f"Proxy {name} broke the proxy protocol: {text}", exc)
    if isinstance(exc, asyncio.IncompleteReadError | ConnectionResetError):
        # Some SOCKS5 servers (pproxy among them) hang up instead of replying "auth failed".
        protocol = "SOCKS5" if spec.type == "socks5" else "HTTP CONNECT"
        cause = ("usually a wrong username/password" if spec.username is not None
                 else "it may require a username/password")
        return _proxy_error(f"Proxy {name} closed the connection during the {protocol} handshake ({cause})",
                            exc, creds_hint)
    if isinstance(exc, ProxyTimeoutError | TimeoutError):
        return _proxy_error(f"Proxy {name} did not answer in time", exc)
    if isinstance(exc, ProxyConnectionError | aiohttp.ClientProxyConnectionError | OSError):
        if _refused(exc):
            return _proxy_error(f"Proxy {spec.address} refused the connection", exc)
        return _proxy_error(f"Proxy {name} is unreachable: {text or type(exc).__name__}", exc)
    return _proxy_error(f"Proxy {name} failed: {text or type(exc).__name__}", exc)


def _pysocks_failure(exc: BaseException, spec: ProxySpec, creds_hint: str) -> TransientError | None:
    """PySocks (under httplib2 and requests' SOCKS support) wraps the real failure in ``socket_err``."""
    socks = httplib2.socks
    if not isinstance(exc, socks.ProxyError):
        return None
    inner = exc.socket_err if isinstance(getattr(exc, "socket_err", None), BaseException) else exc
    text = str(inner)
    if isinstance(inner, socks.SOCKS5AuthError) or (isinstance(inner, socks.HTTPError) and "407" in text):
        status = "407" if "407" in text else "auth"
        if spec.username is None:
            return _proxy_error(f"Proxy {spec.label} requires a username and password ({status})", exc,
                                creds_hint)
        return _proxy_error(f"Proxy {spec.label} rejected the username/password ({status})", exc, creds_hint)
    if "closed unexpectedly" in text:
        protocol = "SOCKS5" if spec.type == "socks5" else "HTTP CONNECT"
        cause = ("usually a wrong username/password" if spec.username is not None
                 else "it may require a username/password")
        return _proxy_error(f"Proxy {spec.label} closed the connection during the {protocol} handshake "
                            f"({cause})", exc, creds_hint)
    if isinstance(inner, socks.HTTPError):
        return _proxy_error(f"Proxy {spec.label} answered {text.strip()} instead of connecting", exc)
    if isinstance(inner, ConnectionRefusedError) or _refused(inner):
        return _proxy_error(f"Proxy {spec.address} refused the connection", exc)
    return None


def _proxy_error(message: str, exc: BaseException, hint: str | None = None) -> TransientError:
    error = TransientError(message, code=ErrorCode.PROXY_ERROR, hint=hint,
                           details={"exception": type(exc).__name__})
    error.__cause__ = exc
    return error


# ---- health check ------------------------------------------------------------------------

@dataclass(frozen=True)
class UrlCheck:
    """One target fetched through the proxy: ok with its latency, or the reason it failed."""

    url: str
    ok: bool
    latency_ms: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The specification's per-endpoint shape (§4.4.2)."""
        return {"endpoint": self.url, "result": "success" if self.ok else "failure",
                "latency_ms": self.latency_ms, "error": self.error}


@dataclass(frozen=True)
class ProxyCheck:
    """A health check: per-URL results, overall ok when every URL passed, average latency."""

    results: tuple[UrlCheck, ...]
    checked_at: datetime

    @property
    def ok(self) -> bool:
        """Every target answered through the proxy."""
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def average_latency_ms(self) -> int | None:
        """Mean latency of the targets that answered."""
        values = [r.latency_ms for r in self.results if r.latency_ms is not None]
        return round(sum(values) / len(values)) if values else None

    @property
    def error(self) -> str | None:
        """The first failure's reason, for one-line messages."""
        return next((f"{r.url}: {r.error}" for r in self.results if not r.ok), None)

    def to_dict(self) -> dict[str, Any]:
        """The specification's health-check response body (§4.4.2)."""
        return {"health_status": "healthy" if self.ok else "unhealthy",
                "tests": [r.to_dict() for r in self.results],
                "average_latency_ms": self.average_latency_ms,
                "last_checked": self.checked_at.isoformat()}


async def _check_one(spec: ProxySpec, url: str, timeout: float) -> UrlCheck:  # noqa: ASYNC109
    client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=timeout)
    started = time.perf_counter()
    try:
        # A fresh connector per URL so each latency includes the proxy handshake.
        connector = aiohttp_connector(spec)
        async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
            async with session.get(url, allow_redirects=False) as response:
                latency = round((time.perf_counter() - started) * 1000)
                if response.status >= 500:
                    return UrlCheck(url, False, latency, f"the target answered HTTP {response.status}")
                return UrlCheck(url, True, latency)
    except (TimeoutError, ProxyTimeoutError):
        return UrlCheck(url, False, None, f"timed out after {timeout:g}s")
    except Exception as exc:  # noqa: BLE001 - a failing target is reported, never raised
        return UrlCheck(url, False, None, classify_proxy_failure(exc, spec).message)


# timeout is a per-URL budget handed to aiohttp, not a cancel scope around the whole check.
async def check_proxy(spec: ProxySpec, urls: list[str], *, timeout: float = 10.0) -> ProxyCheck:  # noqa: ASYNC109
    """Fetch each URL through the proxy and report latency or the reason per URL."""
    results = await asyncio.gather(*(_check_one(spec, url, timeout) for url in urls))
    return ProxyCheck(tuple(results), datetime.now(UTC))
