"""System settings (validated, applied) and the log."""

from __future__ import annotations

import pytest

from core.bootstrap import Runtime
from core.errors import InvalidInput, NotFound
from core.models import LogEntry, LogLevel, Setting


async def test_settings_defaults_update_and_refusal(runtime: Runtime) -> None:
    system = runtime.services.system
    assert (await system.settings())["quota"]["youtube_daily_uploads"] == 100
    await system.update("quota", {"youtube_daily_uploads": 250})
    assert runtime.services.platforms.youtube_daily_uploads == 250  # applied at once
    await system.update("general", {"instance_name": "Snapcore", "timezone": "Asia/Kolkata"})
    assert runtime.services.alerts.instance == "Snapcore"
    assert runtime.services.alerts.timezone == "Asia/Kolkata"
    with pytest.raises(InvalidInput) as info:
        await system.update("retention", {"logs_days": 0, "bogus": 1})
    assert info.value.fields == {"retention.logs_days": "choose a number from 1 to 3650",
                                 "retention.bogus": "unknown setting"}
    assert await Setting.filter(key="retention").count() == 0  # nothing stored half-way
    with pytest.raises(InvalidInput) as retry:
        await system.update("retry", {"max_attempts": 50})
    assert retry.value.fields == {"retry.max_attempts": "between 1 and 20 attempts"}
    with pytest.raises(NotFound):
        await system.update("nope", {})


async def test_logs_by_level_and_filters(runtime: Runtime) -> None:
    for level in (LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR):
        await LogEntry.create(level=level, message=level.value)
    total, page = await runtime.services.system.logs(min_level=LogLevel.WARNING)
    assert total == 2 and [e.message for e in page] == ["error", "warning"]
    total, page = await runtime.services.system.logs(min_level=LogLevel.DEBUG, limit=1, offset=1)
    assert total == 4 and [e.message for e in page] == ["warning"]


async def test_several_sections_are_all_or_nothing(runtime: Runtime) -> None:
    system = runtime.services.system
    with pytest.raises(InvalidInput) as info:
        await system.update_many({"quota": {"youtube_daily_uploads": 300}, "retention": {"logs_days": 0}})
    assert info.value.fields == {"retention.logs_days": "choose a number from 1 to 3650"}
    assert (await system.settings())["quota"]["youtube_daily_uploads"] == 100  # the valid one was not stored
    assert runtime.services.platforms.youtube_daily_uploads == 100
    done = await system.update_many({"quota": {"youtube_daily_uploads": 300}, "retention": {"logs_days": 9}})
    assert done["retention"]["logs_days"] == 9 and runtime.services.platforms.youtube_daily_uploads == 300
