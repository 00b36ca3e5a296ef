"""A clock tests set and move: services take ``clock=`` and call it for "now"."""

from __future__ import annotations

from datetime import datetime, timedelta


class Clock:
    """Returns ``now``; ``advance`` moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
