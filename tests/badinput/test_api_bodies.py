"""Hostile JSON against every API route that takes a body, where schemathesis (which follows the
schema) does not go: NaN and Infinity, numbers too large for any column, nesting deeper than a
parser's stack, NUL bytes, wrong types inside the nested rule objects (filters, schedule, ...).

Every answer is a clear 4xx (or a success), never a 500; whatever is refused stores nothing.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.bootstrap import Runtime, build_services
from core.models import (
    Account,
    AuthMethod,
    Connection,
    Direction,
    Job,
    JobStatus,
    Platform,
    Proxy,
    SourcePost,
)
from jobs.queue import ArqQueue
from tests.badinput.support import LONG, snapshot
from tests.webapp.conftest import Api
from webapp.app import create_app, routes_of

DEAD = "http://127.0.0.1:9"  # nothing listens: whatever a request triggers fails at once, locally

# NaN, Infinity and NUL are refused for every route at once (see the raw bodies below).
HOSTILE: list[Any] = [10**30, -(2**63), 1.5, True, None, "", LONG, "٣", [5], {"a": [None]}]
NESTED_HOSTILE: list[Any] = [10**30, -1, True, None, LONG, [5], {"k": 5}]
NESTED: dict[str, tuple[str, ...]] = {
    "filters": ("mode", "caption_keywords", "exclude_keywords", "whole_word", "min_duration", "max_duration",
                "date_range", "include_old_posts", "backfill_cap"),
    "schedule": ("type", "check_interval_minutes", "windows", "timezone"),
    "retry_policy": ("max_attempts", "initial_delay_seconds", "backoff_multiplier", "max_delay_seconds",
                     "retry_on_errors", "no_retry_on_errors"),
    "transform_options": ("upscale", "greenscreen", "quality", "layout", "aspect", "pad_color", "template",
                          "reject_too_long"),
    "metadata_templates": ("title", "description", "caption", "add_hashtags", "remove_hashtags", "privacy",
                           "category_id", "made_for_kids", "notify_subscribers", "tags_from_hashtags"),
    "proxy_policy": ("mode", "pool", "fallback_to_direct", "max_retry_per_proxy", "proxy_id"),
    "general": ("instance_name", "timezone"),
    "retry": ("max_attempts", "initial_delay_seconds", "backoff_multiplier", "retry_on_errors"),
    "retention": ("logs_days", "job_files_days", "notifications_days"),
    "quota": ("youtube_daily_units", "youtube_daily_uploads"),
    "credentials": ("access_token", "token_expiry", "password"),
    "client_secret": ("installed", "web"),
}


@pytest.fixture
async def dead_api(runtime: Runtime) -> AsyncIterator[tuple[Api, dict[str, int]]]:
    """The API over services whose every external endpoint is a dead loopback port, with rows to act on."""
    settings = runtime.settings.model_copy(update={
        "telegram_api_base": DEAD, "youtube_api_base": DEAD + "/", "google_auth_uri": DEAD + "/a",
        "google_token_uri": DEAD + "/t", "youtube_web_base": DEAD, "instagram_api_base": DEAD,
        "graph_api_base": DEAD, "graph_upload_base": DEAD, "instagram_graph_api_base": DEAD,
        "proxy_check_urls": [DEAD],
        "public_base_url": "https://forwarder.example"})
    services = build_services(settings, runtime.keyring, runtime.redis, ArqQueue(runtime.redis))
    dead = dataclasses.replace(runtime, settings=settings, services=services)
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    conn = await Connection.create(name="c1", direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=src,
                                   destination_account=dst)
    post = await SourcePost.create(connection=conn, source_post_id="p1")
    job = await Job.create(connection=conn, source_post=post, status=JobStatus.FAILED, dead_letter=True)
    proxy = await Proxy.create(alias="p1", type="http", host="127.0.0.1", port=9)
    ids = {"connections": conn.id, "accounts": src.id, "jobs": job.id, "proxies": proxy.id}
    async with TestClient(TestServer(create_app(dead))) as c:
        yield Api(c), ids


def _path(path: str, ids: dict[str, int]) -> str:
    area = path.split("/")[2]
    return re.sub(r"\{id(:[^}]+)?\}", str(ids.get(area, 1)), path)


def _bodies(route_body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in route_body.get("properties", {}):
        out += [{name: value} for value in HOSTILE]
        for sub in NESTED.get(name, ()):
            out += [{name: {sub: value}} for value in NESTED_HOSTILE]
    return out


async def _send(api: Api, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    resp = await api.client.request(method, path, data=io.BytesIO(raw) if len(raw) > 1_000_000 else raw,
                                    headers={**api.headers, "Content-Type": "application/json"})
    body = await resp.json() if resp.content_type == "application/json" else await resp.text()
    return resp.status, body


async def test_no_hostile_body_makes_a_server_error(dead_api: tuple[Api, dict[str, int]]) -> None:
    api, ids = dead_api
    failures: list[str] = []
    sent = 0
    for route in routes_of():
        if route.body is None or route.path.startswith("/api/accounts") and route.method == "POST" \
                and route.path == "/api/accounts":
            continue  # POST /api/accounts logs in to Instagram: its own test below
        path = _path(route.path, ids)
        for body in _bodies(route.body):
            status, answer = await _send(api, route.method, path, json.dumps(body).encode())
            sent += 1
            if status >= 500 and not (status == 503 and isinstance(answer, dict)
                                      and answer["error"]["code"] != "internal_error"):
                failures.append(f"{route.method} {path} {json.dumps(body)[:120]} -> {status} {answer}")
    assert sent > 800 and not failures, (sent, failures[:15])


RAW_BODIES = [b"[" * 100_000, b'{"a": ' * 50_000, b"NaN", b"Infinity", b'{"name": NaN}',
              b'{"name": -Infinity}', b'{"name": 1e99999}', b"\xff\xfe{", b'{"name": "a\\ud800"}',
              b'{"name": "a\\u0000b"}', b'{"filters": {"caption_keywords": ["\\u0000"]}}', b"null",
              b'"string"', b"-0", b'{"name": "x"}' * 3]


async def test_raw_json_that_breaks_parsers_is_a_clear_422(dead_api: tuple[Api, dict[str, int]]) -> None:
    api, ids = dead_api
    before = await snapshot()
    for route in routes_of():
        if route.body is None:
            continue
        path = _path(route.path, ids)
        for raw in RAW_BODIES:
            status, answer = await _send(api, route.method, path, raw)
            assert status in (400, 404, 409, 413, 422), (route.method, path, raw[:30], status, answer)
            assert isinstance(answer, dict) and set(answer) == {"error"}
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    status, answer = await _send(api, "POST", "/api/connections", big)
    assert status == 413 and answer["error"]["code"] == "payload_too_large"
    after = await snapshot()
    assert after == before  # nothing refused left a trace


async def test_hostile_instagram_account_bodies_are_refused_before_any_login(
        dead_api: tuple[Api, dict[str, int]]) -> None:
    api, _ = dead_api
    before = await Account.all().count()
    for field in ("alias", "username", "password", "verification_code", "session_json", "access_token",
                  "ig_user_id", "facebook_page_id", "token_expiry", "app_id", "app_secret"):
        for value in HOSTILE:
            for method in ("private_api", "graph_api"):
                body = {"type": "instagram", "auth_method": method, "alias": "x", field: value}
                status, answer = await _send(api, "POST", "/api/accounts", json.dumps(body).encode())
                assert status != 500 and status != 201, (body, status, answer)
    nested = {"type": "instagram", "auth_method": "private_api", "alias": "x", "username": "u",
              "session_json": "[" * 50_000}
    status, answer = await _send(api, "POST", "/api/accounts", json.dumps(nested).encode())
    assert status == 422 and "session_json" in answer["error"]["fields"]
    assert await Account.all().count() == before
