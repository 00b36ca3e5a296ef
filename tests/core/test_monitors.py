"""Token, proxy and retention monitors with a controllable clock, over the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.models import (
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    DeliveryStatus,
    Direction,
    Job,
    JobStatus,
    LogEntry,
    Notification,
    Platform,
    Proxy,
    ProxyHealth,
    ProxyType,
    SourcePost,
)
from core.platforms.factory import PlatformFactory
from core.platforms.quota import QuotaLedger
from core.platforms.youtube_oauth import OAuthService
from core.services.alerts import AlertService
from core.services.monitors import MonitorService
from core.services.proxies import ProxyService
from core.settings import Settings
from tests.fakes.clock import Clock
from tests.fakes.google_oauth import FakeGoogleOAuth
from tests.fakes.instagram_graph import FakeInstagramGraph
from tests.fakes.proxies import ProxyServers, TargetServer


def fresh_clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


async def kinds() -> list[str]:
    return [n.kind for n in await Notification.all().order_by("id")]


async def connection(name: str, source: Account, dest: Account, **extra: Any) -> Connection:
    return await Connection.create(name=name, direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=source,
                                   destination_account=dest, status=ConnectionStatus.ACTIVE, **extra)


async def pair(**source: Any) -> tuple[Account, Account]:
    src = await Account.create(platform=Platform.INSTAGRAM, alias="biz", auth_method=AuthMethod.GRAPH_API,
                               **source)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH)
    return src, dst


# ---- tokens -----------------------------------------------------------------------------------

async def test_expiry_warning_then_expired_alert_once_each(db: str) -> None:
    clock = fresh_clock()
    src, dst = await pair(token_expiry=clock.now + timedelta(days=1, hours=2), alert_before_days=2,
                          credentials={"access_token": "x"})
    conn = await connection("c1", src, dst)
    monitors = MonitorService(alerts=AlertService(None, chat_id="-100"), clock=clock)
    report = await monitors.check_tokens()
    assert report.changed == ["biz: expiry_warning"]
    assert (await Account.get(id=src.id)).status is AccountStatus.EXPIRY_WARNING
    await monitors.check_tokens()
    assert await kinds() == ["token_expiring"]
    payload = (await Notification.get()).payload
    assert payload["status"] == "expires in 26 h"
    assert payload["token_type"] == "Instagram Graph long-lived token"
    clock.now += timedelta(days=2)
    report = await monitors.check_tokens()
    assert report.changed == ["biz: token_expired"] and report.paused == [conn.id]
    assert (await Connection.get(id=conn.id)).status is ConnectionStatus.PAUSED
    await monitors.check_tokens()
    assert await kinds() == ["token_expiring", "token_expired"]
    assert (await Notification.filter(kind="token_expired").first()).payload["affected"] == ["c1"]  # type: ignore[union-attr]


@pytest.fixture
async def google() -> AsyncIterator[FakeGoogleOAuth]:
    fake = FakeGoogleOAuth(client_id="cid.apps.googleusercontent.com", client_secret="csecret")
    await fake.start()
    yield fake
    await fake.stop()


async def test_youtube_refresh_and_a_revoked_token(db: str, google: FakeGoogleOAuth,
                                                   settings: Settings) -> None:
    clock = fresh_clock()
    google.refresh_tokens["1//good"] = "https://www.googleapis.com/auth/youtube.upload"
    secret = {"installed": {"client_id": "cid.apps.googleusercontent.com", "client_secret": "csecret",
                            "project_id": "p", "redirect_uris": ["http://localhost"]}}
    tube = await Account.create(platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH,
                                token_expiry=clock.now + timedelta(minutes=30),
                                credentials={"refresh_token": "1//good", "access_token": "old",
                                             "client_secret": secret})
    insta = await Account.create(platform=Platform.INSTAGRAM, alias="i", auth_method=AuthMethod.PRIVATE_API)
    conn = await Connection.create(name="c", direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=insta,
                                   destination_account=tube, status=ConnectionStatus.ACTIVE)
    custom = settings.model_copy(update={"google_token_uri": google.token_uri,
                                         "google_auth_uri": google.auth_uri})
    oauth = OAuthService.from_settings(custom, b"k" * 32)
    monitors = MonitorService(alerts=AlertService(None, chat_id="-100"), oauth=oauth, clock=clock)
    report = await monitors.refresh_tokens()
    assert report.changed == ["tube: refreshed"]
    fresh = await Account.get(id=tube.id)
    assert fresh.credentials["access_token"] == google.access_tokens[-1] and fresh.token_expiry > clock.now
    google.revoke("1//good")
    clock.now = fresh.token_expiry - timedelta(minutes=5)  # type: ignore[operator]
    report = await monitors.refresh_tokens()
    assert report.changed == ["tube: requires_reauth"] and report.paused == [conn.id]
    assert (await Account.get(id=tube.id)).status is AccountStatus.REQUIRES_REAUTH
    assert await kinds() == ["refresh_failed"]


@pytest.mark.parametrize("login", ["facebook", "instagram"])
async def test_graph_long_lived_token_refresh(db: str, settings: Settings, login: str) -> None:
    # Each login type renews at its own documented endpoint (see the Graph fake's sources).
    graph = FakeInstagramGraph()
    await graph.start()
    try:
        clock = fresh_clock()
        custom = settings.model_copy(update={"graph_api_base": graph.api_base,
                                             "graph_upload_base": graph.upload_base,
                                             "instagram_graph_api_base": graph.instagram_base})
        creds = (graph.credentials(app_id=graph.app_id, app_secret=graph.app_secret) if login == "facebook"
                 else graph.ig_credentials())
        biz, _ = await pair(token_expiry=clock.now + timedelta(days=3), credentials=creds)
        monitors = MonitorService(alerts=None, factory=PlatformFactory(custom, QuotaLedger()), clock=clock)
        report = await monitors.refresh_tokens()
        assert report.changed == ["biz: refreshed"]
        fresh = await Account.get(id=biz.id)
        assert fresh.token_expiry > clock.now + timedelta(days=30)  # type: ignore[operator]
        assert fresh.credentials["access_token"] != creds["access_token"]
        assert fresh.credentials["access_token"].startswith("EAA" if login == "facebook" else "IGAA")
    finally:
        await graph.stop()


# ---- proxies -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_proxies() -> Iterator[tuple[ProxyServers, ProxyServers]]:
    a, b = ProxyServers(modes=("http",)).start(), ProxyServers(modes=("http",)).start()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
async def target() -> AsyncIterator[TargetServer]:
    server = await TargetServer().start()
    yield server
    await server.close()


async def test_unhealthy_proxy_pauses_the_lone_connection_and_recovery_resumes(
        db: str, two_proxies: tuple[ProxyServers, ProxyServers], target: TargetServer) -> None:
    flaky, steady = two_proxies
    p = await Proxy.create(alias="flaky", type=ProxyType.HTTP, host="127.0.0.1", port=flaky.ports["http"])
    q = await Proxy.create(alias="steady", type=ProxyType.HTTP, host="127.0.0.1", port=steady.ports["http"])
    src, dst = await pair()
    lone = await connection("lone", src, dst, proxy=p)
    pooled = await connection("pooled", src, dst, proxy_policy={"mode": "round_robin", "pool": [p.id, q.id]})
    monitors = MonitorService(alerts=AlertService(None, chat_id="-100"),
                              proxies=ProxyService([target.url()], timeout=2))
    assert (await monitors.check_proxies()).changed == []
    flaky.stop()
    try:
        for _ in range(2):
            assert (await monitors.check_proxies()).paused == []
        report = await monitors.check_proxies()
        assert report.changed == ["flaky: unhealthy"] and report.paused == [lone.id]
        assert (await Proxy.get(id=p.id)).health is ProxyHealth.UNHEALTHY
        assert (await Connection.get(id=pooled.id)).status is ConnectionStatus.ACTIVE  # the pool fails over
        [alert] = await Notification.all()
        assert alert.kind == "proxy_unhealthy" and alert.payload["affected"] == ["lone (paused)"]
        assert "refused" in alert.payload["error"]
    finally:
        flaky.start()
    report = await monitors.check_proxies()
    assert report.changed == ["flaky: recovered"] and report.resumed == [lone.id]
    assert (await Connection.get(id=lone.id)).status is ConnectionStatus.ACTIVE


# ---- retention ---------------------------------------------------------------------------------

async def test_retention_deletes_old_things_and_reports_freed_bytes(db: str, tmp_path: Path) -> None:
    clock = fresh_clock()
    src, dst = await pair()
    conn = await connection("c", src, dst)
    old_log = await LogEntry.create(message="old")
    await LogEntry.create(message="new")
    await LogEntry.filter(id=old_log.id).update(created_at=clock.now - timedelta(days=31))
    sent = await Notification.create(kind="test", status=DeliveryStatus.SENT)
    await Notification.filter(id=sent.id).update(created_at=clock.now - timedelta(days=40))
    jobs = []
    for i, age in enumerate((10, 1)):
        post = await SourcePost.create(connection=conn, source_post_id=f"p{i}")
        job = await Job.create(connection=conn, source_post=post, status=JobStatus.FAILED)
        await Job.filter(id=job.id).update(updated_at=clock.now - timedelta(days=age))
        folder = tmp_path / "jobs" / str(job.id)
        folder.mkdir(parents=True)
        (folder / "source.mp4").write_bytes(b"x" * 5000)
        jobs.append(job)
    report = await MonitorService(alerts=None, data_dir=tmp_path, clock=clock).retention()
    assert report.freed_bytes == 5000 and report.deleted == {"logs": 1, "notifications": 1, "job_folders": 1}
    assert not (tmp_path / "jobs" / str(jobs[0].id)).exists()
    assert (tmp_path / "jobs" / str(jobs[1].id)).exists()
    assert [e.message for e in await LogEntry.all().order_by("id")][0] == "new"
