"""Random faults for the wire-level fakes: a seeded share of requests fails with a 5xx, or times out.

Off unless a fake is given a ``RandomFaults`` (its ``faults`` field). A chosen request either

* gets a 5xx answer in the platform's own error shape (the fake builds it), without being
  handled, or
* times out: no answer comes; after ``hang_seconds`` the connection is dropped. Half of those
  (seeded) are handled first, so the server did the work and only the answer was lost —
  what a client that gave up waiting cannot tell apart, and the case that makes an upload
  run twice unless the client resumes instead of starting over.

Only paths containing one of ``paths`` are eligible (all paths when it is empty), so a test
can fail what it studies and leave the rest alone. ``injected`` counts what was done.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorAnswer = Callable[[int], web.StreamResponse]

FIVE_XX = "5xx"
TIMEOUT = "timeout"
LOST = "timeout_after_handling"


@dataclass
class RandomFaults:
    """Fail ``rate`` of the eligible requests, at random from ``seed``."""

    rate: float = 0.2
    seed: int = 0
    paths: tuple[str, ...] = ()
    statuses: tuple[int, ...] = (500, 502, 503)
    timeout_share: float = 0.5
    hang_seconds: float = 0.5
    enabled: bool = True
    forced: list[str | None] = field(default_factory=list)
    """What the next eligible requests get, in order, before any random draw (None: no fault)."""
    injected: Counter[str] = field(default_factory=Counter)
    eligible: int = 0
    log: list[tuple[float, str, str, str]] = field(default_factory=list)
    """(time.time(), kind, method, path with query) of each injected fault."""
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def _pick(self, path: str) -> str | None:
        if not self.enabled or (self.paths and not any(p in path for p in self.paths)):
            return None
        self.eligible += 1
        if self.forced:
            return self.forced.pop(0)
        if self._rng.random() >= self.rate:
            return None
        if self._rng.random() >= self.timeout_share:
            return FIVE_XX
        return LOST if self._rng.random() < 0.5 else TIMEOUT

    async def serve(self, request: web.Request, handle: Handler, error: ErrorAnswer) -> web.StreamResponse:
        """Answer ``request`` through ``handle``, unless this one is chosen to fail."""
        kind = self._pick(request.path)
        if kind is None:
            return await handle(request)
        self.injected[kind] += 1
        self.log.append((time.time(), kind, request.method, request.path_qs))
        if kind == FIVE_XX:
            if request.can_read_body:
                await request.read()
            return error(self._rng.choice(self.statuses))
        if kind == LOST:
            with contextlib.suppress(web.HTTPException):
                await handle(request)
        elif request.can_read_body:
            await request.read()
        await asyncio.sleep(self.hang_seconds)
        if request.transport is not None:
            request.transport.abort()  # the client sees the connection drop with no answer
        raise asyncio.CancelledError  # nothing more is written; aiohttp closes the handler quietly

    def summary(self) -> str:
        """``eligible N, 5xx a, timeout b, timeout_after_handling c``."""
        parts = [f"eligible {self.eligible}"] + [f"{k} {self.injected[k]}" for k in (FIVE_XX, TIMEOUT, LOST)]
        return ", ".join(parts)
