"""Web app fixtures: signed Mini App init data, an authenticated API client, rows to act on."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.bootstrap import Runtime
from core.models import (
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    Direction,
    Job,
    JobStatus,
    Platform,
    SourcePost,
)
from core.services.connections import ConnectionService
from core.services.dry_run import DryRunService
from core.services.jobs import JobService
from core.services.polls import PollService
from tests.fakes.media import make_clip
from tests.fakes.platforms import MemoryPlatforms
from webapp.app import create_app

BOT_TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"  # the settings fixture's token
ADMIN_ID = 1001


def init_data(user_id: int = ADMIN_ID, *, token: str = BOT_TOKEN, auth_date: float | None = None,
              user: dict[str, Any] | None = None) -> str:
    """Mini App initData signed as Telegram does (secret = HMAC("WebAppData", token))."""
    person = user or {"id": user_id, "first_name": "Ada", "last_name": "L", "username": "ada",
                      "language_code": "en"}
    fields = {"query_id": "AAHdF6IQAAAAAN0XohDhrOrc", "user": json.dumps(person, separators=(",", ":")),
              "auth_date": str(int(time.time() if auth_date is None else auth_date))}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


class Api:
    """A test client that sends the admin's initData and checks the status of each answer."""

    def __init__(self, client: TestClient, user_id: int = ADMIN_ID) -> None:
        self.client = client
        self.headers = {"Authorization": f"tma {init_data(user_id)}"}

    async def call(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        resp = await self.client.request(method, path, headers={**self.headers, **kwargs.pop("headers", {})},
                                         **kwargs)
        body: Any = await resp.json() if resp.content_type == "application/json" else await resp.read()
        assert resp.status == status, (method, path, resp.status, body)
        return body

    async def get(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return await self.call("GET", path, status, **kwargs)

    async def post(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return await self.call("POST", path, status, **kwargs)

    async def put(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return await self.call("PUT", path, status, **kwargs)

    async def delete(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return await self.call("DELETE", path, status, **kwargs)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(runtime))) as c:
        yield c


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


# ---- in-memory platforms, for run-now, dry-run and security codes -------------------------------

@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("webapp") / "reel.mp4", seconds=1.5)


@pytest.fixture
def memory(clip: Path) -> MemoryPlatforms:
    return MemoryPlatforms(clip)


@pytest.fixture
async def memory_api(runtime: Runtime, memory: MemoryPlatforms) -> AsyncIterator[Api]:
    """The API over services whose platforms are in memory."""
    s = runtime.services
    services = dataclasses.replace(
        s, connections=ConnectionService(PollService(memory), s.queue),
        dry_run=DryRunService(memory), jobs=JobService(s.queue, factory=memory, alerts=s.alerts))
    async with TestClient(TestServer(create_app(dataclasses.replace(runtime, services=services)))) as c:
        yield Api(c)


# ---- rows ------------------------------------------------------------------------------------

async def accounts() -> tuple[Account, Account]:
    """An Instagram (private API) and a YouTube account, both usable."""
    ig = await Account.create(platform=Platform.INSTAGRAM, alias="insta", username="travel",
                              auth_method=AuthMethod.PRIVATE_API, status=AccountStatus.ACTIVE)
    yt = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH,
                              status=AccountStatus.ACTIVE, profile={"channel_title": "Tube"})
    return ig, yt


async def connection(name: str = "ig-to-yt", status: ConnectionStatus = ConnectionStatus.STOPPED
                     ) -> Connection:
    ig = await Account.filter(platform=Platform.INSTAGRAM).order_by("id").first()
    yt = await Account.filter(platform=Platform.YOUTUBE).order_by("id").first()
    if ig is None or yt is None:
        ig, yt = await accounts()
    return await Connection.create(name=name, direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=ig,
                                   destination_account=yt, status=status)


async def job(conn: Connection, status: JobStatus = JobStatus.QUEUED, *, post: str | None = None,
              **fields: Any) -> Job:
    source = await SourcePost.create(connection=conn, source_post_id=post or f"p{time.monotonic_ns()}",
                                     caption="a reel", permalink="https://example.invalid/reel")
    return await Job.create(connection=conn, source_post=source, status=status, **fields)
