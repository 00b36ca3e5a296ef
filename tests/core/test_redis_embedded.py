from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.redis_embedded import EmbeddedRedis


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_starts_on_a_unix_socket_and_stops(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    url = server.start()
    assert url.startswith("unix://") and server.ping()
    pid = server.pid
    assert pid is not None
    server.stop()
    assert _wait_dead(pid)
    assert not server.socket_path.exists() and not server.pid_file.exists()


def test_a_port_can_be_chosen_but_never_6379(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="6379"):
        EmbeddedRedis(tmp_path, port=6379)
    long_dir = tmp_path / ("x" * 120)  # too long for a unix socket: falls back to a port
    with EmbeddedRedis(long_dir) as server:
        assert server.url.startswith("redis://127.0.0.1:")
        assert ":6379/" not in server.url and server.ping()


CHILD = """
import sys, time
from pathlib import Path
from core.redis_embedded import EmbeddedRedis
server = EmbeddedRedis(Path(sys.argv[1]))
server.start()
print(server.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_no_orphan_when_the_parent_dies(tmp_path: Path, sig: signal.Signals) -> None:
    parent = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    redis_pid = int(parent.stdout.readline())
    assert _alive(redis_pid)
    parent.send_signal(sig)
    parent.wait(10)
    parent.stdout.close()
    assert _wait_dead(redis_pid), f"redis-server {redis_pid} outlived its parent ({sig.name})"


def test_a_survivor_of_an_earlier_run_is_stopped(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path)
    first.start()
    pid = first.pid
    assert pid is not None
    assert first.process is not None and first.process.stderr is not None
    first.process.stderr.close()
    orphan, first.process = first.process, None  # forget it, as a crashed parent would
    second = EmbeddedRedis(tmp_path)
    second.start()
    try:
        assert _wait_dead(pid) and second.ping()
        orphan.wait(5)
    finally:
        second.stop()
