"""Every state-changing action, sent twice and ten times at once: exactly one effect.

Four concurrent retries of one dead-lettered job used to create four jobs (and so publish four
reels); ten starts of a paused connection logged ten "started" entries and reset its schedule ten
times. Runs on SQLite and, in CI's server pass, on PostgreSQL (the ``services`` marker).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.models import Account, AccountStatus, Connection, ConnectionStatus, Job, JobStatus, LogEntry
from tests.webapp.conftest import Api, connection, job

TIMES = [2, 10]


async def at_once(api: Api, times: int, method: str, path: str, **kwargs: Any) -> list[tuple[int, Any]]:
    async def one() -> tuple[int, Any]:
        resp = await api.client.request(method, path, headers=api.headers, **kwargs)
        return resp.status, await resp.json()

    return list(await asyncio.gather(*(one() for _ in range(times))))


@pytest.mark.parametrize("times", TIMES)
async def test_retry_of_a_dead_letter_creates_one_job(api: Api, times: int) -> None:
    conn = await connection()
    dead = await job(conn, JobStatus.FAILED, dead_letter=True, attempts=3, error_code="api_rate_limit")
    answers = await at_once(api, times, "POST", f"/api/jobs/{dead.id}/retry")
    children = await Job.filter(parent_id=dead.id)
    assert len(children) == 1, answers
    ok = [body for status, body in answers if status == 200]
    refused = [body for status, body in answers if status != 200]
    assert len(ok) == 1 and ok[0]["job_id"] == children[0].id
    assert {status for status, _ in answers} <= {200, 409}
    assert all(body["error"]["message"] == f"Job {dead.id} was already retried as job {children[0].id}"
               for body in refused)
    assert await LogEntry.filter(job_id=children[0].id).count() == 1


@pytest.mark.parametrize("times", TIMES)
async def test_start_of_a_paused_connection_starts_it_once(api: Api, times: int) -> None:
    conn = await connection(status=ConnectionStatus.PAUSED)
    answers = await at_once(api, times, "POST", f"/api/connections/{conn.id}/start")
    assert all(status == 200 for status, _ in answers), answers
    assert sum(body["changed"] for _, body in answers) == 1
    assert {body["message"] for _, body in answers if not body["changed"]} <= {
        f"Connection '{conn.name}' is already active"}
    assert await LogEntry.filter(connection_id=conn.id, message__contains="started").count() == 1
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.ACTIVE


async def test_start_of_an_active_connection_changes_nothing(api: Api) -> None:
    conn = await connection(status=ConnectionStatus.ACTIVE)
    await Connection.filter(id=conn.id).update(cursor={"since": "2026-01-01T00:00:00+00:00"})
    body = await api.post(f"/api/connections/{conn.id}/start")
    assert body["changed"] is False and body["message"] == f"Connection '{conn.name}' is already active"
    assert await LogEntry.filter(connection_id=conn.id).count() == 0
    row = await Connection.get(id=conn.id)
    assert row.next_check_at is None and row.cursor == {"since": "2026-01-01T00:00:00+00:00"}  # no reset


@pytest.mark.parametrize(("action", "start", "end"), [
    ("pause", ConnectionStatus.ACTIVE, ConnectionStatus.PAUSED),
    ("stop", ConnectionStatus.ACTIVE, ConnectionStatus.STOPPED),
    ("resume", ConnectionStatus.PAUSED, ConnectionStatus.ACTIVE),
])
@pytest.mark.parametrize("times", TIMES)
async def test_connection_lifecycle_actions_take_effect_once(
        api: Api, times: int, action: str, start: ConnectionStatus, end: ConnectionStatus) -> None:
    conn = await connection(status=start)
    answers = await at_once(api, times, "POST", f"/api/connections/{conn.id}/{action}")
    assert all(status == 200 for status, _ in answers), answers
    assert sum(body["changed"] for _, body in answers) == 1
    assert (await Connection.get(id=conn.id)).status is end
    assert await LogEntry.filter(connection_id=conn.id).count() == 1


@pytest.mark.parametrize("times", TIMES)
async def test_captcha_resolved_once(api: Api, times: int) -> None:
    conn = await connection(status=ConnectionStatus.PAUSED)
    account = await Account.get(id=conn.source_account_id)
    await Account.filter(id=account.id).update(status=AccountStatus.CAPTCHA_DETECTED)
    await Connection.filter(id=conn.id).update(pause_reason=f"{account.alias}: captcha detected: x")
    held = await job(conn, JobStatus.CAPTCHA_PENDING)
    answers = await at_once(api, times, "POST", f"/api/accounts/{account.id}/captcha-resolve",
                            json={"resolved": True})
    ok = [body for status, body in answers if status == 200]
    assert len(ok) == 1, answers
    assert ok[0]["jobs_requeued"] == [held.id]
    refused = [body["error"]["message"] for status, body in answers if status != 200]
    # A request that lost the race says it was already solved; one that came after it sees no CAPTCHA.
    assert all("already marked solved" in message or "has no CAPTCHA to resolve (status: active)" in message
               for message in refused)
    solved = LogEntry.filter(account_id=account.id, message__contains="CAPTCHA marked solved")
    assert await solved.count() == 1


@pytest.mark.parametrize("times", TIMES)
async def test_run_now_pressed_at_once_queues_each_new_post_once(memory_api: Api, memory: Any,
                                                                  times: int) -> None:
    from datetime import UTC, datetime, timedelta

    conn = await connection(status=ConnectionStatus.ACTIVE)
    await Connection.filter(id=conn.id).update(
        cursor={"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()})
    memory.world(conn.source_account_id).add_post(published_at=datetime.now(UTC) - timedelta(minutes=5))
    answers = await at_once(memory_api, times, "POST", f"/api/connections/{conn.id}/run")
    assert all(status in (200, 409) for status, _ in answers), answers
    created = [j["job_id"] for status, body in answers if status == 200 for j in body["jobs_created"]]
    assert len(created) == 1 and await Job.filter(connection_id=conn.id).count() == 1
