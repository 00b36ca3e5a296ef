"""QuotaLedger: limits, the separate uploads bucket and the Pacific-midnight reset."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from core.errors import ErrorCode, QuotaExceeded
from core.platforms.quota import QuotaLedger, next_reset, pacific_day

# 2026-05-14 20:00 PDT: still May 14 in Pacific time although UTC is on May 15.
NOW = datetime(2026, 5, 15, 3, 0, tzinfo=UTC)


def test_pacific_day_and_reset() -> None:
    assert pacific_day(NOW) == date(2026, 5, 14)
    assert next_reset(NOW) == datetime(2026, 5, 15, 7, 0, tzinfo=UTC)  # PDT = UTC-7


def test_reset_across_dst_boundaries() -> None:
    # DST starts 2026-03-08: midnight that day is still PST (UTC-8), the next one PDT (UTC-7).
    assert next_reset(datetime(2026, 3, 7, 20, 0, tzinfo=UTC)) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert next_reset(datetime(2026, 3, 8, 20, 0, tzinfo=UTC)) == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    # DST ends 2026-11-01: the following midnight is PST again.
    assert next_reset(datetime(2026, 11, 1, 12, 0, tzinfo=UTC)) == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        pacific_day(datetime(2026, 1, 1))


async def test_spend_up_to_the_limit_then_refuse(db: str) -> None:
    ledger = QuotaLedger()
    assert await ledger.spend("proj", 6, daily_limit=10, now=NOW) == 6
    assert await ledger.spend("proj", 4, daily_limit=10, now=NOW) == 10
    with pytest.raises(QuotaExceeded) as info:
        await ledger.spend("proj", 1, daily_limit=10, now=NOW)
    assert info.value.code is ErrorCode.QUOTA_EXCEEDED
    assert info.value.reset_at == datetime(2026, 5, 15, 7, 0, tzinfo=UTC)
    assert info.value.reset_at.tzinfo is not None
    use = await ledger.used("proj", now=NOW)
    assert (use.units, use.calls, use.uploads) == (10, 2, 0)  # the refused call was not recorded


async def test_refused_before_recording_on_dst_day(db: str) -> None:
    ledger = QuotaLedger()
    now = datetime(2026, 3, 8, 20, 0, tzinfo=UTC)  # 13:00 PDT on the day DST starts
    await ledger.spend("proj", 8, daily_limit=10, now=now)
    with pytest.raises(QuotaExceeded) as info:
        await ledger.spend("proj", 3, daily_limit=10, now=now)
    assert info.value.reset_at == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    assert (await ledger.used("proj", now=now)).units == 8


async def test_uploads_bucket_is_separate(db: str) -> None:
    ledger = QuotaLedger()
    await ledger.spend("proj", 10, daily_limit=10, now=NOW)
    assert await ledger.spend_upload("proj", daily_uploads=2, now=NOW) == 1
    assert await ledger.spend_upload("proj", daily_uploads=2, now=NOW) == 2
    with pytest.raises(QuotaExceeded):
        await ledger.spend_upload("proj", daily_uploads=2, now=NOW)
    use = await ledger.used("proj", now=NOW)
    assert (use.units, use.uploads) == (10, 2)
    assert (await ledger.used("other", now=NOW)).uploads == 0


async def test_new_pacific_day_starts_at_zero(db: str) -> None:
    ledger = QuotaLedger()
    await ledger.spend("proj", 10, daily_limit=10, now=NOW)
    after = next_reset(NOW)
    assert (await ledger.used("proj", now=after)).units == 0
    assert await ledger.spend("proj", 10, daily_limit=10, now=after) == 10


async def test_concurrent_spenders_never_pass_the_limit(db: str) -> None:
    ledger = QuotaLedger()
    await ledger.spend("proj", 0, daily_limit=10, now=NOW)  # the row exists before the race
    results = await asyncio.gather(
        *(ledger.spend("proj", 3, daily_limit=10, now=NOW) for _ in range(6)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(refused) == 3
    assert (await ledger.used("proj", now=NOW)).units == 9


async def test_spending_without_reading_the_total_back(db: str) -> None:
    ledger = QuotaLedger()
    assert await ledger.spend("quick", 3, daily_limit=5, now=NOW, total=False) is None
    assert await ledger.spend_upload("quick", daily_uploads=1, now=NOW, total=False) is None
    use = await ledger.used("quick", now=NOW)
    assert (use.units, use.uploads) == (3, 1)
    with pytest.raises(QuotaExceeded):
        await ledger.spend("quick", 3, daily_limit=5, now=NOW, total=False)
