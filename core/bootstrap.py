"""The composition root: settings -> key ring -> database -> Redis -> services.

The bot, the worker, the web app and the CLI all build their world here; tests call it
with settings whose base URLs point at the fakes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import crypto
from core.db import close_db, init_db, run_migrations
from core.errors import ConfigError
from core.platforms.factory import PlatformFactory
from core.platforms.quota import QuotaLedger
from core.platforms.telegram import TelegramSender
from core.platforms.youtube_oauth import OAuthService
from core.redis_embedded import EmbeddedRedis
from core.services.accounts import AccountService
from core.services.alerts import AlertService
from core.services.analytics import AnalyticsService
from core.services.connections import ConnectionService
from core.services.dry_run import DryRunService
from core.services.forward import ForwardService
from core.services.health import HealthService
from core.services.jobs import JobQueue, JobService, NoQueue
from core.services.monitors import MonitorService
from core.services.polls import PollService
from core.services.proxies import ProxyService
from core.services.reconcile import ReconcileService
from core.services.system import SystemService
from core.settings import Settings


@dataclass
class Services:
    """Every service the faces (bot, web, worker) call."""

    health: HealthService
    proxies: ProxyService
    oauth: OAuthService
    quota: QuotaLedger
    platforms: PlatformFactory
    queue: JobQueue
    polls: PollService
    forward: ForwardService
    jobs: JobService
    connections: ConnectionService
    dry_run: DryRunService
    alerts: AlertService
    monitors: MonitorService
    accounts: AccountService
    analytics: AnalyticsService
    system: SystemService
    reconcile: ReconcileService


QueueFactory = Callable[[Redis], JobQueue]


def build_services(settings: Settings, keyring: crypto.KeyRing, redis: Redis,
                   queue: JobQueue | None = None) -> Services:
    """Wire every service from settings; tests pass settings whose URLs point at fakes."""
    quota = QuotaLedger()
    platforms = PlatformFactory(settings, quota)
    queue = queue or NoQueue()
    polls = PollService(platforms, timezone=settings.timezone)
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else None
    alerts = AlertService(TelegramSender(settings.telegram_api_base, token) if token else None,
                          chat_id=settings.alert_chat_id, admin_ids=settings.admin_ids,
                          timezone=settings.timezone,
                          public_base_url=settings.public_base_url)
    proxies = ProxyService(settings.proxy_check_urls)
    oauth = OAuthService.from_settings(settings, crypto.derive_key(keyring, "oauth-state"))
    health = HealthService(redis)
    forward = ForwardService(platforms, settings.data_dir.resolve(), timezone=settings.timezone,
                             ffmpeg_setting=settings.ffmpeg_binary, alerts=alerts,
                             lease_seconds=settings.forward_lease_seconds)
    jobs = JobService(queue, factory=platforms, alerts=alerts)
    return Services(
        health=health,
        proxies=proxies,
        oauth=oauth,
        quota=quota,
        platforms=platforms,
        queue=queue,
        polls=polls,
        forward=forward,
        jobs=jobs,
        connections=ConnectionService(polls, queue),
        dry_run=DryRunService(platforms, ffmpeg_setting=settings.ffmpeg_binary,
                              timezone=settings.timezone),
        alerts=alerts,
        monitors=MonitorService(alerts=alerts, oauth=oauth, factory=platforms, proxies=proxies,
                                data_dir=settings.data_dir.resolve()),
        accounts=AccountService(platforms, oauth),
        analytics=AnalyticsService(timezone=settings.timezone, health=health),
        system=SystemService(on_change=lambda section, value: _apply(section, value, platforms, alerts)),
        reconcile=ReconcileService(jobs, queue, lambda: forward.lease),
    )


def _apply(section: str, value: dict[str, Any], platforms: PlatformFactory, alerts: AlertService) -> None:
    """Put stored system settings into the services that use them."""
    if section == "quota":
        platforms.youtube_daily_units = int(value["youtube_daily_units"])
        platforms.youtube_daily_uploads = int(value["youtube_daily_uploads"])
    elif section == "general":
        alerts.instance = str(value["instance_name"])
        alerts.timezone = str(value["timezone"])


@dataclass
class Runtime:
    """What one process holds open: settings, Redis, services; ``close()`` releases all."""

    settings: Settings
    keyring: crypto.KeyRing
    redis_url: str
    redis: Redis
    services: Services
    embedded_redis: EmbeddedRedis | None = None
    _closed: bool = field(default=False, repr=False)

    async def close(self) -> None:
        """Close Redis and the database, then stop the embedded Redis."""
        if self._closed:
            return
        self._closed = True
        await self.redis.aclose()
        await close_db()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()


def prepare_data_dir(settings: Settings) -> Path:
    """Create DATA_DIR and check that it is writable."""
    path = settings.data_dir.resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            "DATA_DIR", f"{path} is not writable ({exc.strerror})",
            "Point DATA_DIR at a directory this user can write",
        ) from None
    return path


def redis_retry() -> dict[str, Any]:
    """Client options that ride through a Redis restart: a command that finds the connection
    gone is sent again with backoff for about half a minute, instead of failing the process."""
    return {"retry": Retry(ExponentialBackoff(cap=2.0, base=0.1), 20),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionError, OSError]}


async def connect_redis(url: str, *, connect_timeout: float = 5.0) -> Redis:
    """A Redis client that answered PING; errors name REDIS_URL."""
    try:
        client: Redis = Redis.from_url(url, socket_connect_timeout=connect_timeout, **redis_retry())
    except ValueError as exc:
        raise ConfigError("REDIS_URL", f"is not a valid Redis URL ({exc})",
                          "Use redis://host:port/db or unset it for the embedded Redis") from None
    try:
        await asyncio.wait_for(client.ping(), connect_timeout + 1)
    except (RedisError, OSError, TimeoutError) as exc:
        await client.aclose()
        safe = url.split("@", 1)[-1]
        raise ConfigError(
            "REDIS_URL", f"no Redis answers at {safe} ({exc.__class__.__name__})",
            "Start the Redis server or fix the URL, or unset REDIS_URL to use the embedded Redis",
        ) from None
    return client


async def open_runtime(
    settings: Settings, *, migrate: bool = False, start_embedded_redis: bool = True,
    queue_factory: QueueFactory | None = None,
) -> Runtime:
    """Open everything one process needs, in order, undoing what was opened on failure."""
    prepare_data_dir(settings)
    secret = settings.secret_keys.get_secret_value() if settings.secret_keys else None
    keyring, pending_key_file = crypto.keyring_for(secret, settings.data_dir.resolve())
    crypto.install(keyring)
    embedded: EmbeddedRedis | None = None
    redis: Redis | None = None
    try:
        if settings.uses_embedded_redis and start_embedded_redis:
            embedded = EmbeddedRedis(settings.data_dir, port=settings.embedded_redis_port)
            redis_url = embedded.start()
        elif settings.redis_url:
            redis_url = settings.redis_url
        else:
            raise ConfigError("REDIS_URL", "is not set", "Set REDIS_URL to the Redis server")
        redis = await connect_redis(redis_url)
        if migrate:
            await run_migrations(settings.resolved_database_url)
        await init_db(settings.resolved_database_url)
        if pending_key_file is not None:
            crypto.write_key_file(*pending_key_file)
    except BaseException:
        if redis is not None:
            await redis.aclose()
        if embedded is not None:
            embedded.stop()
        raise
    services = build_services(settings, keyring, redis, queue_factory(redis) if queue_factory else None)
    await services.system.apply()
    return Runtime(settings, keyring, redis_url, redis, services, embedded)


def worker_id() -> str:
    """A name for this process in heartbeats."""
    return f"{os.uname().nodename}:{os.getpid()}"
