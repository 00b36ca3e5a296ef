"""Load: N connections x M new posts through the wire-level fakes, W worker processes, PostgreSQL.

Instagram (private API fake) -> YouTube (Data API fake) with a small passthrough clip, real
instagrapi, googleapiclient and ffmpeg. The database is PostgreSQL (``--database-url``; the
database is created if missing and its public schema dropped and created afresh), Redis an
embedded one started here or ``--redis-url`` (that db is flushed). ``--workers`` production
workers run as separate OS processes (``forwarder worker``), the fakes in another child
process, so neither is counted in the other.

This process logs the Instagram account in once (as adding it does), creates the active
connections (polled every ``--interval`` minutes by the workers' schedule cron) and starts
the workers. Once every connection has polled once (finding one older, filtered reel, so it
has a cursor), the fake account publishes M new reels; the polls that follow queue the
jobs (a poll takes at most 20 posts, so 25 take two polls). It samples once a second: ARQ
queue depth (the ``arq:queue`` sorted set: queued plus deferred), ARQ in-progress keys,
jobs created and ended, and each worker's resident memory (/proc/PID/status: VmRSS now,
VmHWM its peak; ffmpeg children not included).

Prints forwarded jobs, wall time, throughput, p50/p95 job latency (job row created by its
poll -> success), the queue over time (a row about every 10 s), peak RSS and CPU per
worker, and database transactions per forwarded job (PostgreSQL's xact_commit for the
database less this sampler's own: each statement outside a transaction is one).
Asserts nothing.

    .venv/bin/python bench/load.py --connections 20 --posts 5 --workers 4
    .venv/bin/python bench/load.py --connections 200 --posts 25 --workers 4   # the issue's size
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tortoise.functions import Count  # noqa: E402

from core.bootstrap import open_runtime  # noqa: E402
from core.models import Account, AuthMethod, Connection, Job, JobStatus, Platform  # noqa: E402
from core.redis_embedded import EmbeddedRedis  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.video.binary import locate  # noqa: E402
from jobs.queue import ArqQueue  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/load_bench"
QUEUE_KEY = "arq:queue"
TERMINAL = (JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.CANCELLED)


def small_clip(path: Path) -> Path:
    """A compliant 3.2 s 360x640 H.264 + AAC reel of about 110 kB (the fake YouTube keeps every upload
    in memory: 5,000 of tests/fakes/media.py's 840 kB clips would hold gigabytes)."""
    subprocess.run([
        locate(None).ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=3.2",
        "-f", "lavfi", "-i", "sine=f=440:r=48000:d=3.2", "-c:v", "libx264", "-preset", "veryfast",
        "-crf", "40", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", "-shortest",
        "-movflags", "+faststart", str(path)], check=True)
    return path


async def serve_fakes(clip_path: str) -> None:
    """Child process: both fakes plus /seed and /stats; prints the URLs as one JSON line.

    ``POST /seed?posts=N`` publishes N reels from now on; ``&old=1`` dates them an hour back.
    """
    from aiohttp import web

    from tests.fakes.instagram_private import FakeInstagramPrivate, FakeReel
    from tests.fakes.youtube import FakeYouTube

    clip = Path(clip_path).read_bytes()
    yt, ig = FakeYouTube(), FakeInstagramPrivate()
    await yt.start()
    await ig.start()

    async def seed(request: web.Request) -> web.Response:
        now, old = int(datetime.now(UTC).timestamp()), request.query.get("old") == "1"
        for j in range(int(request.query["posts"])):
            ig.reels.append(FakeReel(pk=(4000 if old else 5000) + j, caption=f"post {j} #load",
                                     taken_at=now - 3600 - j if old else now + 1 + j, video=clip))
        return web.json_response({"reels": len(ig.reels)})

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"uploaded": len(yt.uploaded()), "yt_requests": len(yt.calls),
                                  "ig_requests": len(ig.requests), "ig_logins": ig.logins})

    app = web.Application()
    app.router.add_post("/seed", seed)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    print(json.dumps({"yt": yt.base_url, "ig": ig.base_url, "stats": base + "/stats", "seed": base + "/seed",
                      "channel": yt.channel_id, "username": ig.username, "password": ig.password}),
          flush=True)
    await asyncio.Event().wait()


async def fresh_database(url: str) -> None:
    """Create the database if it is missing, then drop and recreate its schema (as tests/conftest.py)."""
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process in MB (empty once it is gone)."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    return values[max(0, math.ceil(p * len(values)) - 1)] if values else float("nan")


async def transactions(pg: asyncpg.Connection) -> int:
    """Committed transactions of this database so far (statistics as of now)."""
    await pg.execute("SELECT pg_stat_clear_snapshot()")
    return int(await pg.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    data = folder / "data"
    clip = small_clip(folder / "reel.mp4")
    await fresh_database(args.database_url)
    embedded: EmbeddedRedis | None = None
    if args.redis_url:
        redis_url = args.redis_url
    else:
        embedded = EmbeddedRedis(data)
        redis_url = embedded.start()
    fakes = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-fakes", str(clip),
        stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    assert fakes.stdout is not None
    workers: list[asyncio.subprocess.Process] = []
    runtime: Any = None
    try:
        urls = json.loads(await fakes.stdout.readline())
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=data, database_url=args.database_url, redis_url=redis_url,
            youtube_api_base=urls["yt"] + "/", youtube_web_base=urls["yt"], instagram_api_base=urls["ig"])
        runtime = await open_runtime(settings, migrate=True, queue_factory=ArqQueue)
        await runtime.redis.flushdb()
        # One Google project here; a real one allows 100 uploads a day (more after an audit).
        await runtime.services.system.update("quota", {"youtube_daily_units": 100_000_000,
                                                       "youtube_daily_uploads": 1_000_000})
        insta = await Account.create(platform=Platform.INSTAGRAM, alias="insta", username=urls["username"],
                                     auth_method=AuthMethod.PRIVATE_API,
                                     credentials={"username": urls["username"], "password": urls["password"]})
        # As adding the account does: one login whose session every worker then reuses.
        async with runtime.services.platforms.source(insta) as adapter:
            await adapter.login()  # type: ignore[attr-defined]  # the private-API source
        tube = await Account.create(
            platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH,
            external_id=urls["channel"],
            credentials={"access_token": "ya29.fake-access",
                         "expiry": (datetime.now(UTC) + timedelta(hours=12)).isoformat(),
                         "client_secret": {"installed": {"client_id": "c", "client_secret": "s",
                                                         "project_id": "bench"}}})
        for i in range(args.connections):
            await runtime.services.connections.create({
                "name": f"c{i}", "type": "instagram_to_youtube", "source_account_id": insta.id,
                "destination_account_id": tube.id, "status": "active",
                "schedule": {"check_interval_minutes": args.interval}})
        await runtime.redis.flushdb()  # start() queued polls; the workers' schedule cron queues them again
        # A first poll finds one older reel (filtered: published before the start) and so leaves a
        # cursor; the posts appear once every connection has one, as they would on a live account
        # (on a first poll, the newest 20 alone would be taken: see the report).
        async with aiohttp.ClientSession() as http, http.post(urls["seed"], params={"posts": 1, "old": 1}):
            pass

        async def publish() -> None:
            async with aiohttp.ClientSession() as http, http.post(urls["seed"], params={"posts": args.posts}):
                pass

        expected = args.connections * args.posts
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TELEGRAM_", "ADMIN_", "DATABASE_", "REDIS_", "SECRET_", "WEB_"))}
        env.update(DATA_DIR=str(data), DATABASE_URL=args.database_url, REDIS_URL=redis_url,
                   SECRET_KEYS=runtime.keyring.keys[0], YOUTUBE_API_BASE=urls["yt"] + "/",
                   YOUTUBE_WEB_BASE=urls["yt"], INSTAGRAM_API_BASE=urls["ig"], LOG_LEVEL="WARNING",
                   PYTHONUNBUFFERED="1")
        pg = await asyncpg.connect(args.database_url)
        xact_before = await transactions(pg)
        started = time.monotonic()
        for n in range(args.workers):
            with (folder / f"worker-{n + 1}.log").open("wb") as log:  # cwd holds no .env to pick up
                workers.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "forwarder", "worker", env=env, cwd=folder,
                    stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log))
        samples, published, sampled = await sample(runtime, workers, expected, started, args, publish)
        if samples[-1]["done"] + samples[-1]["failed"] < expected:  # show why before the logs go
            for n in range(len(workers)):
                tail = (folder / f"worker-{n + 1}.log").read_text(errors="replace").splitlines()[-15:]
                print(f"--- worker {n + 1} log (last lines)\n" + "\n".join(tail), file=sys.stderr)
        elapsed = samples[-1]["t"]
        peaks = {w.pid: proc_status(w.pid).get("VmHWM", 0.0) for w in workers}
        cpu = {w.pid: cpu_seconds(w.pid) for w in workers}
        fakes_cpu, fakes_peak = cpu_seconds(fakes.pid), proc_status(fakes.pid).get("VmHWM", 0.0)
        await stop(workers)
        await asyncio.sleep(1.5)  # backends report their statistics about once a second
        xact = await transactions(pg) - xact_before - sampled - 2  # 2: transactions()'s own
        await pg.close()

        jobs = await Job.filter(status=JobStatus.SUCCESS).values_list("created_at", "finished_at")
        steps: dict[str, list[float]] = {}
        for durations in await Job.filter(status=JobStatus.SUCCESS).values_list("step_durations", flat=True):
            for step, seconds in (durations or {}).items():  # type: ignore[union-attr]
                steps.setdefault(step, []).append(seconds)
        first_job = next((s["t"] for s in samples if s["created"]), None)
        latencies = sorted((f - c).total_seconds() for c, f in jobs if f)
        not_ok = await Job.exclude(status=JobStatus.SUCCESS).count()
        with_jobs = {cid for cid in await Job.all().distinct().values_list("connection_id", flat=True)}
        silent = await Connection.exclude(id__in=list(with_jobs)).values_list("id", "last_run_at")
        first_done = min((f for _c, f in jobs if f), default=None)
        async with aiohttp.ClientSession() as http, http.get(urls["stats"]) as response:
            seen = await response.json()
        backend = args.database_url.split("@")[-1]
        print(f"\nconnections x posts     {args.connections} x {args.posts} = {expected} forwards, "
              f"{args.workers} worker processes x 10 jobs (ARQ's max_jobs), PostgreSQL {backend}, "
              f"Redis {'embedded' if embedded else redis_url}")
        print(f"forwarded               {len(jobs)} (not successful: {not_ok}); videos on the fake YouTube: "
              f"{seen['uploaded']}; Instagram logins {seen['ig_logins']}")
        if silent:
            never = sum(1 for _i, polled in silent if polled is None)
            print(f"no job                  {len(silent)} connections ({never} never finished a poll)")
        print(f"wall time               {elapsed:.1f} s from starting the workers to the last job finished; "
              f"every connection had polled once at {published:.0f} s, when the posts were published; "
              f"the first job row appeared at {first_job if first_job is None else round(first_job)} s")
        print(f"throughput              {len(jobs) / (elapsed - published):.2f} forwarded jobs/s from "
              f"publishing to the last job done"
              + (f"; {len(jobs) / max((max(f for _c, f in jobs) - first_done).total_seconds(), 1e-9):.2f}"
                 " jobs/s from the first forward done to the last" if first_done else ""))
        if latencies:
            print(f"job latency             p50 {statistics.median(latencies):.1f} s, "
                  f"p95 {percentile(latencies, 0.95):.1f} s, max {latencies[-1]:.1f} s "
                  "(job row created by its poll -> success; mostly time waiting in the queue)")
        print("mean step time          "
              + ", ".join(f"{k} {statistics.mean(v):.2f} s" for k, v in steps.items()))
        print("queue over time         t: s since the workers started; queued: ARQ queue (incl. deferred); "
              "running: ARQ jobs in progress; jobs/s: forwards done since the row before; RSS per worker")
        print(f"  {'t':>6} {'queued':>7} {'running':>8} {'created':>8} {'done':>6} {'failed':>7} "
              f"{'jobs/s':>7}  " + " ".join(f"{'w' + str(n + 1) + ' MB':>7}" for n in range(len(workers))))
        before = {"t": 0.0, "done": 0}
        for s in samples:
            if s["t"] - before["t"] >= 10 or s is samples[-1]:
                rate = (s["done"] - before["done"]) / max(s["t"] - before["t"], 1e-9)
                before = s
                print(f"  {s['t']:>6.0f} {s['queued']:>7} {s['running']:>8} {s['created']:>8} {s['done']:>6} "
                      f"{s['failed']:>7} {rate:>7.1f}  " + " ".join(f"{r:>7.0f}" for r in s["rss"]))
        print(f"peak RSS per worker     {', '.join(f'{peaks[w.pid]:.0f} MB' for w in workers)} (VmHWM); "
              f"CPU {', '.join(f'{cpu[w.pid]:.0f} s' for w in workers)}; the fakes' process "
              f"{fakes_cpu:.0f} s CPU, peak RSS {fakes_peak:.0f} MB")
        print(f"database                ≈{xact} transactions (statements outside a transaction count one "
              f"each), {xact / max(len(jobs), 1):.1f} per forwarded job, polls and crons included")
        print(f"machine                 {os.cpu_count()} cores, load average now {os.getloadavg()[0]:.1f} "
              f"(shared: other work may have run)")
    finally:
        await stop(workers)
        if runtime is not None:
            await runtime.close()
        fakes.kill()
        await fakes.wait()
        if embedded is not None:
            embedded.stop()
        if args.keep:
            print(f"kept {folder} (worker logs, data)", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


async def sample(runtime: Any, workers: list[asyncio.subprocess.Process], expected: int, started: float,
                 args: argparse.Namespace, publish: Callable[[], Awaitable[None]]
                 ) -> tuple[list[dict[str, Any]], float, int]:
    """One row a second until every job ended, progress stalls, or a worker dies; ``publish()``
    once every connection polled. Returns the rows, when it published (s after ``started``) and how
    many database statements it made."""
    samples: list[dict[str, Any]] = []
    progress_at, last_done = time.monotonic(), -1
    published = float("nan")
    statements = 0  # this sampler's own, left out of the database figure
    while True:
        await asyncio.sleep(1)
        now = time.monotonic()
        if math.isnan(published):
            statements += 1
            if not await Connection.filter(last_run_at__isnull=True).exists():
                await publish()
                published, progress_at = time.monotonic() - started, time.monotonic()
        queued = int(await runtime.redis.zcard(QUEUE_KEY))
        running = 0
        async for _ in runtime.redis.scan_iter("arq:in-progress:*", count=1000):
            running += 1
        statements += 1
        counts = dict(await Job.all().annotate(n=Count("id")).group_by("status").values_list("status", "n"))
        created = sum(counts.values())
        done = counts.get(JobStatus.SUCCESS, 0)
        ended = sum(counts.get(s, 0) for s in TERMINAL)
        rss = [proc_status(w.pid).get("VmRSS", 0.0) for w in workers]
        samples.append({"t": now - started, "queued": queued, "running": running, "created": created,
                        "done": done, "failed": ended - done, "rss": rss})
        if ended != last_done:
            progress_at, last_done = now, ended
        if ended >= expected:
            break
        dead = [w for w in workers if w.returncode is not None]
        if dead:
            print(f"a worker exited (code {dead[0].returncode})", file=sys.stderr)
            break
        if now - progress_at > args.stall:
            print(f"no job ended for {args.stall:g} s; stopping ({ended} of {expected} ended)",
                  file=sys.stderr)
            break
    return samples, published, statements


async def stop(workers: list[asyncio.subprocess.Process]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    for w in workers:
        if w.returncode is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            await asyncio.wait_for(w.wait(), 20)
        except TimeoutError:
            w.kill()
            await w.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--posts", type=int, default=25, help="new posts each connection finds")
    parser.add_argument("--workers", type=int, default=4, help="`forwarder worker` processes")
    parser.add_argument("--database-url", default=os.environ.get("LOAD_DATABASE_URL", DEFAULT_DATABASE),
                        help="PostgreSQL; its public schema is dropped and created afresh")
    parser.add_argument("--redis-url", default=None,
                        help="a Redis db to flush and use (default: an embedded Redis), "
                             "e.g. redis://127.0.0.1:6379/13")
    parser.add_argument("--interval", type=int, default=1,
                        help="each connection's check_interval_minutes (a poll takes at most 20 posts)")
    parser.add_argument("--stall", type=float, default=180, help="give up after this many seconds "
                        "without a job ending")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (worker logs)")
    parser.add_argument("--serve-fakes", metavar="CLIP", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve_fakes:
        asyncio.run(serve_fakes(parsed.serve_fakes))
    else:
        asyncio.run(main(parsed))
