"""Monitors the worker runs on crons (specification §4.2.3, §4.4.2, §4.6.2, retention).

* ``check_tokens`` (every 6 h): expiry within ``alert_before_days`` -> expiry_warning and an
  alert; expired -> token_expired, its connections paused, an alert. Each once per change.
* ``refresh_tokens`` (hourly): YouTube tokens expiring within 6 h and Graph long-lived
  tokens within ``alert_before_days`` (at least 7 days) are refreshed; a failed refresh ->
  requires_reauth, connections paused, an alert.
* ``check_proxies`` (every 30 min): 3 consecutive failures -> unhealthy and an alert; a
  connection that only has this proxy is paused (one with a pool fails over by itself);
  when the proxy recovers, the connections it paused are resumed.
* ``retention`` (daily): logs, sent alerts and failed jobs' files past their age are deleted;
  the freed bytes are reported.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.expressions import Q

from core.errors import ErrorCode, ForwarderError
from core.models import (
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    DeliveryStatus,
    Job,
    JobStatus,
    LogEntry,
    LogLevel,
    Notification,
    Platform,
    Proxy,
    ProxyHealth,
    Setting,
)
from core.pipeline import effects
from core.pipeline.rules import aware
from core.services.alerts import AlertKind, AlertService
from core.services.system import DEFAULTS

RETENTION_KEY = "retention"
RETENTION_DEFAULTS = DEFAULTS[RETENTION_KEY]  # the system settings' section, one source of the defaults
YOUTUBE_REFRESH_WINDOW = timedelta(hours=6)
GRAPH_REFRESH_MIN_DAYS = 7
PROXY_PAUSE = "proxy {alias} is unhealthy"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class MonitorReport:
    """What a monitor run changed."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)
    paused: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    freed_bytes: int = 0
    deleted: dict[str, int] = field(default_factory=dict)


class MonitorService:
    """Tokens, proxies and retention; every check takes its time from ``clock``."""

    def __init__(self, *, alerts: AlertService | None, oauth: Any = None, factory: Any = None,
                 proxies: Any = None, data_dir: Path | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.alerts = alerts
        self.oauth = oauth  # OAuthService (YouTube refresh)
        self.factory = factory  # PlatformFactory (Graph refresh)
        self.proxies = proxies  # ProxyService
        self.data_dir = data_dir
        self.clock = clock

    async def _alert(self, kind: AlertKind, **payload: Any) -> None:
        if self.alerts is not None:
            await self.alerts.notify(kind, **payload)

    # ---- tokens ---------------------------------------------------------------------

    async def check_tokens(self) -> MonitorReport:
        """Compare expiries with each account's ``alert_before_days``."""
        now, report = self.clock(), MonitorReport()
        for account in await Account.filter(token_expiry__isnull=False):
            report.checked += 1
            expiry = aware(account.token_expiry)
            assert expiry is not None
            refreshable = bool((account.credentials or {}).get("refresh_token")) and \
                account.platform == Platform.YOUTUBE
            if refreshable:
                continue  # short-lived access tokens: the refresh monitor keeps them alive
            if expiry <= now and account.status in (AccountStatus.ACTIVE, AccountStatus.EXPIRY_WARNING):
                paused = await effects.account_needs_attention(
                    account, ErrorCode.TOKEN_EXPIRED, f"the token expired on {expiry:%Y-%m-%d %H:%M} UTC")
                report.changed.append(f"{account.alias}: token_expired")
                report.paused += paused
                await self._alert(AlertKind.TOKEN_EXPIRED, account=account.alias, account_id=account.id,
                                  token_type=_token_type(account), status="EXPIRED", expires=expiry,
                                  action=f"Accounts -> {account.alias} -> Update credentials",
                                  affected=await _names(paused))
            elif expiry - now <= timedelta(days=account.alert_before_days) and expiry > now \
                    and account.status is AccountStatus.ACTIVE:
                account.status = AccountStatus.EXPIRY_WARNING
                account.status_reason = f"the token expires on {expiry:%Y-%m-%d %H:%M} UTC"
                await account.save(update_fields=["status", "status_reason", "updated_at"])
                report.changed.append(f"{account.alias}: expiry_warning")
                await self._alert(AlertKind.TOKEN_EXPIRING, account=account.alias, account_id=account.id,
                                  token_type=_token_type(account), expires=expiry,
                                  status=f"expires in {_days(expiry - now)}",
                                  action=f"Accounts -> {account.alias} -> Refresh token")
        return report

    async def refresh_tokens(self) -> MonitorReport:
        """Refresh tokens that are due; a failure pauses what depends on them."""
        now, report = self.clock(), MonitorReport()
        usable = [AccountStatus.ACTIVE, AccountStatus.EXPIRY_WARNING]
        for account in await Account.filter(status__in=usable, token_expiry__isnull=False):
            expiry = aware(account.token_expiry)
            assert expiry is not None
            youtube = account.platform == Platform.YOUTUBE and self.oauth is not None
            graph = account.auth_method == AuthMethod.GRAPH_API and self.factory is not None
            window = YOUTUBE_REFRESH_WINDOW if youtube else timedelta(
                days=max(account.alert_before_days, GRAPH_REFRESH_MIN_DAYS))
            if not (youtube or graph) or expiry - now > window:
                continue
            report.checked += 1
            try:
                if youtube:
                    await self.oauth.refresh(account)
                else:
                    async with self.factory.source(account) as adapter:
                        new_expiry = await adapter.refresh_token()
                    await Account.filter(id=account.id).update(token_expiry=new_expiry)
            except ForwarderError as exc:
                if exc.retriable:
                    report.changed.append(f"{account.alias}: refresh postponed ({exc.message})")
                    continue
                paused = await effects.account_needs_attention(account, ErrorCode.REQUIRES_REAUTH,
                                                               exc.message)
                report.changed.append(f"{account.alias}: requires_reauth")
                report.paused += paused
                await self._alert(AlertKind.REFRESH_FAILED, account=account.alias, account_id=account.id,
                                  token_type=_token_type(account), error=exc.message,
                                  status="REQUIRES RE-AUTHORIZATION", action=exc.hint,
                                  affected=await _names(paused))
                continue
            await Account.filter(id=account.id, status=AccountStatus.EXPIRY_WARNING).update(
                status=AccountStatus.ACTIVE, status_reason=None)
            report.changed.append(f"{account.alias}: refreshed")
        return report

    # ---- proxies --------------------------------------------------------------------

    async def check_proxies(self) -> MonitorReport:
        """Health-check every enabled proxy and act on changes."""
        report = MonitorReport()
        before = {p.id: p.health for p in await Proxy.filter(enabled=True)}
        await self.proxies.health_check_all()
        for proxy in await Proxy.filter(id__in=list(before)):
            report.checked += 1
            was, now = before[proxy.id], proxy.health
            if now is ProxyHealth.UNHEALTHY and was is not ProxyHealth.UNHEALTHY:
                paused = await self._pause_for(proxy)
                report.paused += paused
                report.changed.append(f"{proxy.alias}: unhealthy")
                await self._alert(AlertKind.PROXY_UNHEALTHY, proxy_id=proxy.id, status="UNHEALTHY",
                                  proxy=f"{proxy.alias} ({proxy.host}:{proxy.port})",
                                  failed_checks=f"{proxy.consecutive_failures} consecutive",
                                  last_success=proxy.last_success_at, error=proxy.last_error,
                                  affected=await _names(paused, suffix=" (paused)"),
                                  action="Check the proxy server and its credentials, test it, "
                                         "or replace it; connections with a pool use the others")
            elif now is ProxyHealth.HEALTHY and was is ProxyHealth.UNHEALTHY:
                reason = PROXY_PAUSE.format(alias=proxy.alias)
                ids: list[Any] = await Connection.filter(status=ConnectionStatus.PAUSED,
                                                         pause_reason=reason).values_list("id", flat=True)
                if ids:
                    await Connection.filter(id__in=ids).update(status=ConnectionStatus.ACTIVE,
                                                               pause_reason=None)
                report.resumed += [int(i) for i in ids]
                report.changed.append(f"{proxy.alias}: recovered")
        return report

    async def _pause_for(self, proxy: Proxy) -> list[int]:
        """Pause active connections left without a usable proxy because of ``proxy``."""
        paused: list[int] = []
        candidates = await Connection.filter(status=ConnectionStatus.ACTIVE).filter(
            Q(proxy_id=proxy.id) | Q(proxy_policy__isnull=False))
        for connection in candidates:
            policy = connection.proxy_policy or {}
            pool = policy.get("pool") or []
            if pool:
                if proxy.id not in pool or policy.get("fallback_to_direct"):
                    continue
                healthy = await Proxy.filter(id__in=pool, enabled=True).exclude(
                    health=ProxyHealth.UNHEALTHY).exists()
                if healthy:
                    continue  # the pool fails over
            elif connection.proxy_id != proxy.id:
                continue
            await Connection.filter(id=connection.id).update(
                status=ConnectionStatus.PAUSED, pause_reason=PROXY_PAUSE.format(alias=proxy.alias))
            paused.append(connection.id)
        return paused

    # ---- retention ------------------------------------------------------------------

    async def retention_settings(self) -> dict[str, int]:
        row = await Setting.get_or_none(owner_id=0, key=RETENTION_KEY)
        return {**RETENTION_DEFAULTS, **(dict(row.value or {}) if row else {})}

    async def retention(self) -> MonitorReport:
        """Delete what is older than the retention settings; report freed bytes."""
        now, report, days = self.clock(), MonitorReport(), await self.retention_settings()
        logs = await LogEntry.filter(created_at__lt=now - timedelta(days=days["logs_days"])).delete()
        sent_before = now - timedelta(days=days["notifications_days"])
        notes = await Notification.filter(status=DeliveryStatus.SENT, created_at__lt=sent_before).delete()
        report.deleted = {"logs": logs, "notifications": notes, "job_folders": 0}
        if self.data_dir is not None:
            cutoff = now - timedelta(days=days["job_files_days"])
            ended = [JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SUCCESS]
            old: list[Any] = await Job.filter(status__in=ended, updated_at__lt=cutoff).values_list(
                "id", flat=True)
            for job_id in old:
                folder = self.data_dir / "jobs" / str(job_id)
                size = await asyncio.to_thread(_size, folder)
                if size is None:
                    continue
                await asyncio.to_thread(shutil.rmtree, folder, True)
                report.freed_bytes += size
                report.deleted["job_folders"] += 1
        if report.freed_bytes or logs or notes:
            await LogEntry.create(level=LogLevel.INFO, message=f"Retention freed {report.freed_bytes} bytes "
                                  f"({report.deleted})", details=report.deleted)
        return report


def _size(folder: Path) -> int | None:
    if not folder.is_dir():
        return None
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _token_type(account: Account) -> str:
    if account.platform == Platform.YOUTUBE:
        return "YouTube OAuth token"
    return "Instagram Graph long-lived token" if account.auth_method == AuthMethod.GRAPH_API \
        else "Instagram session"


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


async def _names(ids: list[int], suffix: str = "") -> list[str]:
    if not ids:
        return []
    names: list[Any] = await Connection.filter(id__in=ids).order_by("name").values_list("name", flat=True)
    return [f"{n}{suffix}" for n in names]
