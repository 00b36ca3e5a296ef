"""Pipeline throughput through the wire-level fakes: N connections x M new posts.

Instagram (private API fake) -> YouTube (Data API fake), tiny passthrough clips, real
instagrapi, googleapiclient and ffmpeg, embedded Redis and SQLite (or DATABASE_URL /
REDIS_URL when set), ``--workers`` ARQ workers in this process. Prints forwarded jobs/s,
p50/p95 job latency (job row created -> success) and database queries per forwarded job.
Asserts nothing.

    .venv/bin/python bench/pipeline.py --connections 10 --posts 5 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bootstrap import open_runtime  # noqa: E402
from core.models import Account, AuthMethod, Job, JobStatus, Platform  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.video import locate  # noqa: E402
from jobs.queue import ArqQueue  # noqa: E402
from jobs.worker import build_worker  # noqa: E402
from tests.fakes.instagram_private import FakeInstagramPrivate, FakeReel  # noqa: E402
from tests.fakes.youtube import FakeYouTube  # noqa: E402


class QueryCounter(logging.Handler):
    """Counts the statements tortoise's clients log at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def tiny_clip(folder: Path) -> bytes:
    path = folder / "tiny.mp4"
    subprocess.run(
        [locate(None).ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=3.2",
         "-f", "lavfi", "-i", "sine=f=440:r=48000:d=3.2", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart",
         str(path)], check=True)
    return path.read_bytes()


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    clip = tiny_clip(folder)
    yt, ig = FakeYouTube(), FakeInstagramPrivate()
    await yt.start()
    await ig.start()
    settings = Settings(
        _env_file=None, data_dir=folder / "data", database_url=os.environ.get("DATABASE_URL"),
        redis_url=os.environ.get("REDIS_URL"), youtube_api_base=yt.base_url + "/",
        youtube_web_base=yt.base_url, instagram_api_base=ig.base_url,
        embedded_redis_port=0)
    runtime = await open_runtime(settings, migrate=True, queue_factory=ArqQueue)
    runtime.services.platforms.instagram_configure_wait = 0
    try:
        insta = await Account.create(platform=Platform.INSTAGRAM, alias="insta", username=ig.username,
                                     auth_method=AuthMethod.PRIVATE_API,
                                     credentials={"username": ig.username, "password": ig.password})
        tube = await Account.create(
            platform=Platform.YOUTUBE, alias="tube", auth_method=AuthMethod.OAUTH, external_id=yt.channel_id,
            credentials={"access_token": "ya29.fake-access",
                         "expiry": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
                         "client_secret": {"installed": {"client_id": "c", "client_secret": "s",
                                                         "project_id": "bench"}}})
        for i in range(args.connections):
            await runtime.services.connections.create({
                "name": f"c{i}", "type": "instagram_to_youtube", "source_account_id": insta.id,
                "destination_account_id": tube.id, "status": "active",
                "schedule": {"check_interval_minutes": 60}})
        now = int(datetime.now(UTC).timestamp())
        for j in range(args.posts):
            ig.reels.append(FakeReel(pk=5000 + j, caption=f"post {j} #bench", taken_at=now + 5 + j,
                                     video=clip))
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
        print(f"forwarded                   {len(jobs)} (not successful: {failed}); videos on the fake: "
              f"{len(yt.uploaded())}")
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
        await yt.stop()
        await ig.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--posts", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=10, help="jobs each worker runs at once")
    asyncio.run(main(parser.parse_args()))
