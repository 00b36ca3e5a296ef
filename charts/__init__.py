"""matplotlib renderers: data in, PNG bytes out, no I/O of their own.

Every ``render_*`` builds its own ``Figure`` on an Agg canvas (never pyplot), so calls share no
state and may run in threads. Images are 1080 px wide for phones, in Telegram's light or dark
colours, and byte-for-byte identical for identical input.
"""

from __future__ import annotations

from charts.calendar import render_uptime_calendar
from charts.model import Band, ConnectionStat, DailyPoint, band_of, clamp_rate
from charts.render import (
    merge_small,
    render_failure_breakdown,
    render_job_volume,
    render_success_trend,
    render_top_connections,
)
from charts.theme import DARK, LIGHT, Theme, ThemeName

__all__ = [
    "DARK",
    "LIGHT",
    "Band",
    "ConnectionStat",
    "DailyPoint",
    "Theme",
    "ThemeName",
    "band_of",
    "clamp_rate",
    "merge_small",
    "render_failure_breakdown",
    "render_job_volume",
    "render_success_trend",
    "render_top_connections",
    "render_uptime_calendar",
]
