"""Pipeline throughput through the wire-level fakes: N connections x M new posts.

Instagram (private API fake) -> YouTube (Data API fake), tiny passthrough clips, real
instagrapi, googleapiclient and ffmpeg, embedded Redis and SQLite (or DATABASE_URL /
REDIS_URL when set), ``--workers`` ARQ workers in this process (as ``forwarder up`` runs
them). The fakes run in a child process so their work is not counted. Prints forwarded jobs/s,
p50/p95 job latency (job row created -> success) and database queries per forwarded job.
Asserts nothing.

    .venv/bin/python bench/pipeline.py --connections 10 --posts 5 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bootstrap import open_runtime  # noqa: E402
from core.models import Account, AuthMethod, Job, JobStatus, Platform  # noqa: E402
from core.settings import Settings  # noqa: E402
from jobs.queue import ArqQueue  # noqa: E402
from jobs.worker import build_worker  # noqa: E402
from tests.fakes.instagram_private import FakeInstagramPrivate, FakeReel  # noqa: E402
from tests.fakes.media import make_clip  # noqa: E402
from tests.fakes.youtube import FakeYouTube  # noqa: E402


class QueryCounter(logging.Handler):
    """Counts the statements tortoise's clients log at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def tiny_clip(folder: Path) -> bytes:
    return make_clip(folder / "tiny.mp4", seconds=3.2).read_bytes()


async def serve_fakes(posts: int, clip_path: str) -> None:
    """Child process: both fakes, seeded, plus /stats; prints the URLs as one JSON line."""
    from aiohttp import web

    clip = Path(clip_path).read_bytes()
    yt, ig = FakeYouTube(), FakeInstagramPrivate()
    await yt.start()
    await ig.start()
    now = int(datetime.now(UTC).timestamp())
    for j in range(posts):
        ig.reels.append(FakeReel(pk=5000 + j, caption=f"post {j} #bench", taken_at=now + 5 + j, video=clip))

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"uploaded": len(yt.uploaded()), "yt_requests": len(yt.calls),
                                  "ig_requests": len(ig.requests), "ig_logins": ig.logins})

    app = web.Application()
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(json.dumps({"yt": yt.base_url, "ig": ig.base_url, "stats": f"http://127.0.0.1:{port}/stats",
                      "channel": yt.channel_id, "username": ig.username, "password": ig.password}),
          flush=True)
    await asyncio.Event().wait()


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=getattr(logging, os.environ.get("BENCH_LOG", "WARNING")))
    folder = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    tiny_clip(folder)
    # The fakes run in their own process: they are not what is measured.
    fakes = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-fakes", str(args.posts), str(folder / "tiny.mp4"),
        stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    assert fakes.stdout is not None
    urls = json.loads(await fakes.stdout.readline())
    settings = Settings(
        _env_file=None, data_dir=folder / "data", database_url=os.environ.get("DATABASE_URL"),
        redis_url=os.environ.get("REDIS_URL"), youtube_api_base=urls["yt"] + "/",
        youtube_web_base=urls["yt"], instagram_api_base=urls["ig"],
        embedded_redis_port=0)
    runtime = await open_runtime(settings, migrate=True, queue_factory=ArqQueue)
    runtime.services.platforms.instagram_configure_wait = 0
    # One Google project here; a real one allows 100 uploads a day (more after an audit).
    runtime.services.platforms.youtube_daily_uploads = 1_000_000
    runtime.services.platforms.youtube_daily_units = 10_000_000
    try:
        insta = await Account.create(platform=Platform.INSTAGRAM, alias="insta", username=urls["username"],
                                     auth_method=AuthMethod.PRIVATE_API,
                                     credentials={"username": urls["username"], "password": urls["password"]})
        tube = await Account.create(
            platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH,
            external_id=urls["channel"],
            credentials={"access_token": "ya29.fake-access",
                         "expiry": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
                         "client_secret": {"installed": {"client_id": "c", "client_secret": "s",
                                                         "project_id": "bench"}}})
        for i in range(args.connections):
            await runtime.services.connections.create({
                "name": f"c{i}", "type": "instagram_to_youtube", "source_account_id": insta.id,
                "destination_account_id": tube.id, "status": "active",
                "schedule": {"check_interval_minutes": 60}})
        await runtime.redis.flushdb()  # start() queued polls; the schedule cron queues them again
        counter = QueryCounter()
        db_log = logging.getLogger("tortoise.db_client")
        db_log.addHandler(counter)
        db_log.setLevel(logging.DEBUG)
        db_log.propagate = False
        started = time.monotonic()
        workers = [build_worker(runtime, burst=True, poll_delay=0, max_jobs=args.concurrency)
                   for _ in range(args.workers)]
        await asyncio.gather(*(w.async_run() for w in workers))
        elapsed = time.monotonic() - started
        for w in workers:
            await w.close()
        db_log.removeHandler(counter)
        jobs = await Job.filter(status=JobStatus.SUCCESS)
        latencies = sorted((j.finished_at - j.created_at).total_seconds() for j in jobs if j.finished_at)
        total = args.connections * args.posts
        failed = await Job.exclude(status=JobStatus.SUCCESS).count()
        backend = settings.resolved_database_url.split(":")[0]
        print(f"connections x posts         {args.connections} x {args.posts} = {total} forwards, "
              f"{args.workers} workers x {args.concurrency} jobs, {backend}")
        async with aiohttp.ClientSession() as http, http.get(urls["stats"]) as response:
            seen = await response.json()
        print(f"forwarded                   {len(jobs)} (not successful: {failed}); videos on the fake: "
              f"{seen['uploaded']}")
        print(f"fake calls                  Instagram logins {seen['ig_logins']}, requests "
              f"{seen['ig_requests']}; YouTube requests {seen['yt_requests']}")
        print(f"wall time                   {elapsed:.2f} s (polls included)")
        print(f"throughput                  {len(jobs) / elapsed:.2f} forwarded jobs/s")
        if latencies:
            p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
            print(f"job latency                 p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s")
        steps: dict[str, list[float]] = {}
        for j in jobs:
            for step, seconds in (j.step_durations or {}).items():
                steps.setdefault(step, []).append(seconds)
        print("mean step time              " + ", ".join(
            f"{k} {statistics.mean(v):.3f} s" for k, v in steps.items()))
        print(f"database queries            {counter.count} total, "
              f"{counter.count / max(len(jobs), 1):.1f} per forwarded job (polls and crons included)")
    finally:
        await runtime.close()
        fakes.kill()
        await fakes.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--posts", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=5, help="jobs each worker runs at once")
    parser.add_argument("--serve-fakes", nargs=2, metavar=("POSTS", "CLIP"), help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve_fakes:
        asyncio.run(serve_fakes(int(parsed.serve_fakes[0]), parsed.serve_fakes[1]))
    else:
        asyncio.run(main(parsed))
