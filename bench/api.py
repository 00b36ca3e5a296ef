"""Mini App API latency: N concurrent clients against the real web app on a seeded SQLite.

A fresh SQLite database is seeded like a busy install (50 connections, 10 accounts, 20
proxies, ``--jobs`` jobs spread over 90 days with mixed statuses, two log lines per job,
500 notifications, quota rows). The web app is the production entry point, ``forwarder
web``, run as a CHILD process on 127.0.0.1 with an embedded Redis, so the load generator's
work is not counted in the server's process. ``--clients`` aiohttp clients (one keep-alive
connection each, like one open Mini App each) call the read endpoints the Mini App's
screens call, with a valid ``Authorization: tma <initData>``, for ``--seconds``; each
client waits a random think time (exponential, mean ``--think`` s; 0 = back to back, which
only measures queueing) between requests.

Prints per endpoint: requests, p50, p95, max (ms, measured at the client), then the
queries one such request makes and its CPU cost served alone (median of 5, measured
beforehand in this process on the same data: what to fix when an endpoint is slow); then
overall read p95, requests/s and the server's CPU per request. A second phase
(``--chart-seconds``, ``--chart-clients``) does the same for the PNG charts, which
matplotlib renders on the server. ``--seconds 0`` prints only the per-request queries and
CPU; ``--what-if-sql`` runs statements (an index, say) on the seeded database first.
Asserts nothing.

    .venv/bin/python bench/api.py --clients 50 --seconds 20 --jobs 20000
    .venv/bin/python bench/api.py --seconds 0 --what-if-sql 'CREATE INDEX i ON jobs(created_at)'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from tortoise import connections  # noqa: E402

from core.bootstrap import open_runtime  # noqa: E402
from core.models import (  # noqa: E402
    Account,
    AccountStatus,
    AuthMethod,
    Connection,
    ConnectionStatus,
    DeliveryStatus,
    Direction,
    Job,
    JobStatus,
    JobStep,
    LogEntry,
    LogLevel,
    Notification,
    Platform,
    PostOutcome,
    Proxy,
    ProxyHealth,
    ProxyType,
    QuotaUsage,
    SourcePost,
)
from core.redis_embedded import EmbeddedRedis, free_port  # noqa: E402
from core.settings import Settings  # noqa: E402
from tests.webapp.conftest import ADMIN_ID, BOT_TOKEN, init_data  # noqa: E402
from webapp.app import create_app  # noqa: E402

CONNECTIONS, ACCOUNTS, PROXIES = 50, 10, 20
DAYS = 90
BATCH = 2000
ERRORS = ("network_timeout", "api_rate_limit", "proxy_error", "video_corrupt", "quota_exceeded",
          "copyright_violation", "token_expired")
STEPS = ("download", "probe", "transform", "metadata", "upload", "verify")
# (status, weight): most jobs succeeded; the rest is what a real history holds.
STATUS_MIX = ((JobStatus.SUCCESS, 86), (JobStatus.FAILED, 6), (JobStatus.RETRYING, 2),
              (JobStatus.CANCELLED, 2), (JobStatus.QUEUED, 2), (JobStatus.RUNNING, 1),
              (JobStatus.CAPTCHA_PENDING, 1))
CHARTS = ("success_trend", "job_volume", "failure_breakdown", "top_connections", "uptime_calendar")


# ---- seeding -----------------------------------------------------------------------------------

async def seed(jobs: int, rng: random.Random) -> dict[str, list[int]]:
    """A busy install's rows; returns the ids the load picks from."""
    now = datetime.now(UTC)
    proxies = [Proxy(id=i + 1, alias=f"proxy-{i + 1:02d}", type=(ProxyType.HTTP, ProxyType.SOCKS5)[i % 2],
                     host=f"10.0.{i // 250}.{i % 250 + 1}", port=8000 + i,
                     username=f"user{i}" if i % 3 else None, password=f"secret{i}" if i % 3 else None,
                     health=(ProxyHealth.HEALTHY, ProxyHealth.HEALTHY, ProxyHealth.UNHEALTHY)[i % 3],
                     latency_ms=40 + 7 * i, last_check_at=now - timedelta(minutes=i))
               for i in range(PROXIES)]
    await Proxy.bulk_create(proxies)
    accounts: list[Account] = []
    for i in range(ACCOUNTS):
        youtube = i % 2 == 1
        accounts.append(Account(
            id=i + 1, platform=Platform.YOUTUBE if youtube else Platform.INSTAGRAM,
            alias=f"account-{i + 1:02d}", username=f"creator{i}",
            external_id=f"UC{i:022d}" if youtube else str(17840000000 + i),
            auth_method=AuthMethod.OAUTH if youtube
            else (AuthMethod.PRIVATE_API, AuthMethod.GRAPH_API)[i % 4 // 2],
            credentials={"access_token": f"ya29.{'x' * 120}", "refresh_token": f"1//{'y' * 90}"} if youtube
            else {"username": f"creator{i}", "password": "pw", "settings": {"uuids": {"phone_id": "p" * 36}}},
            token_expiry=now + timedelta(days=(i * 7) % 60 - 3) if youtube or i % 4 >= 2 else None,
            status=AccountStatus.ACTIVE if i != 7 else AccountStatus.EXPIRY_WARNING,
            default_proxy_id=(i % PROXIES) + 1 if i % 2 == 0 else None,
            profile={"channel_title": f"Channel {i}"} if youtube else {}))
    await Account.bulk_create(accounts)
    instagram = [a.id for a in accounts if a.platform is Platform.INSTAGRAM]
    youtube = [a.id for a in accounts if a.platform is Platform.YOUTUBE]
    connections = []
    for i in range(CONNECTIONS):
        forward = i % 3 != 2
        connections.append(Connection(
            id=i + 1, name=f"connection {i + 1:02d}",
            direction=Direction.INSTAGRAM_TO_YOUTUBE if forward else Direction.YOUTUBE_TO_INSTAGRAM,
            source_account_id=(instagram if forward else youtube)[i % 5],
            destination_account_id=(youtube if forward else instagram)[(i + 1) % 5],
            proxy_id=(i % PROXIES) + 1 if i % 4 == 0 else None,
            filters={"mode": "all", "caption_keywords": ["travel", "food"] if i % 2 else []},
            schedule={"type": "continuous", "check_interval_minutes": 15},
            transform_options={"upscale": i % 5 == 0, "quality": "high"},
            retry_policy={"max_attempts": 3}, metadata_templates={"title": "{caption}"},
            status=(ConnectionStatus.ACTIVE, ConnectionStatus.ACTIVE, ConnectionStatus.ACTIVE,
                    ConnectionStatus.PAUSED, ConnectionStatus.STOPPED)[i % 5],
            last_run_at=now - timedelta(minutes=i), next_check_at=now + timedelta(minutes=15 - i % 15)))
    await Connection.bulk_create(connections)
    statuses, weights = zip(*STATUS_MIX, strict=True)
    posts: list[SourcePost] = []
    rows: list[Job] = []
    logs: list[LogEntry] = []
    totals = {c.id: [0, 0] for c in connections}
    for n in range(1, jobs + 1):
        connection_id = rng.randint(1, CONNECTIONS)
        created = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        status = rng.choices(statuses, weights)[0]
        if status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CAPTCHA_PENDING):
            created = now - timedelta(seconds=rng.uniform(0, 3600))  # unfinished work is recent
        started = created + timedelta(seconds=rng.uniform(1, 30))
        finished = started + timedelta(seconds=rng.uniform(20, 180))
        done = status in (JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.CANCELLED)
        error = rng.choice(ERRORS) if status in (JobStatus.FAILED, JobStatus.RETRYING) else None
        if status in (JobStatus.SUCCESS, JobStatus.FAILED):
            totals[connection_id][status is JobStatus.FAILED] += 1
        posts.append(SourcePost(id=n, connection_id=connection_id, source_post_id=f"media-{n}",
                                caption=f"reel {n} #travel #food", permalink=f"https://example.invalid/r/{n}",
                                published_at=created - timedelta(minutes=5), duration=rng.uniform(5, 60),
                                outcome=PostOutcome.FORWARDED if status is JobStatus.SUCCESS
                                else PostOutcome.FAILED if status is JobStatus.FAILED else PostOutcome.QUEUED,
                                created_at=created))
        rows.append(Job(
            id=n, connection_id=connection_id, source_post_id=n, status=status,
            attempts=1 if status is JobStatus.SUCCESS and n % 10 else 3 if status is JobStatus.FAILED else 1,
            error_code=error, error_message=f"{error}: the platform said no" if error else None,
            next_retry_at=now + timedelta(minutes=10) if status is JobStatus.RETRYING else None,
            checkpoint={"download": {"path": f"jobs/{n}/source.mp4", "bytes": 4_000_000},
                        "probe": {"width": 1080, "height": 1920, "duration": 30.0, "codec": "h264"},
                        "upload": {"video_id": f"v{n}"} if status is JobStatus.SUCCESS else {}},
            step=JobStep.DONE if status is JobStatus.SUCCESS else JobStep.UPLOAD,
            progress_percent=100 if done else 40, progress_message="done" if done else "uploading",
            destination_post_id=f"v{n}" if status is JobStatus.SUCCESS else None,
            destination_url=f"https://example.invalid/shorts/v{n}" if status is JobStatus.SUCCESS else None,
            started_at=None if status is JobStatus.QUEUED else started,
            finished_at=finished if done else None,
            step_durations={s: round(rng.uniform(0.5, 30), 2) for s in STEPS} if done else {},
            bytes_in=rng.randint(2_000_000, 40_000_000), bytes_out=rng.randint(2_000_000, 40_000_000),
            dead_letter=status is JobStatus.FAILED and n % 5 != 0, created_at=created))
        logs.append(LogEntry(level=LogLevel.INFO, job_id=n, connection_id=connection_id,
                             message=f"Job {n} created for media-{n}", created_at=created))
        logs.append(LogEntry(
            level=LogLevel.ERROR if status is JobStatus.FAILED else
            LogLevel.WARNING if status is JobStatus.RETRYING else LogLevel.INFO,
            job_id=n, connection_id=connection_id, details={"step": "upload", "attempt": 1},
            message=f"Job {n}: {error or status.value}", created_at=finished if done else started))
        if len(rows) >= BATCH:
            await _flush(posts, rows, logs)
    await _flush(posts, rows, logs)
    for cid, (ok, failed) in totals.items():
        await Connection.filter(id=cid).update(success_count=ok, failure_count=failed, total_forwarded=ok)
    await Notification.bulk_create([
        Notification(kind=("job_failed", "token_expiring", "proxy_unhealthy", "connection_paused")[i % 4],
                     payload={"job_id": i + 1, "connection": f"connection {i % CONNECTIONS + 1:02d}"},
                     chat_id="-1001234567890",
                     status=DeliveryStatus.SENT if i % 10 else DeliveryStatus.FAILED, attempts=1,
                     created_at=now - timedelta(hours=i), sent_at=now - timedelta(hours=i))
        for i in range(500)])
    await QuotaUsage.bulk_create([
        QuotaUsage(platform=Platform.YOUTUBE, project_key=key, day=date.today() - timedelta(days=d),
                   units=rng.randint(500, 9000), calls=rng.randint(10, 100))
        for d in range(DAYS) for key in ("bench-project", "bench-project:uploads")])
    dead = [j for j, in await Job.filter(dead_letter=True).values_list("id")]
    return {"connections": [c.id for c in connections], "jobs": list(range(1, jobs + 1)), "dead": dead}


async def _flush(posts: list[SourcePost], rows: list[Job], logs: list[LogEntry]) -> None:
    await SourcePost.bulk_create(posts)
    await Job.bulk_create(rows)
    await LogEntry.bulk_create(logs)
    posts.clear()
    rows.clear()
    logs.clear()


# ---- the requests a Mini App makes ---------------------------------------------------------------

Endpoint = tuple[str, Callable[[random.Random], str]]


def endpoints(ids: dict[str, list[int]]) -> list[Endpoint]:
    """(name, path maker) of each read the Mini App's screens make (webapp/static/app/js/screens)."""
    conn, job = ids["connections"], ids["jobs"]
    active = "queued,running,retrying,captcha_pending"
    return [
        ("dashboard summary", lambda r: "/api/dashboard/summary"),
        ("connections list", lambda r: "/api/connections?limit=20"),
        ("connection detail", lambda r: f"/api/connections/{r.choice(conn)}"),
        ("jobs of a connection", lambda r: f"/api/jobs?connection_id={r.choice(conn)}&limit=50"),
        ("jobs list (history)", lambda r: "/api/jobs?limit=30"),
        ("jobs list (active)", lambda r: f"/api/jobs?status={active}&limit=100"),
        ("job detail", lambda r: f"/api/jobs/{r.choice(job)}"),
        ("dead-letter", lambda r: "/api/jobs/dead-letter?limit=100"),
        ("accounts", lambda r: "/api/accounts"),
        ("proxies", lambda r: "/api/proxies"),
        ("analytics summary", lambda r: "/api/analytics/summary?period=30days"),
        ("connection metrics", lambda r: f"/api/analytics/connection/{r.choice(conn)}/metrics?period=30days"),
        ("logs", lambda r: "/api/logs?level=info&limit=100"),
        ("settings", lambda r: "/api/settings"),
        ("notifications", lambda r: "/api/notifications?limit=100"),
    ]


def charts(ids: dict[str, list[int]]) -> list[Endpoint]:
    conn = ids["connections"]
    out: list[Endpoint] = [(f"chart {n}", lambda r, n=n: f"/api/analytics/charts/{n}.png?period=30days")
                           for n in CHARTS]
    out.append(("chart success_trend, one conn.", lambda r: "/api/analytics/charts/success_trend.png"
                f"?period=30days&connection_id={r.choice(conn)}"))
    return out


class QueryCounter(logging.Handler):
    """Counts the statements tortoise's clients log at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def count_queries(runtime: Any, reads: list[Endpoint], repeat: int = 5) -> dict[str, tuple[int, float]]:
    """Queries one request to each endpoint makes, and its CPU cost alone (ms, median of ``repeat``).

    Served in this process (aiohttp's test server) one request at a time; CPU time (this
    process, aiosqlite's thread included) rather than wall time, so other work on a shared
    machine barely moves it. The client's side of each request is in it too (well under 1 ms).
    """
    counter = QueryCounter()
    db_log = logging.getLogger("tortoise.db_client")
    db_log.propagate = False
    out: dict[str, tuple[int, float]] = {}
    rng = random.Random(7)
    headers = {"Authorization": f"tma {init_data(ADMIN_ID)}"}
    async with TestClient(TestServer(create_app(runtime))) as client:
        for name, path in reads:
            url = path(rng)
            async with client.get(url, headers=headers) as resp:  # warm caches, imports
                await resp.read()
                if resp.status != 200:
                    raise SystemExit(f"{url} answered {resp.status}: {await resp.text()}")
            db_log.addHandler(counter)
            db_log.setLevel(logging.DEBUG)
            counter.count = 0
            async with client.get(url, headers=headers) as resp:
                await resp.read()
            db_log.removeHandler(counter)
            db_log.setLevel(logging.WARNING)
            costs = []
            for _ in range(repeat):
                started = time.process_time()
                async with client.get(path(rng), headers=headers) as resp:
                    await resp.read()
                costs.append((time.process_time() - started) * 1000)
            out[name] = (counter.count, statistics.median(costs))
    return out


# ---- the load ------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    return values[max(0, math.ceil(p * len(values)) - 1)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(base: str, targets: list[Endpoint], clients: int, seconds: float, think: float,
               server_pid: int) -> tuple[dict[str, list[float]], int, float, float, float]:
    """Run the clients: latencies (ms) per endpoint, errors, wall time, server and client CPU seconds."""
    latencies: dict[str, list[float]] = {name: [] for name, _ in targets}
    errors = 0
    deadline = time.monotonic() + seconds

    async def client(index: int) -> None:
        nonlocal errors
        rng = random.Random(index)
        headers = {"Authorization": f"tma {init_data(ADMIN_ID)}"}
        connector = aiohttp.TCPConnector(limit=1)  # one connection per client, kept alive, as a browser tab
        async with aiohttp.ClientSession(base, connector=connector, headers=headers) as http:
            await asyncio.sleep(rng.uniform(0, think or 0.05))  # not all in the same millisecond
            while time.monotonic() < deadline:
                name, path = rng.choice(targets)
                started = time.perf_counter()
                async with http.get(path(rng)) as resp:
                    await resp.read()
                    ok = resp.status == 200
                elapsed = (time.perf_counter() - started) * 1000
                if ok:
                    latencies[name].append(elapsed)
                else:
                    errors += 1
                if think:  # never past the deadline: the phase's wall time is its requests'
                    pause = rng.expovariate(1 / think)
                    await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))

    cpu_before, own_before, started = cpu_seconds(server_pid), time.process_time(), time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.monotonic() - started
    return latencies, errors, wall, cpu_seconds(server_pid) - cpu_before, time.process_time() - own_before


def report(title: str, latencies: dict[str, list[float]], queries: dict[str, tuple[int, float]],
           errors: int, wall: float, cpu: float, client_cpu: float) -> None:
    print(f"\n{title}")
    print(f"  {'endpoint':<30} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8} "
          f"{'CPU ms':>9}")
    everything: list[float] = []
    for name, values in latencies.items():
        values.sort()
        everything.extend(values)
        found = queries.get(name)
        q, alone = (str(found[0]), f"{found[1]:.1f}") if found else ("-", "-")
        p50 = statistics.median(values) if values else float("nan")
        print(f"  {name:<30} {len(values):>6} {p50:>8.1f} {percentile(values, 0.95):>8.1f} "
              f"{(values[-1] if values else float('nan')):>8.1f} {q:>8} {alone:>9}")
    everything.sort()
    print(f"  {'ALL':<30} {len(everything):>6} {statistics.median(everything) if everything else 0:>8.1f} "
          f"{percentile(everything, 0.95):>8.1f} {(everything[-1] if everything else 0):>8.1f}")
    print(f"  requests/s {len(everything) / wall:.1f}, errors {errors}; over {wall:.1f} s the server used "
          f"{cpu:.1f} s CPU ({1000 * cpu / max(len(everything), 1):.1f} ms a request, "
          f"{100 * cpu / wall:.0f}% of one core), these clients {client_cpu:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    data = folder / "data"
    redis = EmbeddedRedis(data)
    redis_url = redis.start()
    settings = Settings(_env_file=None, data_dir=data, redis_url=redis_url,  # type: ignore[call-arg]
                        telegram_bot_token=BOT_TOKEN, admin_ids=[ADMIN_ID])
    server: asyncio.subprocess.Process | None = None
    try:
        runtime = await open_runtime(settings, migrate=True)
        started = time.monotonic()
        ids = await seed(args.jobs, random.Random(1))
        seeded = time.monotonic() - started
        reads, pngs = endpoints(ids), charts(ids)
        if args.what_if_sql:  # e.g. indexes a migration might add, measured before writing one
            await connections.get("default").execute_script(args.what_if_sql)
        queries = await count_queries(runtime, reads + pngs)
        await runtime.close()
        size = Path(settings.resolved_database_url.removeprefix("sqlite://")).stat().st_size
        print(f"database        SQLite {size / 1e6:.1f} MB: {CONNECTIONS} connections, {ACCOUNTS} accounts, "
              f"{PROXIES} proxies, {args.jobs} jobs over {DAYS} days ({len(ids['dead'])} dead-lettered), "
              f"{2 * args.jobs} log lines, 500 notifications (seeded in {seeded:.1f} s)")
        if args.seconds <= 0:  # only each request's queries and CPU cost, no server, no load
            print(f"\neach endpoint alone (no load)\n  {'endpoint':<30} {'queries':>8} {'CPU ms':>9}")
            for name, (count, cpu) in queries.items():
                print(f"  {name:<30} {count:>8} {cpu:>9.1f}")
            return
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TELEGRAM_", "ADMIN_", "DATABASE_", "REDIS_", "SECRET_", "WEB_"))}
        env.update(DATA_DIR=str(data), REDIS_URL=redis_url, TELEGRAM_BOT_TOKEN=BOT_TOKEN,
                   ADMIN_IDS=str(ADMIN_ID), WEB_HOST="127.0.0.1", WEB_PORT=str(port), LOG_LEVEL="WARNING")
        # The production entry point, in its own process; cwd has no .env to pick up.
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "forwarder", "web", env=env, cwd=folder, stdin=asyncio.subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(base + "/api/health") as resp:
                        await resp.read()
                        break
                if server.returncode is not None:
                    raise SystemExit("the web process exited")
                await asyncio.sleep(0.1)
        print(f"server          `forwarder web` pid {server.pid} on {base}; {args.clients} clients, "
              f"think time {'none (closed loop)' if not args.think else f'~{args.think:g} s (exponential)'}")
        await load(base, reads, min(args.clients, 10), 2, args.think, server.pid)  # warm-up, not counted
        result = await load(base, reads, args.clients, args.seconds, args.think, server.pid)
        report(f"reads, {args.seconds:g} s", result[0], queries, *result[1:])
        if args.chart_seconds > 0:
            result = await load(base, pngs, args.chart_clients, args.chart_seconds, args.think, server.pid)
            report(f"chart PNGs (matplotlib on the server), {args.chart_clients} clients, "
                   f"{args.chart_seconds:g} s", result[0], queries, *result[1:])
        print(f"\nserver memory   RSS {rss_mb(server.pid):.0f} MB, peak {rss_mb(server.pid, 'VmHWM'):.0f} MB")
    finally:
        if server is not None and server.returncode is None:
            server.terminate()
            await server.wait()
        redis.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20, help="duration of the read phase")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean seconds a client waits between requests (0: back to back)")
    parser.add_argument("--chart-seconds", type=float, default=10,
                        help="duration of the chart phase (0: skip)")
    parser.add_argument("--what-if-sql", metavar="SQL",
                        help="statements run on the seeded database before serving (try an index)")
    parser.add_argument("--chart-clients", type=int, default=5,
                        help="clients in the chart phase (one analytics screen shows 5 charts)")
    asyncio.run(main(parser.parse_args()))
