from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.migrations.autodetector import MigrationAutodetector

from core.db import tortoise_config
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
    JobStep,
    LogEntry,
    LogLevel,
    Notification,
    OAuthState,
    Platform,
    PostOutcome,
    Proxy,
    ProxyHealth,
    ProxyType,
    QuotaUsage,
    Setting,
    SourcePost,
)


async def _world() -> tuple[Account, Account, Proxy, Connection]:
    proxy = await Proxy.create(alias="US_Proxy_01", type=ProxyType.SOCKS5, host="127.0.0.1",
                               port=1080)
    insta = await Account.create(
        platform=Platform.INSTAGRAM, alias="TravelReels_Insta", username="travel_reels",
        auth_method=AuthMethod.PRIVATE_API, credentials={"password": "pw"}, default_proxy=proxy,
    )
    yt = await Account.create(
        platform=Platform.YOUTUBE, alias="TechShorts_YT", external_id="UCabcd",
        auth_method=AuthMethod.OAUTH, token_expiry=datetime.now(UTC) + timedelta(days=7),
    )
    conn = await Connection.create(
        name="Travel_Insta_to_TechShorts", direction=Direction.INSTAGRAM_TO_YOUTUBE,
        source_account=insta, destination_account=yt, proxy=proxy,
        proxy_policy={"mode": "round_robin", "pool": [proxy.id], "fallback_to_direct": False,
                      "max_retry_per_proxy": 2},
        filters={"mode": "forward_all_new", "caption_keywords": []},
        schedule={"type": "continuous", "check_interval_minutes": 5},
        transform_options={"upscale": True, "greenscreen": False, "quality": "optimized"},
        retry_policy={"max_attempts": 3, "initial_delay_seconds": 10},
        metadata_templates={"title": "{first_line}"},
    )
    return insta, yt, proxy, conn


async def test_defaults_and_relations(db: str) -> None:
    insta, yt, proxy, conn = await _world()
    assert insta.status is AccountStatus.ACTIVE and insta.alert_before_days == 2
    assert conn.status is ConnectionStatus.STOPPED and conn.total_forwarded == 0
    assert proxy.health is ProxyHealth.UNCHECKED and proxy.consecutive_failures == 0
    loaded = await Connection.get(id=conn.id).prefetch_related(
        "source_account", "destination_account", "proxy")
    assert loaded.source_account.alias == "TravelReels_Insta"
    assert loaded.destination_account.external_id == "UCabcd"
    assert loaded.proxy is not None and loaded.proxy.alias == "US_Proxy_01"
    assert loaded.proxy_policy["pool"] == [proxy.id]
    assert (await Account.get(id=insta.id).prefetch_related("default_proxy")).default_proxy.id == proxy.id


async def test_unique_names_per_owner(db: str) -> None:
    await _world()
    with pytest.raises(IntegrityError):
        await Account.create(platform=Platform.YOUTUBE, alias="TechShorts_YT", auth_method=AuthMethod.OAUTH)
    other_owner = await Account.create(platform=Platform.YOUTUBE, alias="TechShorts_YT",
                                       auth_method=AuthMethod.OAUTH, owner_id=2)
    assert other_owner.id


async def test_a_source_post_is_recorded_once_per_connection(db: str) -> None:
    insta, yt, _, conn = await _world()
    await SourcePost.create(connection=conn, source_post_id="C2xYz", caption="hi #travel")
    with pytest.raises(IntegrityError):
        await SourcePost.create(connection=conn, source_post_id="C2xYz")
    conn2 = await Connection.create(name="second", direction=Direction.INSTAGRAM_TO_YOUTUBE,
                                    source_account=insta, destination_account=yt)
    await SourcePost.create(connection=conn2, source_post_id="C2xYz", outcome=PostOutcome.FILTERED,
                            reason="caption has none of: tech")
    assert await SourcePost.filter(source_post_id="C2xYz").count() == 2


async def test_job_lifecycle_fields_and_manual_retry_link(db: str) -> None:
    _, _, _, conn = await _world()
    post = await SourcePost.create(connection=conn, source_post_id="p1", duration=32.0)
    job = await Job.create(connection=conn, source_post=post)
    assert (job.status, job.step, job.attempts, job.dead_letter) == \
        (JobStatus.QUEUED, JobStep.DOWNLOAD, 0, False)
    job.status, job.step = JobStatus.FAILED, JobStep.UPLOAD
    job.checkpoint = {"download": {"path": "jobs/1/source.mp4", "sha256": "ab"},
                      "upload": {"session_uri": "u"}}
    job.error_code, job.error_message, job.dead_letter = "network_timeout", "timed out", True
    job.next_retry_at = datetime.now(UTC)
    await job.save()
    retry = await Job.create(connection=conn, source_post=post, parent=job)
    again = await Job.get(id=retry.id).prefetch_related("parent")
    assert again.parent is not None and again.parent.id == job.id
    stored = await Job.get(id=job.id)
    assert stored.checkpoint["upload"]["session_uri"] == "u" and stored.dead_letter
    assert await Job.filter(dead_letter=True).count() == 1
    await LogEntry.create(level=LogLevel.ERROR, job=job, connection=conn, message="failed",
                          details={"code": "network_timeout"})
    assert await LogEntry.filter(job_id=job.id, level=LogLevel.ERROR).count() == 1


async def test_settings_notifications_quota_and_oauth_state(db: str) -> None:
    insta, yt, _, _ = await _world()
    await Setting.create(key="retention", value={"logs_days": 30, "videos_days": 7})
    with pytest.raises(IntegrityError):
        await Setting.create(key="retention", value={})
    note = await Notification.create(kind="token_expiry_warning", payload={"account": yt.id})
    assert note.status is DeliveryStatus.PENDING and note.attempts == 0
    today = date(2026, 11, 25)
    await QuotaUsage.create(platform=Platform.YOUTUBE, project_key="proj-1", day=today, units=3)
    with pytest.raises(IntegrityError):
        await QuotaUsage.create(platform=Platform.YOUTUBE, project_key="proj-1", day=today)
    state = await OAuthState.create(state_hash="a" * 64, account=yt, code_verifier="verifier",
                                    expires_at=datetime.now(UTC) + timedelta(minutes=10))
    assert (await OAuthState.get(id=state.id)).code_verifier == "verifier"


async def test_deleting_an_account_in_use_is_refused(db: str) -> None:
    insta, _, _, _ = await _world()
    with pytest.raises(IntegrityError):
        await insta.delete()


async def test_migrations_match_the_models(db: str) -> None:
    """A model change without a migration fails here (run `tortoise makemigrations`)."""
    apps = {"models": dict(tortoise_config(db)["apps"]["models"])}
    detector = MigrationAutodetector(Tortoise.apps, apps)
    writers = await detector.changes()
    assert [w.name for w in writers] == []
