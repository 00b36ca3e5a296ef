"""Render time per chart on 30 days of sample data, light and dark theme (mean of N runs).

    .venv/bin/python bench/charts.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charts import (  # noqa: E402
    render_failure_breakdown,
    render_job_volume,
    render_success_trend,
    render_top_connections,
    render_uptime_calendar,
)
from charts.samples import SAMPLE  # noqa: E402


def main(runs: int) -> None:
    cases = {
        "success trend": lambda theme: render_success_trend(SAMPLE.points, theme=theme),
        "job volume": lambda theme: render_job_volume(SAMPLE.points, theme=theme),
        "failure breakdown": lambda theme: render_failure_breakdown(SAMPLE.failures, theme=theme),
        "top connections": lambda theme: render_top_connections(SAMPLE.connections, theme=theme),
        "uptime calendar": lambda theme: render_uptime_calendar(SAMPLE.uptime, theme=theme),
    }
    for name, render in cases.items():
        cells = []
        for theme in ("light", "dark"):
            render(theme)  # warm-up: fonts and caches
            times, size = [], 0
            for _ in range(runs):
                start = time.perf_counter()
                size = len(render(theme))
                times.append((time.perf_counter() - start) * 1000)
            cells.append(f"{theme} {statistics.mean(times):6.1f} ms ({size // 1024} KiB)")
        print(f"{name:18} " + "   ".join(cells))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)
