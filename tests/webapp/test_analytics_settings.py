"""Analytics, dashboard, charts, CSV export, settings, alert settings and notifications."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.bootstrap import Runtime, build_services
from core.models import DeliveryStatus, JobStatus, Notification, Setting
from jobs.queue import ArqQueue
from tests.fakes.telegram import FakeTelegram
from tests.webapp.conftest import Api, connection, job
from webapp.api.analytics import CHART_NAMES
from webapp.app import create_app


async def test_dashboard_and_summaries(api: Api) -> None:
    conn = await connection()
    await job(conn, JobStatus.SUCCESS)
    await job(conn, JobStatus.FAILED, error_code="proxy_error")
    dash = await api.get("/api/dashboard/summary")
    assert dash["connections"]["total"] == 1 and dash["jobs_24h"]["success_rate"] == 50.0
    summary = await api.get("/api/analytics/summary?period=30days")
    assert summary["totals"]["total"] == 2 and summary["period"]["days"] == 30
    metrics = await api.get(f"/api/analytics/connection/{conn.id}/metrics?period=7")
    assert metrics["failure_breakdown"] == [{"reason": "proxy_error", "count": 1, "percent": 100.0}]
    account = await api.get(f"/api/analytics/account/{conn.source_account_id}/metrics")  # type: ignore[attr-defined]
    assert account["metrics"]["as_source"] == 2
    await api.get("/api/analytics/connection/999/metrics", 404)
    err = (await api.get("/api/analytics/summary?period=400days", 422))["error"]
    assert err["fields"] == {"period": "the last 1 to 366 days, not 400"}


async def test_csv_export_is_an_attachment(api: Api) -> None:
    conn = await connection()
    await job(conn, JobStatus.SUCCESS)
    resp = await api.client.post("/api/analytics/export", headers=api.headers,
                                 json={"kind": "jobs", "period": "7days"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="forwarder-jobs-')
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert len(rows) == 2 and "ig-to-yt" in rows[1]
    daily = await api.post("/api/analytics/export", json={"kind": "daily", "connection_id": conn.id})
    assert len(daily.decode().splitlines()) == 31  # a header and 30 days
    err = (await api.post("/api/analytics/export", 422, json={"kind": "pdf"}))["error"]
    assert err["fields"] == {"kind": "'pdf' is not an export; choose jobs or daily"}


async def test_charts_are_png(api: Api) -> None:
    conn = await connection()
    await job(conn, JobStatus.SUCCESS)
    for name in CHART_NAMES:
        png = await api.get(f"/api/analytics/charts/{name}.png?period=7days&theme=dark")
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
    png = await api.get(f"/api/analytics/charts/success_trend.png?connection_id={conn.id}")
    assert png[:4] == b"\x89PNG"
    err = (await api.get("/api/analytics/charts/pie.png", 404))["error"]
    assert "choose one of" in err["message"]
    await api.get("/api/analytics/charts/job_volume.png?connection_id=999", 404)
    err = (await api.get("/api/analytics/charts/job_volume.png?theme=neon", 422))["error"]
    assert err["fields"] == {"theme": "choose light or dark"}


async def test_system_settings(api: Api, runtime: Runtime) -> None:
    body = await api.get("/api/settings")
    assert set(body["settings"]) == {"general", "retry", "retention", "quota", "alerts"}
    err = (await api.put("/api/settings", 422, json={"retention": {"logs_days": 0}, "weather": {}}))["error"]
    assert set(err["fields"]) == {"weather"}
    err = (await api.put("/api/settings", 422, json={"retention": {"logs_days": 0}}))["error"]
    assert err["fields"] == {"retention.logs_days": "choose a number from 1 to 3650"}
    body = await api.put("/api/settings", json={"quota": {"youtube_daily_units": 20000},
                                                "general": {"instance_name": "Prod"}})
    assert body["settings"]["quota"]["youtube_daily_units"] == 20000
    assert (await Setting.get(key="quota")).value["youtube_daily_units"] == 20000
    assert runtime.services.platforms.youtube_daily_units == 20000  # applied to the running services
    err = (await api.put("/api/settings", 422, json={}))["error"]
    assert err["fields"]["body"].startswith("send at least")


@pytest.fixture
async def telegram(runtime: Runtime) -> AsyncIterator[tuple[Api, FakeTelegram]]:
    fake = FakeTelegram()
    await fake.start()
    settings = runtime.settings.model_copy(update={"telegram_api_base": fake.base_url})
    rt = Runtime(settings, runtime.keyring, runtime.redis_url, runtime.redis,
                 build_services(settings, runtime.keyring, runtime.redis, ArqQueue(runtime.redis)))
    async with TestClient(TestServer(create_app(rt))) as c:
        yield Api(c), fake
    await fake.stop()


async def test_alert_settings_test_message_and_notifications(telegram: tuple[Api, FakeTelegram]) -> None:
    api, fake = telegram
    # With no alert chat the test alert goes to the admins' private chats (it used to be refused).
    await api.post("/api/settings/telegram/test")
    err = (await api.put("/api/settings/telegram", 422, json={
        "enabled": ["job_failed", "weather"], "instance": "", "bot_token": "x"}))["error"]
    assert set(err["fields"]) == {"enabled", "instance", "bot_token"}
    body = await api.put("/api/settings/telegram", json={"channel_id": -1001234567890,
                                                         "enabled": ["job_failed", "captcha_detected"],
                                                         "instance": "SnapcoreForwarder"})
    assert body["alerts"]["chat_id"] == "-1001234567890"
    assert body["alerts"]["enabled"] == ["captcha_detected", "job_failed"]
    stored = (await Setting.get(key="alerts")).value
    assert stored["chat_id"] == "-1001234567890" and stored["instance"] == "SnapcoreForwarder"

    sent = await api.post("/api/settings/telegram/test")
    assert (sent["status"], sent["sent"]) == ("success", 1)
    [message] = fake.messages(-1001234567890)
    assert "TEST ALERT" in message["text"] and "SnapcoreForwarder" in message["text"]

    await Notification.create(kind="job_failed", payload={"job_id": 7}, chat_id="-1",
                              status=DeliveryStatus.FAILED)
    listed = await api.get("/api/notifications")
    # the test alert to the admins (no chat set yet), the one to the channel, the failed one
    kinds = [n["kind"] for n in listed["notifications"]]
    assert listed["total"] == 3 and kinds == ["job_failed", "test", "test"]
    assert listed["notifications"][1]["status"] == "sent"
    only = await api.get("/api/notifications?status=failed")
    assert [n["payload"] for n in only["notifications"]] == [{"job_id": 7}]
    assert "kind" in (await api.get("/api/notifications?kind=nope", 422))["error"]["fields"]
    body = await api.put("/api/settings/telegram", json={"enabled": False})
    assert body["alerts"]["enabled"] == []
    assert (await api.get("/api/settings"))["settings"]["alerts"]["instance"] == "SnapcoreForwarder"



