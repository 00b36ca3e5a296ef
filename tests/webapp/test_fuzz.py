"""Property-based requests generated from /api/openapi.json (schemathesis): no 500, ever.

The app runs in its own process (tests/webapp/fuzz_server.py) with every external endpoint
pointed at a dead loopback port, and the admin's valid initData on every request, so the
generated bodies, paths and query strings reach the views and the services behind them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

SERVER = Path(__file__).with_name("fuzz_server.py")


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, str(SERVER)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("the fuzz server did not start: " + (proc.stderr.read() if proc.stderr else ""))
    yield json.loads(line)
    proc.kill()
    proc.wait(10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def test_no_request_makes_a_server_error(fuzz_server: dict[str, Any]) -> None:
    headers = {"Authorization": fuzz_server["auth"]}
    api = schemathesis.openapi.from_url(f"{fuzz_server['base']}/api/openapi.json", headers=headers)
    failures: list[str] = []
    tried = 0
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def one(case: Any) -> None:
            nonlocal tried
            tried += 1
            response = case.call(base_url=fuzz_server["base"], headers=headers)
            if case.path == "/api/health" and response.status_code == 503:
                return  # the intended answer while no worker runs
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                f"{response.text[:200]}")

        one()
    assert tried > 500 and not failures, (tried, failures[:10])
