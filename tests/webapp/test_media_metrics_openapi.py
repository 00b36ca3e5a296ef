"""Signed media links, /metrics and the OpenAPI document."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient, TestServer

from core import crypto
from core.bootstrap import Runtime
from core.models import JobStatus, Proxy, QuotaUsage
from core.platforms.quota import UPLOAD_SUFFIX, pacific_day
from tests.webapp.conftest import Api, connection, job
from webapp.app import create_app, routes_of
from webapp.media import MediaSigner, media_url_for, signer_for


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def forge(signer: MediaSigner, payload: str) -> str:
    """A token with a valid MAC over any payload (what a leaked key would allow)."""
    mac = hmac.new(signer._key, payload.encode(), hashlib.sha256).digest()
    enc = base64.urlsafe_b64encode
    return f"{enc(payload.encode()).decode().rstrip('=')}.{enc(mac).decode().rstrip('=')}"


async def test_signed_links_serve_exactly_one_file_until_expiry(runtime: Runtime, client: TestClient) -> None:
    data = runtime.settings.data_dir.resolve()
    video = data / "jobs" / "7" / "out.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"v" * 100)
    (data / "jobs" / "7" / "other.mp4").write_bytes(b"other")
    url = signer_for(runtime).sign(video, 60)
    assert url.startswith("http://127.0.0.1:8080/media/")
    path = url.removeprefix("http://127.0.0.1:8080")
    resp = await client.get(path)
    assert resp.status == 200 and await resp.read() == video.read_bytes()
    assert resp.content_type == "video/mp4" and "max-age=" in resp.headers["Cache-Control"]
    assert (await client.head(path)).status == 200

    token = path.removeprefix("/media/")
    payload, mac = token.split(".")
    tampered = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(payload + "==").replace(b"out.mp4", b"other.mp4")).decode().rstrip("=")
    for bad in (f"{tampered}.{mac}", f"{payload}.{mac[:-2]}AA", "garbage", f"{payload}.", "a.b.c"):
        resp = await client.get(f"/media/{bad}")
        assert resp.status == 404, bad
        assert (await resp.json())["error"]["code"] == "not_found"

    signer = MediaSigner(data, crypto.derive_key(runtime.keyring, "media-url"), "https://x.test", Clock())
    assert signer.resolve(signer.token(video, 60)) == video
    outside = data.parent / "secret.txt"
    outside.write_text("no")
    (data / "escape").symlink_to(outside)
    later = int(signer.clock()) + 60
    for where in ("../secret.txt", "/etc/passwd", "escape", "jobs/7/missing.mp4", "jobs/7", "jobs/../../x"):
        assert signer.resolve(forge(signer, f"{later}\n{where}")) is None, where
    assert signer.resolve(forge(signer, f"{later}\njobs/7/out.mp4")) == video  # the forge itself works
    try:
        signer.token(outside, 60)
        raise AssertionError("signed a file outside DATA_DIR")
    except ValueError:
        pass
    expiring = signer.token(video, 30)
    signer.clock.now += 31  # type: ignore[attr-defined]
    assert signer.resolve(expiring) is None

    # The key is the runtime's: another key ring's links are worthless here.
    stranger = MediaSigner(data, crypto.derive_key(crypto.KeyRing([crypto.new_key()]), "media-url"), "")
    assert (await client.get(f"/media/{stranger.token(video, 60)}")).status == 404
    real_expired = MediaSigner(data, crypto.derive_key(runtime.keyring, "media-url"), "")
    real_expired.clock = lambda: 0.0  # signed in 1970, long expired
    assert (await client.get(f"/media/{real_expired.token(video, 60)}")).status == 404


def test_media_url_for_the_forward_service(runtime: Runtime) -> None:
    video = runtime.settings.data_dir.resolve() / "jobs" / "1" / "out.mp4"
    assert media_url_for(runtime)(video) is None  # http PUBLIC_BASE_URL: Meta could not fetch it
    https = Runtime(runtime.settings.model_copy(update={"public_base_url": "https://forwarder.example/"}),
                    runtime.keyring, runtime.redis_url, runtime.redis, runtime.services)
    url = media_url_for(https)(video)
    assert url is not None and url.startswith("https://forwarder.example/media/")
    assert signer_for(https).resolve(url.rsplit("/", 1)[1]) is None  # signed, but no such file yet
    os.makedirs(video.parent)
    video.write_bytes(b"x")
    assert signer_for(https).resolve(url.rsplit("/", 1)[1]) == video


async def test_metrics_series_and_access(runtime: Runtime, client: TestClient, api: Api) -> None:
    conn = await connection()
    await job(conn, JobStatus.SUCCESS, step_durations={"download": 2.0, "upload": 4.5},
              finished_at=datetime.now(UTC))
    await job(conn, JobStatus.QUEUED, dead_letter=False)
    await job(conn, JobStatus.FAILED, dead_letter=True)
    await Proxy.create(alias="p", type="http", host="127.0.0.1", port=1, health="unhealthy")
    day = pacific_day()
    await QuotaUsage.create(platform="youtube", project_key="proj-1", day=day, units=7, calls=7)
    await QuotaUsage.create(platform="youtube", project_key="proj-1" + UPLOAD_SUFFIX, day=day, units=2,
                            calls=2)
    await api.post(f"/api/connections/{conn.id}/start")  # enqueues a poll on the ARQ queue
    await runtime.services.health.beat("host:1")

    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await resp.text()
    for line in ('forwarder_jobs{status="success"} 1', 'forwarder_jobs{status="queued"} 1',
                 'forwarder_jobs{status="running"} 0', "forwarder_jobs_dead_letter 1",
                 "forwarder_queue_depth 1", "forwarder_workers_live 1", "forwarder_redis_up 1",
                 'forwarder_step_duration_seconds_avg{step="upload"} 4.5',
                 'forwarder_step_duration_samples{step="download"} 1',
                 'forwarder_youtube_quota_units_used{project="proj-1"} 7',
                 'forwarder_youtube_uploads_used{project="proj-1"} 2',
                 "forwarder_youtube_quota_units_limit 10000",
                 'forwarder_proxies{health="unhealthy"} 1', 'forwarder_connections{status="active"} 1',
                 "# TYPE forwarder_queue_depth gauge"):
        assert line in text.splitlines(), line
    await runtime.services.health.forget("host:1")

    relayed = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status == 403 and (await relayed.json())["error"]["code"] == "forbidden"
    async with TestClient(TestServer(create_app(runtime, metrics_token="s3cret"))) as c:
        headers = {"X-Forwarded-For": "203.0.113.9"}
        assert (await c.get("/metrics", headers={**headers, "Authorization": "Bearer wrong"})).status == 403
        assert (await c.get("/metrics", headers={**headers, "Authorization": "Bearer s3cret"})).status == 200


async def test_openapi_describes_every_route_and_only_those(client: TestClient, api: Api) -> None:
    assert (await client.get("/api/openapi.json")).status == 401
    doc = await api.get("/api/openapi.json")
    assert doc["openapi"] == "3.1.0" and doc["components"]["securitySchemes"]["tma"]["in"] == "header"
    described = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    registered = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        registered.add((route.method, path))
    assert described == registered
    assert len(registered) == len(routes_of()) + 1  # + HEAD /media/{token}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if op["security"]:
                assert {"401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            queried = any(p["in"] == "query" for p in op.get("parameters", []))
            if op["security"] and ("requestBody" in op or queried):
                assert "422" in codes, (method, path)
    jobs = doc["paths"]["/api/jobs"]["get"]
    assert {p["name"] for p in jobs["parameters"]} == {"limit", "offset", "connection_id", "status", "since",
                                                      "dead_letter"}
    assert doc["paths"]["/api/connections"]["post"]["responses"]["201"]
    assert doc["paths"]["/api/health"]["get"]["security"] == []
    assert len({op["operationId"] for ops in doc["paths"].values() for op in ops.values()}) == len(described)
