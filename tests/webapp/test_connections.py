"""/api/connections: every action changes the database as the service says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from core.models import Account, AccountStatus, Connection, ConnectionStatus, Job, JobStatus
from tests.fakes.platforms import MemoryPlatforms
from tests.webapp.conftest import Api, accounts, connection

SPEC_BODY = {  # specification §4.3.1, ids filled in per test
    "name": "Travel_Insta_to_TechShorts",
    "type": "instagram_to_youtube",
    "filters": {"mode": "forward_all_new", "caption_keywords": [], "include_old_posts": False,
                "date_range": None},
    "schedule": {"type": "continuous", "check_interval_minutes": 5},
    "transform_options": {"upscale": True, "greenscreen": False, "quality": "optimized"},
    "status": "stopped",
}


async def test_create_refuses_with_per_field_messages_then_saves(api: Api) -> None:
    ig, yt = await accounts()
    err = (await api.post("/api/connections", 422, json={**SPEC_BODY, "source_account_id": yt.id,
                                                         "destination_account_id": 999}))["error"]
    assert err["code"] == "invalid_input"
    assert "needs a instagram source" in err["fields"]["source_account_id"]
    assert err["fields"]["destination_account_id"] == "choose an existing destination account"
    assert await Connection.all().count() == 0

    body = await api.post("/api/connections", 201, json={**SPEC_BODY, "source_account_id": ig.id,
                                                         "destination_account_id": yt.id})
    made = body["connection"]
    assert body["status"] == "success" and made["source_account"] == {"id": ig.id, "alias": "insta"}
    assert made["destination_account"] == {"id": yt.id, "alias": "tube"} and made["proxy"] is None
    assert (made["status"], made["total_forwarded"], made["last_run"]) == ("stopped", 0, None)
    row = await Connection.get(id=made["id"])
    assert row.name == SPEC_BODY["name"] and row.transform_options["upscale"] is True

    err = (await api.post("/api/connections", 422, json={**SPEC_BODY, "source_account_id": ig.id,
                                                         "destination_account_id": yt.id}))["error"]
    assert "already exists" in err["fields"]["name"]


async def test_list_get_update_delete(api: Api) -> None:
    first = await connection("a")
    await connection("b", ConnectionStatus.ACTIVE)
    listed = await api.get("/api/connections?limit=1&offset=1")
    assert (listed["total"], [c["name"] for c in listed["connections"]]) == (2, ["b"])
    assert [c["name"] for c in (await api.get("/api/connections?status=active"))["connections"]] == ["b"]
    got = await api.get(f"/api/connections/{first.id}")
    assert got["connection"]["name"] == "a"
    changed = await api.put(f"/api/connections/{first.id}",
                            json={"name": "renamed", "schedule": {"check_interval_minutes": 15}})
    assert changed["connection"]["name"] == "renamed"
    assert (await Connection.get(id=first.id)).schedule["check_interval_minutes"] == 15
    err = (await api.put(f"/api/connections/{first.id}", 422, json={"name": ""}))["error"]
    assert "name" in err["fields"]
    assert (await api.delete(f"/api/connections/{first.id}"))["deleted"] == first.id
    assert not await Connection.exists(id=first.id)
    err = (await api.get(f"/api/connections/{first.id}", 404))["error"]
    assert err == {"code": "not_found", "message": f"Connection {first.id} does not exist"}
    assert (await api.post("/api/connections/9999/start", 404))["error"]["code"] == "not_found"


async def test_lifecycle_start_stop_pause_resume(api: Api, client: TestClient) -> None:
    conn = await connection()
    body = await api.post(f"/api/connections/{conn.id}/start")
    assert body["new_status"] == "active" and body["next_check"]
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.ACTIVE
    await api.post(f"/api/connections/{conn.id}/pause", json={"reason": "holiday"})
    paused = await Connection.get(id=conn.id)
    assert (paused.status, paused.pause_reason) == (ConnectionStatus.PAUSED, "holiday")
    await api.post(f"/api/connections/{conn.id}/resume")
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.ACTIVE
    await api.post(f"/api/connections/{conn.id}/stop")
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.STOPPED

    await Account.filter(alias="tube").update(status=AccountStatus.TOKEN_EXPIRED)
    err = (await api.post(f"/api/connections/{conn.id}/start", 409))["error"]
    assert err["code"] == "conflict" and err["message"].startswith("Cannot start: Youtube account tube")
    assert err["hint"] == "Fix the account under Accounts, then start again."
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.STOPPED


async def test_run_now_queues_the_new_posts(memory_api: Api, memory: MemoryPlatforms) -> None:
    conn = await connection(status=ConnectionStatus.ACTIVE)
    await Connection.filter(id=conn.id).update(cursor={"since": (datetime.now(UTC) - timedelta(hours=1))
                                                       .isoformat()})
    post = memory.world(conn.source_account_id).add_post()  # type: ignore[attr-defined]
    body = await memory_api.post(f"/api/connections/{conn.id}/run")
    assert body["message"] == "1 new post(s) found. Jobs queued for processing."
    [created] = body["jobs_created"]
    assert created["source_post_id"] == post.id
    job = await Job.get(id=created["job_id"])
    assert job.status is JobStatus.QUEUED and job.connection_id == conn.id  # type: ignore[attr-defined]


async def test_dry_run_reports_and_signs_previews(memory_api: Api, memory: MemoryPlatforms) -> None:
    conn = await connection()
    memory.world(conn.source_account_id).add_post(caption="sunset #bali")  # type: ignore[attr-defined]
    body = await memory_api.post(f"/api/connections/{conn.id}/dry-run?limit=1")
    results = body["dry_run_results"]
    assert (results["posts_found"], results["videos_downloaded"]) == (1, 1)
    assert results["destination_validation"] == "passed" and results["issues"] == []
    [preview] = results["previews"]
    assert preview.startswith("http://127.0.0.1:8080/media/")
    resp = await memory_api.client.get(preview.removeprefix("http://127.0.0.1:8080"))
    assert resp.status == 200 and (await resp.read())[:2] == b"\xff\xd8"  # a JPEG
    assert memory.world(conn.destination_account_id).published == []  # type: ignore[attr-defined]
    assert await Job.all().count() == 0
    err = (await memory_api.post("/api/connections/999/dry-run", 404))["error"]
    assert err["code"] == "not_found"
    assert "limit" in (await memory_api.post(f"/api/connections/{conn.id}/dry-run?limit=9", 422))[
        "error"]["fields"]


async def test_create_and_activate(api: Api) -> None:
    ig, yt = await accounts()
    ids = {"source_account_id": ig.id, "destination_account_id": yt.id}
    body = await api.post("/api/connections", 201, json={**SPEC_BODY, **ids, "status": "active"})
    assert body["connection"]["status"] == "active" and "start_refused" not in body
    assert (await Connection.get(id=body["connection"]["id"])).status is ConnectionStatus.ACTIVE

    await Account.filter(id=yt.id).update(status=AccountStatus.REQUIRES_REAUTH, status_reason="revoked")
    body = await api.post("/api/connections", 201, json={**SPEC_BODY, **ids, "name": "second",
                                                         "status": "active"})
    assert body["connection"]["status"] == "stopped"  # saved, but not started, and it says why
    assert body["start_refused"]["code"] == "conflict"
    assert body["start_refused"]["message"] == "Cannot start: Youtube account tube needs attention (revoked)"
    err = (await api.post("/api/connections", 422, json={**SPEC_BODY, **ids, "name": "x", "status": "paused"}
                          ))["error"]
    assert err["fields"] == {"status": "choose active (start at once) or stopped"}
