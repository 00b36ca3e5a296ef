"""Proxies: add, change, remove, list, and health-check them (specification §4.4)."""

from __future__ import annotations

import asyncio
from typing import Any

from tortoise.exceptions import IntegrityError

from core.errors import NotFound
from core.models import Account, Connection, Proxy, ProxyAssignment, ProxyHealth
from core.pipeline.effects import FAILURES_BEFORE_UNHEALTHY
from core.platforms.proxy import ProxyCheck, ProxyInputError, ProxySpec, check_proxy, parse_port

_CHECK_CONCURRENCY = 5
_SPEC_FIELDS = ("type", "host", "port", "username", "password")


def _check_alias(alias: str) -> str:
    alias = str(alias).strip()
    if not alias:
        raise ProxyInputError("alias", "alias must not be empty")
    if len(alias) > 64:
        raise ProxyInputError("alias", f"alias must be at most 64 characters, got {len(alias)}")
    return alias


def _check_assignment(assignment: str) -> ProxyAssignment:
    try:
        return ProxyAssignment(str(assignment).strip().lower())
    except ValueError:
        choices = ", ".join(a.value for a in ProxyAssignment)
        message = f"assignment must be one of {choices}, got '{assignment}'"
        raise ProxyInputError("assignment", message) from None


class ProxyService:
    """Stores proxies with encrypted credentials and records their health."""

    def __init__(self, check_urls: list[str], timeout: float = 10.0, owner_id: int = 0) -> None:
        self.check_urls = list(check_urls)
        self.timeout = timeout
        self.owner_id = owner_id

    async def create(
        self, alias: str, type: str, host: str, port: int | str,
        username: str | None = None, password: str | None = None, assignment: str = "global",
    ) -> Proxy:
        """Validate, then save a proxy (unchecked); a duplicate alias is refused."""
        alias = _check_alias(alias)
        spec = ProxySpec(type, host, parse_port(port), username, password, alias)
        kind = _check_assignment(assignment)
        await self._refuse_duplicate(alias)
        try:
            return await Proxy.create(
                owner_id=self.owner_id, alias=alias, type=spec.type, host=spec.host, port=spec.port,
                username=spec.username, password=spec.password, assignment=kind,
            )
        except IntegrityError:  # a concurrent create won the race for the alias
            raise ProxyInputError("alias", f"a proxy named '{alias}' already exists") from None

    async def update(self, proxy_id: int, **changes: Any) -> Proxy:
        """Change fields; new address or credentials reset health to unchecked."""
        proxy = await self.get(proxy_id)
        unknown = set(changes) - {*_SPEC_FIELDS, "alias", "assignment", "enabled"}
        if unknown:
            raise ProxyInputError(sorted(unknown)[0], f"cannot change {', '.join(sorted(unknown))}")
        current = {name: getattr(proxy, name) for name in _SPEC_FIELDS}
        merged = {**current, **{k: v for k, v in changes.items() if k in _SPEC_FIELDS}}
        alias = _check_alias(changes.get("alias", proxy.alias))
        spec = ProxySpec(str(merged["type"]), merged["host"], parse_port(merged["port"]),
                         merged["username"], merged["password"], alias)
        assignment = _check_assignment(changes.get("assignment", proxy.assignment))
        if alias != proxy.alias:
            await self._refuse_duplicate(alias)
        moved = any(getattr(spec, name) != current[name] for name in _SPEC_FIELDS)
        proxy.alias, proxy.assignment = alias, assignment
        proxy.type, proxy.host, proxy.port = spec.type, spec.host, spec.port  # type: ignore[assignment]
        proxy.username, proxy.password = spec.username, spec.password
        if "enabled" in changes:
            proxy.enabled = bool(changes["enabled"])
        if moved:
            # Old results describe another server.
            proxy.health, proxy.consecutive_failures = ProxyHealth.UNCHECKED, 0
            proxy.latency_ms = None
            proxy.last_error = None  # type: ignore[assignment]  # nullable column
        await proxy.save()
        return proxy

    async def delete(self, proxy_id: int) -> None:
        """Remove a proxy no account or connection uses.

        Refused while in use: the foreign keys would silently set null and the jobs would
        then run without a proxy, exposing the server's own address to the platform.
        """
        proxy = await self.get(proxy_id)
        connections = await Connection.filter(proxy_id=proxy.id).values_list("name", flat=True)
        accounts = await Account.filter(default_proxy_id=proxy.id).values_list("alias", flat=True)
        if connections or accounts:
            users = [f"connection '{n}'" for n in connections] + [f"account '{a}'" for a in accounts]
            raise ProxyInputError(
                "proxy", f"proxy '{proxy.alias}' is used by {', '.join(users)}; assign another proxy first"
            )
        await proxy.delete()

    async def get(self, proxy_id: int) -> Proxy:
        """One proxy of this owner, or NotFound."""
        proxy = await Proxy.get_or_none(id=proxy_id, owner_id=self.owner_id)
        if proxy is None:
            raise NotFound(f"Proxy #{proxy_id} does not exist")
        return proxy

    async def list(self) -> list[Proxy]:
        """Every proxy of this owner, by alias."""
        return await Proxy.filter(owner_id=self.owner_id).order_by("alias")

    async def health_check(self, proxy_id: int) -> ProxyCheck:
        """Check one proxy against the check URLs and record the result on its row."""
        proxy = await self.get(proxy_id)
        check = await check_proxy(ProxySpec.from_model(proxy), self.check_urls, timeout=self.timeout)
        await self._record(proxy, check)
        return check

    async def health_check_all(self) -> dict[int, ProxyCheck]:
        """Check every enabled proxy, a few at a time; returns results by proxy id."""
        limit = asyncio.Semaphore(_CHECK_CONCURRENCY)
        proxies = await Proxy.filter(owner_id=self.owner_id, enabled=True).order_by("id")

        async def one(proxy: Proxy) -> tuple[int, ProxyCheck]:
            async with limit:
                return proxy.id, await self.health_check(proxy.id)

        return dict(await asyncio.gather(*(one(p) for p in proxies)))

    async def _record(self, proxy: Proxy, check: ProxyCheck) -> None:
        # Re-read: another check of this proxy may have finished since it was loaded.
        await proxy.refresh_from_db(fields=["consecutive_failures", "health"])
        proxy.last_check_at = check.checked_at
        proxy.latency_ms = check.average_latency_ms
        if check.ok:
            proxy.health, proxy.consecutive_failures = ProxyHealth.HEALTHY, 0
            proxy.last_success_at = check.checked_at
            proxy.last_error = None  # type: ignore[assignment]  # nullable column
        else:
            proxy.consecutive_failures += 1
            proxy.last_error = check.error  # type: ignore[assignment]  # nullable column
            if proxy.consecutive_failures >= FAILURES_BEFORE_UNHEALTHY:
                proxy.health = ProxyHealth.UNHEALTHY
        await proxy.save(update_fields=[
            "last_check_at", "latency_ms", "health", "consecutive_failures",
            "last_success_at", "last_error", "updated_at",
        ])

    async def _refuse_duplicate(self, alias: str) -> None:
        if await Proxy.filter(owner_id=self.owner_id, alias=alias).exists():
            raise ProxyInputError("alias", f"a proxy named '{alias}' already exists")
