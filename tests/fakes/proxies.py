"""Real proxy servers and a tiny "internet" on 127.0.0.1 for proxy tests.

``ProxyServers`` runs pproxy (a maintained PyPI proxy server) in a subprocess with one
listener per mode: HTTP and SOCKS5, each with and without username/password. The
subprocess resolves exactly one made-up name, ``target.invalid``, to 127.0.0.1 and
refuses every other name, so

* a request that reaches the target by that name went through the proxy (the test
  process cannot resolve it), and for SOCKS5 it proves DNS was resolved remotely;
* nothing, even a misconfigured client, sends a DNS query or traffic off this machine.

Every lookup of ``target.invalid`` by the proxy is appended to a log file, so a test can
count connections made through the proxy. ``stop()`` kills the proxy mid-test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from core.redis_embedded import free_port

TARGET_HOST = "target.invalid"
USERNAME = "proxyuser"
# Characters that must be quoted in a proxy URL: @ : / % and a space.
PASSWORD = "p@ss:w/rd%20 x"

# Runs inside the proxy subprocess: map TARGET_HOST to loopback, refuse every other name,
# then hand over to pproxy's own command line.
_LAUNCHER = """
import ipaddress, os, socket, sys
_orig = socket.getaddrinfo
_log = os.environ["FAKE_PROXY_LOG"]
def _gai(host, port, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name == os.environ["FAKE_PROXY_TARGET"]:
        with open(_log, "a") as f:
            f.write(name + "\\n")
        return _orig("127.0.0.1", port, *args, **kwargs)
    try:
        ipaddress.ip_address(name)
    except ValueError:
        raise socket.gaierror(socket.EAI_NONAME, "only loopback names resolve in tests")
    return _orig(host, port, *args, **kwargs)
socket.getaddrinfo = _gai
# RFC 7235: the auth scheme is case-insensitive; pproxy wants "Basic", PySocks sends "basic".
from pproxy import proto
_accept = proto.HTTP.http_accept
async def _http_accept(self, user, method, path, authority, ver, lines, host, pauth, *args, **kwargs):
    if pauth and pauth[:6].lower() == "basic ":
        pauth = "Basic " + pauth[6:]
    return await _accept(self, user, method, path, authority, ver, lines, host, pauth, *args, **kwargs)
proto.HTTP.http_accept = _http_accept
from pproxy.server import main
sys.argv = ["pproxy"] + sys.argv[1:]
main()
"""


def refuse_local_dns(monkeypatch: Any) -> list[str]:
    """Make this process resolve only IP literals; return the names it was asked for.

    A client that should resolve on the proxy side but resolves locally then fails, and no
    DNS query leaves the machine.
    """
    asked: list[str] = []
    original = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
        except OSError:
            asked.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"{name} must be resolved by the proxy") from None
        return original(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@dataclass
class ProxyServers:
    """One pproxy subprocess listening as http, http+auth, socks5 and socks5+auth."""

    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="proxy-", suffix=".log")[1]))
    modes: tuple[str, ...] = ("http", "http_auth", "socks5", "socks5_auth")

    def start(self, timeout: float = 10.0) -> ProxyServers:
        """Start the proxy and wait until every listener accepts connections."""
        args: list[str] = ["--auth", "0"]  # pproxy otherwise trusts an IP for 30 days after one login
        for mode in self.modes:
            port = self.ports.setdefault(mode, free_port())
            scheme = mode.removesuffix("_auth")
            auth = f"#{USERNAME}:{PASSWORD}" if mode.endswith("_auth") else ""
            args += ["-l", f"{scheme}://127.0.0.1:{port}{auth}"]
        env = dict(os.environ, FAKE_PROXY_LOG=str(self.log), FAKE_PROXY_TARGET=TARGET_HOST)
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, *args], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        pending = set(self.ports.values())
        while pending:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"pproxy exited with {self.process.returncode}: {err}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pproxy did not listen on {sorted(pending)} within {timeout}s")
            for port in list(pending):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    pending.discard(port)
                except OSError:
                    pass
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Kill the proxy (also usable mid-test to make it die); its ports then refuse."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def close(self) -> None:
        """Stop the proxy and remove its log."""
        self.stop()
        self.log.unlink(missing_ok=True)

    def connections(self) -> int:
        """How many times the proxy resolved the target, i.e. connections it opened to it."""
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0

    def url(self, mode: str, *, with_auth: bool = True) -> str:
        """The proxy URL for ``mode`` (credentials percent-quoted for *_auth modes)."""
        from urllib.parse import quote

        scheme = mode.removesuffix("_auth")
        creds = f"{quote(USERNAME, safe='')}:{quote(PASSWORD, safe='')}@"
        auth = creds if with_auth and mode.endswith("_auth") else ""
        return f"{scheme}://{auth}127.0.0.1:{self.ports[mode]}"


@dataclass
class TargetServer:
    """The tests' internet: answers on 127.0.0.1 and records the Host header of each request."""

    hosts: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> TargetServer:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/", self._ok)
        app.router.add_get("/status/{code}", self._status)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def close(self) -> None:
        """Stop listening and close open connections."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def url(self, path: str = "/") -> str:
        """A URL on the target by the name only the proxy resolves."""
        return f"http://{TARGET_HOST}:{self.port}{path}"

    async def _ok(self, request: web.Request) -> web.Response:
        self.hosts.append(request.host)
        return web.Response(text="hello through the proxy")

    async def _status(self, request: web.Request) -> web.Response:
        self.hosts.append(request.host)
        return web.Response(status=int(request.match_info["code"]), text="status")
