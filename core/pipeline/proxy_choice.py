"""Which proxy a job uses, from its connection's policy (specification §4.4.3).

Policy (``Connection.proxy_policy``)::

    {"mode": "round_robin" | "random" | "least_used" | "sticky",
     "pool": [proxy ids], "fallback_to_direct": false}

Without a pool the connection's own proxy is used, else the account's default proxy, else
a direct connection. Unhealthy and disabled proxies are skipped; when none is left the
job goes direct only if ``fallback_to_direct`` allows it, otherwise it fails with
``proxy_error`` naming the proxies.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from core.errors import ErrorCode, TransientError
from core.models import Account, Connection, Job, Proxy, ProxyHealth
from core.pipeline.rules import RuleError

MODES = ("round_robin", "random", "least_used", "sticky")


def check_policy(data: dict[str, Any] | None) -> dict[str, Any]:
    """Validate a policy; return it normalised."""
    data = dict(data or {})
    mode = data.get("mode", "sticky")
    if mode not in MODES:
        raise RuleError("proxy_policy.mode", f"'{mode}' is not a rotation mode; use {', '.join(MODES)}")
    pool = data.get("pool") or []
    if not isinstance(pool, list) or not all(isinstance(p, int) for p in pool):
        raise RuleError("proxy_policy.pool", "the pool is a list of proxy ids")
    tries = data.get("max_retry_per_proxy", 2)
    if isinstance(tries, bool) or not isinstance(tries, int) or not 0 <= tries <= 100:
        raise RuleError("proxy_policy.max_retry_per_proxy", "a whole number of tries, 0 to 100")
    return {"mode": mode, "pool": list(dict.fromkeys(pool)),
            "fallback_to_direct": bool(data.get("fallback_to_direct", False)),
            "max_retry_per_proxy": tries}


def usable(proxy: Proxy) -> bool:
    """Enabled and not marked unhealthy by the monitor."""
    return proxy.enabled and proxy.health != ProxyHealth.UNHEALTHY


async def choose_proxy(connection: Connection, account: Account, job: Job | None = None,
                       rng: random.Random | None = None) -> Proxy | None:
    """The proxy for one job (None = direct)."""
    policy = check_policy(connection.proxy_policy)
    if policy["pool"]:
        candidates = list(await Proxy.filter(id__in=policy["pool"]).order_by("id"))
    elif connection.proxy_id is not None:  # type: ignore[attr-defined]
        candidates = list(await Proxy.filter(id=connection.proxy_id))  # type: ignore[attr-defined]
    elif account.default_proxy_id is not None:  # type: ignore[attr-defined]
        candidates = list(await Proxy.filter(id=account.default_proxy_id))  # type: ignore[attr-defined]
    else:
        return None
    healthy = [p for p in candidates if p is not None and usable(p)]
    if not healthy:
        if policy["fallback_to_direct"]:
            return None
        names = ", ".join(p.alias for p in candidates if p is not None) or "none configured"
        raise TransientError(f"No healthy proxy for connection {connection.name} ({names})",
                             code=ErrorCode.PROXY_ERROR,
                             hint="Fix or replace the proxies (Proxies -> Test all), "
                                  "or allow a direct connection as fallback.")
    mode = policy["mode"]
    if mode == "random":
        return (rng or random.SystemRandom()).choice(healthy)
    if mode == "round_robin" and job is not None:
        return healthy[job.id % len(healthy)]
    if mode == "least_used":
        recent: list[Any] = await Job.filter(connection_id=connection.id).order_by("-id").limit(
            200).values_list("checkpoint", flat=True)
        used: Counter[int | None] = Counter((cp or {}).get("proxy_id") for cp in recent)
        return min(healthy, key=lambda p: (used.get(p.id, 0), p.id))
    return healthy[0]  # sticky: the first healthy proxy, the same for every job
