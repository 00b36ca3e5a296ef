"""The `forwarder` command as a new user runs it: real processes, the fake Bot API."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from core import crypto
from core.redis_embedded import free_port
from tests.fakes.telegram import FakeTelegram, button_texts

FORWARDER = [sys.executable, "-m", "forwarder"]
TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"
ADMIN, STRANGER = 1001, 4242


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "ADMIN_", "DATABASE_", "REDIS_", "SECRET_", "WEB_"))}
    env.update({"DATA_DIR": str(data_dir), "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


async def _run(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *FORWARDER, *args, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_every_command_has_help(tmp_path: Path) -> None:
    for command in ("up", "bot", "worker", "web", "migrate", "rotate-keys", "check"):
        code, out, err = await _run(command, "--help", env=_env(tmp_path), cwd=tmp_path)
        assert code == 0, err
        assert f"usage: forwarder {command}" in out


@pytest.mark.parametrize(("env", "needle"), [
    ({"ADMIN_IDS": "1"}, "@BotFather"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN}, "ADMIN_IDS: is not set"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": "1", "WEB_PORT": "eighty"}, "WEB_PORT"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": "1",
      "DATABASE_URL": "postgres://u:pw@127.0.0.1:1/db"}, "DATABASE_URL: cannot connect"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": "1",
      "REDIS_URL": "redis://127.0.0.1:1/0"}, "REDIS_URL: no Redis answers"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": "1",
      "GOOGLE_AUTH_URI": "http://accounts.google.com/o/oauth2/auth"}, "GOOGLE_AUTH_URI: 'http://accounts"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": "1",
      "GRAPH_API_BASE": "http://graph.facebook.com"}, "plain http to a host other than this machine"),
])
async def test_configuration_mistakes_are_one_clear_line(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    data = tmp_path / "data"
    code, out, err = await _run("up", env=_env(data, **env), cwd=tmp_path)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert "pw@" not in err  # no password echoed
    assert not crypto.key_file_path(data).exists()  # nothing written half-way


async def test_migrate_check_and_rotate_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data, TELEGRAM_BOT_TOKEN=TOKEN, ADMIN_IDS="1")
    code, out, err = await _run("migrate", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "up to date" in out and (data / "forwarder.sqlite3").exists()
    code, out, err = await _run("check", env=env, cwd=tmp_path)
    assert code == 0, out + err
    for name in ("config", "keys", "database", "redis", "ffmpeg", "yt-dlp JS runtime", "GRAPH_API_BASE",
                 "INSTAGRAM_GRAPH_API_BASE", "GRAPH_UPLOAD_BASE"):
        assert f"] {name}" in out
    before = crypto.read_key_file(crypto.key_file_path(data))
    code, out, err = await _run("rotate-keys", env=env, cwd=tmp_path)
    assert code == 0, err
    after = crypto.read_key_file(crypto.key_file_path(data))
    assert len(after) == 2 and after[1] == before[0]
    code, out, err = await _run("check", env=_env(data), cwd=tmp_path)
    assert code == 1 and "[FAIL] config" in out


async def _get_health(port: int) -> int | None:
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/api/health") as resp:
            return resp.status
    except aiohttp.ClientError:
        return None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_up_serves_health_answers_the_admin_and_stops_clean(
    tmp_path: Path, sig: signal.Signals
) -> None:
    data, port = tmp_path / "data", free_port()
    async with FakeTelegram() as tg:
        env = _env(data, TELEGRAM_BOT_TOKEN=TOKEN, ADMIN_IDS=str(ADMIN), TELEGRAM_API_BASE=tg.base_url,
                   WEB_PORT=str(port))
        proc = await asyncio.create_subprocess_exec(
            *FORWARDER, "up", env=env, cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            status = None
            for _ in range(600):
                status = await _get_health(port)
                if status == 200 or proc.returncode is not None:
                    break
                await asyncio.sleep(0.1)
            assert status == 200
            redis_pid = int((data / "redis" / "redis.pid").read_text().split()[0])

            await tg.wait_for("setMyCommands", timeout=20)
            mark = len(tg.calls)
            tg.send_message(STRANGER, "/start")
            tg.send_message(ADMIN, "/start")
            menu = await tg.wait_for("sendMessage", lambda c: c.params["chat_id"] == ADMIN,
                                     after=mark, timeout=20)
            assert any("Connections" in t for t in button_texts(menu.result))
            to_stranger = [c for c in tg.calls_of("sendMessage") if c.params["chat_id"] == STRANGER]
            assert len(to_stranger) == 1 and not button_texts(to_stranger[0].result)
        finally:
            if proc.returncode is None:
                proc.send_signal(sig)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert TOKEN not in err.decode() and TOKEN.split(":")[1] not in err.decode()
        await asyncio.sleep(0.2)
        assert not Path(f"/proc/{redis_pid}").exists(), "redis-server outlived `forwarder up`"


async def test_an_unreadable_key_file_is_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    crypto.key_file_path(data).mkdir(parents=True)
    code, out, err = await _run("migrate", env=_env(data), cwd=tmp_path)
    assert code == 2 and "Traceback" not in err
    assert "DATA_DIR: the key file" in err and "cannot be read" in err
    assert not (data / "forwarder.sqlite3").exists()
