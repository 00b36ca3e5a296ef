"""The web app over a seeded database, run as its own process for the Mini App browser tests.

The seed looks like a forwarder that has been running for a month: accounts in every state the
screens show (one waiting for a CAPTCHA, one whose token expires in a few days), connections in
each status, a month of jobs, a dead-letter queue, logs, proxies and alerts. Run-now polls
in-memory platforms whose source always has one new post, so "create, run, the job appears"
can be shown without any network. Every external endpoint points at a dead loopback port.

Prints one JSON line: the base URL, the admin's initData and the bot token.

    .venv/bin/python tests/webapp/miniapp_server.py [--port 8099]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiohttp import web  # noqa: E402

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
    Proxy,
    ProxyAssignment,
    ProxyHealth,
    ProxyType,
    SourcePost,
)
from core.platforms.proxy import ProxySpec  # noqa: E402
from core.redis_embedded import free_port  # noqa: E402
from core.services.connections import ConnectionService  # noqa: E402
from core.services.polls import PollService  # noqa: E402
from core.settings import Settings  # noqa: E402
from jobs.queue import ArqQueue  # noqa: E402
from tests.fakes.media import make_clip  # noqa: E402
from tests.fakes.platforms import MemoryPlatforms  # noqa: E402
from tests.webapp.conftest import ADMIN_ID, BOT_TOKEN, init_data  # noqa: E402
from webapp.app import create_app  # noqa: E402

DEAD = "http://127.0.0.1:9"
ERRORS = [("network_timeout", "Download timed out after 120 s"),
          ("quota_exceeded", "YouTube quota exhausted; resets at midnight Pacific"),
          ("video_too_long", "Video is 212 s; YouTube Shorts allow 180 s"),
          ("proxy_error", "Proxy nl-1 refused the connection"),
          ("rate_limited", "Instagram asked to slow down")]


class FreshPosts(MemoryPlatforms):
    """In-memory platforms whose source has one new post each time it is polled."""

    def source(self, account: Account, proxy: ProxySpec | None = None, **kwargs: Any) -> Any:
        self.world(account).add_post(caption="Sunset over the harbour #travel #shorts")
        return super().source(account, proxy, **kwargs)


async def seed(now: datetime) -> None:
    rng = random.Random(7)
    nl = await Proxy.create(alias="nl-residential", type=ProxyType.SOCKS5, host="10.20.0.4", port=1080,
                            username="user", password="secret", assignment=ProxyAssignment.PER_ACCOUNT,
                            health=ProxyHealth.HEALTHY, latency_ms=182,
                            last_check_at=now - timedelta(minutes=4),
                            last_success_at=now - timedelta(minutes=4))
    await Proxy.create(alias="de-dc-2", type=ProxyType.HTTP, host="10.20.0.9", port=3128,
                       health=ProxyHealth.UNHEALTHY, consecutive_failures=3, last_error="connection refused",
                       last_check_at=now - timedelta(minutes=9))
    await Proxy.create(alias="backup-us", type=ProxyType.HTTPS, host="10.20.0.12", port=8443)
    travel = await Account.create(platform=Platform.INSTAGRAM, alias="travel.reels", username="travel.reels",
                                  auth_method=AuthMethod.PRIVATE_API, status=AccountStatus.ACTIVE,
                                  default_proxy=nl, last_verified_at=now - timedelta(hours=2))
    food = await Account.create(platform=Platform.INSTAGRAM, alias="food.daily", username="food.daily",
                                auth_method=AuthMethod.PRIVATE_API, status=AccountStatus.CAPTCHA_DETECTED,
                                status_reason="Instagram asks to confirm it's you (checkpoint)")
    brand = await Account.create(platform=Platform.INSTAGRAM, alias="brand.graph", username="brandofficial",
                                 auth_method=AuthMethod.GRAPH_API, status=AccountStatus.EXPIRY_WARNING,
                                 credentials={"login_type": "facebook", "access_token": "EAA" + "s" * 40,
                                              "ig_user_id": "17841400000000003", "app_id": "1",
                                              "app_secret": "seeded-app-secret"},
                                 token_expiry=now + timedelta(days=4, hours=6))
    tube = await Account.create(platform=Platform.YOUTUBE, alias="Travel Shorts",
                                auth_method=AuthMethod.OAUTH,
                                status=AccountStatus.ACTIVE, token_expiry=now + timedelta(minutes=50),
                                profile={"channel_title": "Travel Shorts", "subscribers": 18400},
                                credentials={"refresh_token": "1//seeded"})
    kitchen = await Account.create(platform=Platform.YOUTUBE, alias="Kitchen Clips",
                                   auth_method=AuthMethod.OAUTH, status=AccountStatus.ACTIVE,
                                   profile={"channel_title": "Kitchen Clips"},
                                   credentials={"refresh_token": "1//seeded"})
    conns = [
        await Connection.create(name="Travel → Shorts", direction=Direction.INSTAGRAM_TO_YOUTUBE,
                                source_account=travel, destination_account=tube,
                                status=ConnectionStatus.ACTIVE, last_run_at=now - timedelta(minutes=3),
                                next_check_at=now + timedelta(minutes=2)),
        await Connection.create(name="Food daily", direction=Direction.INSTAGRAM_TO_YOUTUBE,
                                source_account=food, destination_account=kitchen,
                                status=ConnectionStatus.PAUSED,
                                pause_reason="CAPTCHA on food.daily", last_run_at=now - timedelta(hours=5)),
        await Connection.create(name="Shorts → Brand reels", direction=Direction.YOUTUBE_TO_INSTAGRAM,
                                source_account=tube, destination_account=brand,
                                status=ConnectionStatus.ACTIVE,
                                last_run_at=now - timedelta(minutes=12),
                                next_check_at=now + timedelta(minutes=8)),
        await Connection.create(name="Kitchen archive", direction=Direction.YOUTUBE_TO_INSTAGRAM,
                                source_account=kitchen, destination_account=travel,
                                status=ConnectionStatus.STOPPED),
    ]
    weights = [6, 2, 3, 1]
    n = 0
    for day in range(30, -1, -1):
        for _ in range(rng.randint(6, 14)):
            conn = rng.choices(conns, weights)[0]
            n += 1
            created = now - timedelta(days=day, minutes=rng.randint(30, 60 * 20))
            if created > now - timedelta(minutes=30):
                created = now - timedelta(minutes=30 + n % 60)
            roll = rng.random()
            status = (JobStatus.SUCCESS if roll < 0.86 else JobStatus.FAILED if roll < 0.95
                      else JobStatus.CANCELLED)
            await _job(conn, n, status, created, rng)
    # in flight now
    await _job(conns[0], n + 1, JobStatus.RUNNING, now - timedelta(minutes=2), rng, step=JobStep.UPLOAD,
               percent=64, message="Uploading to YouTube: 4.1 of 6.4 MB")
    await _job(conns[2], n + 2, JobStatus.RUNNING, now - timedelta(minutes=1), rng, step=JobStep.TRANSFORM,
               percent=31, message="Re-encoding to 1080x1920")
    await _job(conns[0], n + 3, JobStatus.RETRYING, now - timedelta(minutes=7), rng,
               error=ERRORS[0], next_retry=now + timedelta(minutes=3))
    await _job(conns[1], n + 4, JobStatus.CAPTCHA_PENDING, now - timedelta(hours=5), rng)
    await _job(conns[0], n + 5, JobStatus.QUEUED, now - timedelta(seconds=20), rng)
    for conn in conns:  # the counters the pipeline keeps
        done = Job.filter(connection=conn)
        ok = await done.filter(status=JobStatus.SUCCESS).count()
        failed = await done.filter(status=JobStatus.FAILED).count()
        await Connection.filter(id=conn.id).update(success_count=ok, failure_count=failed, total_forwarded=ok)
    for level, message, conn in [
            (LogLevel.INFO, "Connection Travel → Shorts polled: 1 new post", conns[0]),
            (LogLevel.WARNING, "Proxy de-dc-2 failed 3 checks in a row; skipped", None),
            (LogLevel.ERROR, "Download timed out after 120 s (attempt 1 of 3)", conns[0]),
            (LogLevel.CRITICAL, "food.daily: Instagram asks to confirm it's you; paused", conns[1]),
            (LogLevel.INFO, "Uploaded Short 'Sunset over the harbour' to Travel Shorts", conns[0])]:
        await LogEntry.create(level=level, message=message, connection=conn)
    for kind, status in [("job_failed", DeliveryStatus.SENT), ("captcha_detected", DeliveryStatus.SENT),
                         ("token_expiring", DeliveryStatus.PENDING)]:
        await Notification.create(kind=kind, payload={"title": kind.replace("_", " ")}, chat_id="-100123",
                                  status=status, sent_at=now if status is DeliveryStatus.SENT else None)


async def _job(conn: Connection, n: int, status: JobStatus, created: datetime, rng: random.Random, *,
               step: JobStep | None = None, percent: float = 0, message: str = "",
               error: tuple[str, str] | None = None, next_retry: datetime | None = None) -> Job:
    to_youtube = conn.direction is Direction.INSTAGRAM_TO_YOUTUBE
    post_id = f"C{n:05d}xR" if to_youtube else f"yt{n:07d}"
    source = await SourcePost.create(
        connection=conn, source_post_id=post_id, title=f"Clip {n}",
        caption=rng.choice(["Sunset over the harbour #travel", "Street food in Bangkok #food",
                            "Morning hike, 5 km #outdoors", "One-pan pasta in 10 minutes"]),
        permalink=(f"https://www.instagram.com/reel/{post_id}/" if to_youtube
                   else f"https://www.youtube.com/shorts/{post_id}"))
    fields: dict[str, Any] = {"attempts": 1 if status is not JobStatus.QUEUED else 0}
    if status in (JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.CANCELLED):
        took = rng.uniform(25, 140)
        fields.update(started_at=created + timedelta(seconds=rng.uniform(1, 20)), step=JobStep.DONE,
                      finished_at=created + timedelta(seconds=took), progress_percent=100,
                      step_durations={"download": round(took * .3, 1), "transform": round(took * .4, 1),
                                      "upload": round(took * .25, 1), "verify": round(took * .05, 1)},
                      bytes_in=rng.randint(3, 12) * 1_000_000, bytes_out=rng.randint(3, 9) * 1_000_000)
    if status is JobStatus.SUCCESS:
        dest = f"v{n:06d}" if to_youtube else f"1790{n:07d}"
        fields.update(destination_post_id=dest,
                      destination_url=(f"https://www.youtube.com/shorts/{dest}" if to_youtube
                                       else f"https://www.instagram.com/reel/{dest}/"))
    elif status is JobStatus.FAILED:
        code, text = error or rng.choice(ERRORS)
        fields.update(error_code=code, error_message=text, dead_letter=True, attempts=3,
                      step=JobStep.DOWNLOAD)
    elif status is JobStatus.RETRYING:
        code, text = error or ERRORS[0]
        fields.update(error_code=code, error_message=text, next_retry_at=next_retry, step=JobStep.DOWNLOAD)
    elif status is JobStatus.RUNNING:
        fields.update(started_at=created, step=step, progress_percent=percent, progress_message=message)
    elif status is JobStatus.CAPTCHA_PENDING:
        fields.update(error_code="captcha_detected", error_message="Instagram asks to confirm it's you")
    job = await Job.create(connection=conn, source_post=source, status=status, **fields)
    await Job.filter(id=job.id).update(created_at=created)  # auto_now_add: only an UPDATE can date it
    return job


async def main(port: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="miniapp-"))
    base = f"http://127.0.0.1:{port}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data, telegram_bot_token=BOT_TOKEN, admin_ids=[ADMIN_ID],
        telegram_api_base=DEAD, youtube_api_base=DEAD + "/", google_auth_uri=DEAD + "/a",
        google_token_uri=DEAD + "/t", youtube_web_base=DEAD, instagram_api_base=DEAD, graph_api_base=DEAD,
        graph_upload_base=DEAD, instagram_graph_api_base=DEAD, proxy_check_urls=[DEAD], public_base_url=base)
    runtime = await open_runtime(settings, migrate=True, queue_factory=ArqQueue)
    await seed(datetime.now(UTC))
    platforms = FreshPosts(make_clip(data / "clip.mp4", seconds=1.0))
    s = runtime.services
    services = dataclasses.replace(s, connections=ConnectionService(PollService(platforms), s.queue))
    runner = web.AppRunner(create_app(dataclasses.replace(runtime, services=services)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(json.dumps({"base": base, "init_data": init_data(ADMIN_ID), "bot_token": BOT_TOKEN}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    asyncio.run(main(args.port or free_port()))
