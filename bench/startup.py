"""How fast `forwarder up` becomes healthy and how much memory it holds when idle.

Runs the real command against the fake Bot API on 127.0.0.1 with a fresh DATA_DIR
(first start: migrations included) and again on the same DATA_DIR (warm start).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.redis_embedded import free_port  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def health(port: int) -> int | None:
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/api/health") as resp:
            return resp.status
    except aiohttp.ClientError:
        return None


async def one_run(tg: FakeTelegram, data: Path, label: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, ADMIN_IDS="1001", TELEGRAM_API_BASE=tg.base_url,
               WEB_PORT=str(port), DATA_DIR=str(data), LOG_LEVEL="WARNING")
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "forwarder", "up", env=env, cwd=data.parent,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    while await health(port) != 200:
        if proc.returncode is not None:
            raise SystemExit(f"forwarder up exited with {proc.returncode}")
        await asyncio.sleep(0.02)
    ready = time.monotonic() - started
    await asyncio.sleep(5)  # idle: polling, heartbeats
    redis_pid = int((data / "redis" / "redis.pid").read_text().split()[0])
    up_rss, redis_rss = rss_kib(proc.pid), rss_kib(redis_pid)
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.wait(), 30)
    await asyncio.sleep(0.2)
    orphan = Path(f"/proc/{redis_pid}").exists()
    print(f"{label:<11} start -> health 200: {ready:5.2f} s   idle RSS: forwarder up "
          f"{up_rss / 1024:6.1f} MiB + embedded redis-server {redis_rss / 1024:4.1f} MiB   "
          f"exit {proc.returncode}, redis-server left behind: {'YES' if orphan else 'no'}")


async def main() -> None:
    async with FakeTelegram() as tg:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            await one_run(tg, data, "cold start")
            await one_run(tg, data, "warm start")


if __name__ == "__main__":
    asyncio.run(main())
