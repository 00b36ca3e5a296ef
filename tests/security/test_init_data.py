"""Every API route that needs the admin, asked without the admin's fresh, genuine initData: no
header, another scheme, a forged or re-signed hash, another bot's signature, a stale or future
date, no user, a genuine non-admin. Each is refused (401, or 403 for the genuine non-admin) before
the view runs: nothing in the database changes, and the admin is still served."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from urllib.parse import parse_qsl, urlencode

from aiohttp.test_utils import TestClient, TestServer

from core.bootstrap import Runtime
from core.models import Account, AuthMethod, Connection, Direction, Job, JobStatus, Platform, SourcePost
from tests.badinput.support import snapshot
from tests.webapp.conftest import ADMIN_ID, BOT_TOKEN, init_data
from webapp.app import create_app, routes_of

STRANGER = 4242


def _resign(data: str, **changes: str) -> str:
    """``data`` with fields changed and its old hash kept (what a tamperer without the token can do)."""
    fields = dict(parse_qsl(data))
    fields.update(changes)
    return urlencode(fields)


def _flip(data: str) -> str:
    fields = dict(parse_qsl(data))
    fields["hash"] = fields["hash"][:-1] + ("0" if fields["hash"][-1] != "0" else "1")
    return urlencode(fields)


def _without_user() -> str:
    fields = dict(parse_qsl(init_data()))
    fields.pop("user")
    fields.pop("hash")
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", BOT_TOKEN.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def variants() -> dict[str, tuple[str | None, int]]:
    """Authorization header -> the status it must get."""
    admin_user = json.dumps({"id": ADMIN_ID, "first_name": "Ada"}, separators=(",", ":"))
    stranger = init_data(STRANGER)
    stale = init_data(auth_date=time.time() - 7200)
    return {
        "missing": (None, 401),
        "empty": ("", 401),
        "bearer scheme": (f"Bearer {init_data()}", 401),
        "no data": ("tma ", 401),
        "garbage": ("tma %%%&&&===", 401),
        "not ascii": (f"tma {_resign(init_data(), hash='ÿ' * 64)}", 401),
        "flipped hash": (f"tma {_flip(init_data())}", 401),
        "no hash": (f"tma {urlencode({k: v for k, v in parse_qsl(init_data()) if k != 'hash'})}", 401),
        "another bot": (f"tma {init_data(token='987654321:' + 'B' * 35)}", 401),
        "stranger made admin": (f"tma {_resign(stranger, user=admin_user)}", 401),
        "date moved": (f"tma {_resign(stale, auth_date=str(int(time.time())))}", 401),
        "user appended": (f"tma {stranger}&user={admin_user}", 401),
        "expired": (f"tma {init_data(auth_date=time.time() - 3601)}", 401),
        "a day old": (f"tma {init_data(auth_date=time.time() - 86400)}", 401),
        "future": (f"tma {init_data(auth_date=time.time() + 3600)}", 401),
        "no user": (f"tma {_without_user()}", 401),
        "genuine stranger": (f"tma {stranger}", 403),
        "bot token as data": (f"tma {BOT_TOKEN}", 401),
    }


async def test_every_route_refuses_every_bad_init_data(client: TestClient) -> None:
    src = await Account.create(platform=Platform.INSTAGRAM, alias="insta", auth_method=AuthMethod.PRIVATE_API)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    conn = await Connection.create(name="c1", direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=src,
                                   destination_account=dst)
    post = await SourcePost.create(connection=conn, source_post_id="p1")
    await Job.create(connection=conn, source_post=post, status=JobStatus.FAILED, dead_letter=True)
    routes = [r for r in routes_of() if r.auth]
    assert len(routes) >= 40
    before = await snapshot()
    cases = variants()
    checked = 0
    for route in routes:
        path = re.sub(r"\{(\w+)(:[^}]+)?\}", "1", route.path)
        body = {"name": "x", "alias": "x"} if route.method in ("POST", "PUT") else None
        for name, (header, status) in cases.items():
            headers = {} if header is None else {"Authorization": header}
            resp = await client.request(route.method, path, json=body, headers=headers)
            answer = await resp.json()
            assert resp.status == status, (route.method, path, name, resp.status, answer)
            assert answer["error"]["code"] == ("forbidden" if status == 403 else "unauthorized")
            assert "hash=" not in json.dumps(answer)  # the data is never echoed
            checked += 1
    assert checked == len(routes) * len(cases)
    assert await snapshot() == before
    resp = await client.get("/api/connections", headers={"Authorization": f"tma {init_data()}"})
    assert resp.status == 200 and (await resp.json())["total"] == 1  # the admin still gets in


async def test_credentials_that_are_not_ascii_are_refused_not_crashed(runtime: Runtime) -> None:
    """hmac.compare_digest raises on non-ASCII text: each place that compares a secret must not."""
    async with TestClient(TestServer(create_app(runtime, metrics_token="s3cret"))) as c:
        relayed = {"X-Forwarded-For": "203.0.113.9"}
        for header in ("Bearer ÿÿÿ", "Bearer s3cret\u00e9", "Bearer \u202e"):
            resp = await c.get("/metrics", headers={**relayed, "Authorization": header})
            assert resp.status == 403, header
        for query in ("state=%FF.%FF&code=%FF", "state=%C3%BF.%C3%BF&code=x", "state=x.%ED%A0%80&code=1"):
            resp = await c.get(f"/oauth2callback?{query}")
            assert resp.status == 400 and "not valid" in await resp.text(), query
