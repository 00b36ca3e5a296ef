"""Proxy choice per job from the connection's policy."""

from __future__ import annotations

import random
from typing import Any

import pytest

from core.errors import ErrorCode, TransientError
from core.models import (
    Account,
    AuthMethod,
    Connection,
    Direction,
    Job,
    Platform,
    Proxy,
    ProxyHealth,
    ProxyType,
    SourcePost,
)
from core.pipeline.proxy_choice import check_policy, choose_proxy
from core.pipeline.rules import RuleError


async def setup(policy: dict[str, Any] | None = None, *, unhealthy: int | None = None,
                own: bool = False, default: bool = False) -> tuple[Connection, Account, list[Proxy]]:
    proxies = [await Proxy.create(alias=f"p{i}", type=ProxyType.HTTP, host="127.0.0.1", port=1000 + i)
               for i in range(3)]
    if unhealthy is not None:
        proxies[unhealthy].health = ProxyHealth.UNHEALTHY
        await proxies[unhealthy].save()
    src = await Account.create(platform=Platform.INSTAGRAM, alias="s", auth_method=AuthMethod.PRIVATE_API,
                               default_proxy=proxies[2] if default else None)
    dst = await Account.create(platform=Platform.YOUTUBE, alias="d", auth_method=AuthMethod.OAUTH)
    conn = await Connection.create(name="c", direction=Direction.INSTAGRAM_TO_YOUTUBE, source_account=src,
                                   destination_account=dst, proxy=proxies[1] if own else None,
                                   proxy_policy=policy or {})
    return conn, src, proxies


async def jobs(conn: Connection, n: int) -> list[Job]:
    out = []
    for i in range(n):
        post = await SourcePost.create(connection=conn, source_post_id=f"x{i}")
        out.append(await Job.create(connection=conn, source_post=post))
    return out


async def test_direct_without_any_proxy(db: str) -> None:
    conn, src, _ = await setup()
    assert await choose_proxy(conn, src) is None


async def test_the_connections_own_proxy(db: str) -> None:
    conn, src, proxies = await setup(own=True, default=True)
    assert (await choose_proxy(conn, src)).alias == "p1"  # type: ignore[union-attr]


async def test_account_default_when_the_connection_has_none(db: str) -> None:
    conn, src, _ = await setup(default=True)
    assert (await choose_proxy(conn, src)).alias == "p2"  # type: ignore[union-attr]


async def test_round_robin_skips_unhealthy(db: str) -> None:
    conn, src, proxies = await setup({"mode": "round_robin", "pool": [], "fallback_to_direct": False},
                                     unhealthy=1)
    conn.proxy_policy = {"mode": "round_robin", "pool": [p.id for p in proxies]}
    picks = [(await choose_proxy(conn, src, job)).alias for job in await jobs(conn, 4)]  # type: ignore[union-attr]
    assert sorted(set(picks)) == ["p0", "p2"] and picks[0] != picks[1]


async def test_random_sticky_and_least_used(db: str) -> None:
    conn, src, proxies = await setup()
    ids = [p.id for p in proxies]
    conn.proxy_policy = {"mode": "random", "pool": ids}
    rng = random.Random(4)
    assert {(await choose_proxy(conn, src, None, rng)).alias for _ in range(30)} == {  # type: ignore[union-attr]
        "p0", "p1", "p2"}
    conn.proxy_policy = {"mode": "sticky", "pool": ids}
    assert {(await choose_proxy(conn, src)).alias for _ in range(3)} == {"p0"}  # type: ignore[union-attr]
    conn.proxy_policy = {"mode": "least_used", "pool": ids}
    made = await jobs(conn, 3)
    for job, proxy in zip(made, (proxies[0], proxies[0], proxies[2]), strict=True):
        await Job.filter(id=job.id).update(checkpoint={"proxy_id": proxy.id})
    assert (await choose_proxy(conn, src)).alias == "p1"  # type: ignore[union-attr]


async def test_no_healthy_proxy(db: str) -> None:
    conn, src, proxies = await setup()
    for p in proxies:
        p.health = ProxyHealth.UNHEALTHY
        await p.save()
    conn.proxy_policy = {"mode": "round_robin", "pool": [p.id for p in proxies]}
    with pytest.raises(TransientError) as info:
        await choose_proxy(conn, src)
    assert info.value.code is ErrorCode.PROXY_ERROR and "p0, p1, p2" in info.value.message
    conn.proxy_policy = {**conn.proxy_policy, "fallback_to_direct": True}
    assert await choose_proxy(conn, src) is None


def test_policy_validation() -> None:
    assert check_policy(None)["mode"] == "sticky"
    with pytest.raises(RuleError) as info:
        check_policy({"mode": "fastest"})
    assert info.value.field == "proxy_policy.mode"
    with pytest.raises(RuleError):
        check_policy({"pool": ["a"]})
