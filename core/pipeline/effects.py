"""What a job's outcome does to its account and connections (specification §4.10, §4.11)."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import F, Q

from core.errors import ErrorCode
from core.models import (
    Account,
    AccountStatus,
    Connection,
    ConnectionStatus,
    LogEntry,
    LogLevel,
    Proxy,
    ProxyHealth,
)

# Error code -> the account status it leaves behind (the account then needs the admin).
ACCOUNT_STATUS_FOR: dict[ErrorCode, AccountStatus] = {
    ErrorCode.CAPTCHA_DETECTED: AccountStatus.CAPTCHA_DETECTED,
    ErrorCode.TOKEN_EXPIRED: AccountStatus.TOKEN_EXPIRED,
    ErrorCode.REQUIRES_REAUTH: AccountStatus.REQUIRES_REAUTH,
    ErrorCode.INVALID_CREDENTIALS: AccountStatus.REQUIRES_REAUTH,
    ErrorCode.LOGIN_REQUIRED: AccountStatus.REQUIRES_REAUTH,
    ErrorCode.ACCOUNT_SUSPENDED: AccountStatus.SUSPENDED,
    ErrorCode.ACTION_BLOCKED: AccountStatus.SUSPENDED,
}
# Codes that pause only the connection (the account itself is fine).
PAUSE_CONNECTION_FOR = {ErrorCode.FEEDBACK_REQUIRED, ErrorCode.COPYRIGHT_VIOLATION}


# Consecutive failures (health checks or jobs) after which a proxy is skipped (spec §4.4.2).
FAILURES_BEFORE_UNHEALTHY = 3


async def proxy_failed(proxy_id: int, message: str) -> bool:
    """A job could not get through the proxy: it counts as a failed check, so a dead proxy is
    skipped after a few jobs (and ``fallback_to_direct`` applies) instead of after the next
    monitor run. True when this failure made it unhealthy."""
    await Proxy.filter(id=proxy_id).update(consecutive_failures=F("consecutive_failures") + 1,
                                           last_error=message[:500])
    newly = await Proxy.filter(id=proxy_id, consecutive_failures__gte=FAILURES_BEFORE_UNHEALTHY).exclude(
        health=ProxyHealth.UNHEALTHY).update(health=ProxyHealth.UNHEALTHY)
    if newly:
        await LogEntry.create(level=LogLevel.WARNING, message=(
            f"Proxy {proxy_id} marked unhealthy after {FAILURES_BEFORE_UNHEALTHY} failures in a row: "
            f"{message}")[:2000])
    return bool(newly)


def uses(account_id: int) -> Q:
    """Connections that read from or post to the account."""
    return Q(source_account_id=account_id) | Q(destination_account_id=account_id)


async def pause_connections(account: Account, reason: str) -> list[int]:
    """Pause every active connection of ``account``; return their ids."""
    ids: list[Any] = await Connection.filter(uses(account.id), status=ConnectionStatus.ACTIVE).values_list(
        "id", flat=True)
    if ids:
        await Connection.filter(id__in=ids, status=ConnectionStatus.ACTIVE).update(
            status=ConnectionStatus.PAUSED, pause_reason=reason)
    return ids


async def account_needs_attention(account: Account, code: ErrorCode, message: str) -> list[int]:
    """Set the account's status for ``code`` and pause its connections; return the paused ids."""
    status = ACCOUNT_STATUS_FOR[code]
    account.status = status
    account.status_reason = message
    await account.save(update_fields=["status", "status_reason", "updated_at"])
    paused = await pause_connections(account, f"{account.alias}: {status.value.replace('_', ' ')}: {message}")
    await LogEntry.create(level=LogLevel.ERROR, account=account,
                          message=f"Account {account.alias} needs attention ({code.value}): {message}",
                          details={"paused_connections": paused, "code": code.value})
    return paused


async def other_account_blocked(connection: Connection, healthy: int) -> bool:
    """Whether the connection's other account (not ``healthy``) still keeps it paused."""
    ids = {connection.source_account_id, connection.destination_account_id} - {healthy}  # type: ignore[attr-defined]
    return await Account.filter(id__in=ids).exclude(
        status__in=(AccountStatus.ACTIVE, AccountStatus.EXPIRY_WARNING)).exists()


async def resume_connections(account: Account) -> list[Connection]:
    """Resume the connections paused because of ``account`` (their pause reason names it) once it is
    healthy again, unless their other account still blocks them; return the resumed ones.

    A connection the admin paused, or one paused for a proxy, stays paused. Each resume is conditional
    on the row still being paused, so two callers at once resume a connection once.
    """
    resumed: list[Connection] = []
    prefix = f"{account.alias}: "
    for connection in await Connection.filter(uses(account.id), status=ConnectionStatus.PAUSED):
        if not (connection.pause_reason or "").startswith(prefix):
            continue
        if await other_account_blocked(connection, account.id):
            continue
        changed = await Connection.filter(id=connection.id, status=ConnectionStatus.PAUSED).update(
            status=ConnectionStatus.ACTIVE, pause_reason=None)
        if changed:
            resumed.append(connection)
    if resumed:
        await LogEntry.create(level=LogLevel.INFO, account=account,
                              message=f"Account {account.alias} is healthy again: resumed "
                                      + ", ".join(c.name for c in resumed),
                              details={"resumed_connections": [c.id for c in resumed]})
    return resumed


async def pause_connection(connection: Connection, reason: str) -> None:
    """Pause one connection with the reason."""
    await Connection.filter(id=connection.id, status=ConnectionStatus.ACTIVE).update(
        status=ConnectionStatus.PAUSED, pause_reason=reason)
    await LogEntry.create(level=LogLevel.WARNING, connection=connection,
                          message=f"Connection {connection.name} paused: {reason}")
