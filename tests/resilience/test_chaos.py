"""100 forwards by 3 worker processes on PostgreSQL and a Redis server, under faults.

20 connections x 5 new Reels, Instagram (private API fake) -> YouTube (Data API fake), tiny
passthrough clips. While the jobs run, the test

* SIGKILLs 6 random workers (a replacement is started each time, so 3 keep running);
* crashes Redis (SIGKILL: the append-only file is fsynced every second, so up to a second of
  queue writes is lost) and starts it again on the same port and data;
* kills the proxy 4 of the connections use;

and the fakes fail 20 % (seeded) of the forward's calls — Instagram's CDN download, YouTube's
upload session, upload PUTs and verification — with a 5xx or a timeout (half of the timeouts
after the server did the work, so only the answer is lost). Polls are not failed: a failed poll
waits for the next schedule slot (a minute), and their failures are covered in tests/core.

What the system does when the proxy dies: nothing falls back to a direct connection (the
connections do not allow it, and the proxy monitor runs every 30 minutes). Each job of those
connections that had not finished fails with ``proxy_error`` naming the proxy, is retried by the
connection's policy and then dead-lettered with that reason; no request of theirs reaches the
platform without the proxy. The test asserts exactly that.

What the system does when Redis goes away: a worker whose Redis call fails while it is down
exits (ARQ does not retry), and its process manager starts it again — here the pool, in
production ``restart: unless-stopped``. Its jobs are taken over like a killed worker's.

At the end: every post has one job, and it is either forwarded (exactly one video on the fake,
the job's) or dead-lettered with an error code and message (no video, unless the upload had
finished and only a later step failed: then the job's checkpoint leads to that video, so a retry
resumes instead of uploading again); nothing is left queued, running or retrying; no post is
uploaded twice. The counts are printed.

Needs PostgreSQL (TEST_DATABASE_URL): several processes share the database.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from core import crypto
from core.bootstrap import Runtime, build_services
from core.models import Job, JobStatus, Proxy, ProxyType, SourcePost
from core.redis_embedded import free_port
from core.settings import Settings
from jobs.queue import ArqQueue
from tests.conftest import TEST_DATABASE_URL
from tests.e2e.test_forward_wire import accounts as wire_accounts
from tests.fakes.faults import RandomFaults
from tests.fakes.instagram_private import FakeInstagramPrivate, FakeReel
from tests.fakes.media import make_clip
from tests.fakes.proxies import ProxyServers
from tests.fakes.youtube import FakeVideo, FakeYouTube
from tests.resilience.cluster import RedisServer, WorkerPool

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL and process semantics"),
    pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith(("postgres", "asyncpg")),
                       reason="several worker processes need a PostgreSQL server: set TEST_DATABASE_URL"),
]

SEED = int(os.environ.get("RESILIENCE_SEED", "20261109"))
CONNECTIONS, POSTS, WORKERS, KILLS = 20, 5, 3, 6
PROXIED = frozenset(range(0, CONNECTIONS, 5))  # c00, c05, c10, c15 go through the proxy
FAULT_RATE = 0.2
LEASE_SECONDS, RECONCILE_SECONDS = 10, 5
RETRY_POLICY = {"max_attempts": 5, "initial_delay_seconds": 0.5, "backoff_multiplier": 2,
                "max_delay_seconds": 4}
SETUP_TIMEOUT, DRAIN_TIMEOUT = 60.0, 150.0
TERMINAL = (JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.CANCELLED)
TITLE = re.compile(r"^(c\d\d) (post \d+)")

Key = tuple[str, str]  # ("c07", "post 3"): a connection and a post, as the video's title names them


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_clip(tmp_path_factory.mktemp("resilience") / "reel.mp4", seconds=3.2).read_bytes()


def worker_env(settings: Settings, keyring: crypto.KeyRing, dead: str) -> dict[str, str]:
    """The environment of a `forwarder worker`: the test's database, Redis and fakes, nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith((
        "TELEGRAM_", "ADMIN_", "DATABASE_", "REDIS_", "SECRET_", "WEB_", "YOUTUBE_", "GOOGLE_", "GRAPH_",
        "INSTAGRAM_", "PROXY_", "FORWARD_", "RECONCILE_", "DATA_DIR", "LOG_LEVEL"))}
    env.update(
        DATA_DIR=str(settings.data_dir), DATABASE_URL=str(settings.database_url),
        REDIS_URL=str(settings.redis_url), SECRET_KEYS=keyring.keys[0],
        YOUTUBE_API_BASE=settings.youtube_api_base, YOUTUBE_WEB_BASE=settings.youtube_web_base,
        INSTAGRAM_API_BASE=settings.instagram_api_base, PROXY_CHECK_URLS=",".join(settings.proxy_check_urls),
        # Nothing may leave the machine: what the run does not use points at a closed port.
        GOOGLE_AUTH_URI=f"{dead}/auth", GOOGLE_TOKEN_URI=f"{dead}/token", GRAPH_API_BASE=f"{dead}/v21.0",
        GRAPH_UPLOAD_BASE=f"{dead}/rupload", TELEGRAM_API_BASE=dead,
        FORWARD_LEASE_SECONDS=str(LEASE_SECONDS), RECONCILE_SECONDS=str(RECONCILE_SECONDS),
        # SIGABRT then logs every thread's stack (the test sends it only when jobs are stuck).
        LOG_LEVEL="INFO", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    return env


class TimedCalls(list[tuple[str, str]]):
    """The fake's call list, with the time of each call on the side (for a stuck job's trace)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: tuple[str, str]) -> None:
        self.times.append(time.time())
        super().append(item)


def stamp(t: float) -> str:
    return f"{datetime.fromtimestamp(t, UTC):%H:%M:%S.%f}"[:-3]


def trace(yt: FakeYouTube, jobs: list[Job]) -> str:
    """YouTube calls and injected faults on the upload sessions of ``jobs``, in time order."""
    ids = [str(((j.checkpoint or {}).get("upload") or {}).get("state", {}).get("session_uri", ""))
           .rsplit("upload_id=", 1)[-1] for j in jobs]
    ids = [i for i in ids if i]
    times = getattr(yt.calls, "times", [0.0] * len(yt.calls))
    lines = [f"{stamp(t)} call {m} {p}" for t, (m, p) in zip(times, yt.calls, strict=True)
             if any(i in p for i in ids)]
    lines += [f"{stamp(t)} fault {k} {m} {p}" for t, k, m, p in (yt.faults.log if yt.faults else [])
              if any(i in p for i in ids)]
    return "\n".join(sorted(lines))


async def counts() -> tuple[int, int]:
    """(jobs, jobs that ended)."""
    return await Job.all().count(), await Job.filter(status__in=TERMINAL).count()


@dataclass
class ProxyDeath:
    """What the test saw when it killed the proxy."""

    sessions: int = 0  # upload sessions on the fake by then
    calls: int = 0  # requests on the fake by then
    unfinished: set[int] = field(default_factory=set)  # proxied jobs that had not ended


@dataclass
class Chaos:
    """Kills, a Redis crash and the proxy's death, paced by how many jobs have ended."""

    pool: WorkerPool
    redis: RedisServer
    proxy: ProxyServers
    yt: FakeYouTube
    proxied: list[int]  # connection ids
    rng: random.Random
    events: list[tuple[float, str]] = field(default_factory=list)
    death: ProxyDeath | None = None

    async def run(self, deadline: float) -> None:
        """Until every job ended or ``deadline`` (monotonic) passed."""
        kill_at = sorted(self.rng.sample(range(2, 75), KILLS))
        redis_at: int | None = self.rng.randint(25, 50)
        while time.monotonic() < deadline:
            total, ended = await counts()
            if ended >= total:
                return
            while kill_at and ended >= kill_at[0]:
                kill_at.pop(0)
                pid = await self.pool.kill_one()
                self.events.append((time.time(), f"SIGKILL worker {pid} ({ended} jobs ended)"))
            if redis_at is not None and ended >= redis_at:
                redis_at = None
                self.events.append((time.time(), f"Redis crashed ({ended} jobs ended)"))
                await self.redis.restart(down_for=1.5)
                self.events.append((time.time(), "Redis up again"))
            if self.death is None and await Job.filter(connection_id__in=self.proxied,
                                                       status=JobStatus.SUCCESS).exists():
                await self.kill_proxy(ended)
            await asyncio.sleep(0.25)

    async def kill_proxy(self, ended: int) -> None:
        """Once a job went through the proxy: kill it, and note what was unfinished."""
        self.proxy.stop()
        await asyncio.sleep(0.5)  # what the proxy relayed before it died reaches the fake
        self.death = ProxyDeath(sessions=len(self.yt.sessions), calls=len(self.yt.calls))
        self.death.unfinished.update(await Job.filter(connection_id__in=self.proxied).exclude(
            status__in=TERMINAL).values_list("id", flat=True))
        self.events.append((time.time(), f"proxy killed ({ended} jobs ended, "
                                         f"{len(self.death.unfinished)} proxied unfinished)"))


@dataclass
class Outcome:
    """The end state, as counts and a list of what is wrong."""

    forwarded: int = 0
    dead: Counter[str] = field(default_factory=Counter)
    published_then_dead: int = 0
    duplicates: dict[Key, list[str]] = field(default_factory=dict)
    lost: list[Key] = field(default_factory=list)
    stuck: list[Job] = field(default_factory=list)
    proxy_dead_lettered: int = 0
    proxy_raced: int = 0
    problems: list[str] = field(default_factory=list)


def judge(jobs: list[Job], names: dict[int, str], videos: list[FakeVideo], yt: FakeYouTube,
          clip: bytes, death: ProxyDeath | None, proxy_port: int) -> Outcome:
    """Check every post's end state against the fake destination."""
    out = Outcome()
    by_title: dict[Key, list[FakeVideo]] = {}
    for video in videos:
        match = TITLE.match(video.title)
        if match is None:
            out.problems.append(f"a video no job could have made: {video.title!r}")
            continue
        by_title.setdefault((match[1], match[2]), []).append(video)
    out.duplicates = {k: [v.id for v in vs] for k, vs in by_title.items() if len(vs) > 1}
    by_key = {(names[j.connection.id], j.source_post.caption): j for j in jobs}
    expected = {(f"c{i:02d}", f"post {p}") for i in range(CONNECTIONS) for p in range(POSTS)}
    out.lost = sorted(expected - set(by_key))  # never recorded
    if len(jobs) != len(by_key) or set(by_key) - expected:
        out.problems.append(f"{len(jobs)} jobs for {len(by_key)} posts")
    session_video = {s.id: s.video_id for s in yt.sessions.values()}
    for k, job in sorted(by_key.items()):
        mine = by_title.get(k, [])
        if job.status not in TERMINAL:
            out.stuck.append(job)
        elif job.status is JobStatus.SUCCESS:
            out.forwarded += 1
            if not mine:
                out.lost.append(k)
            elif job.destination_post_id not in {v.id for v in mine} or len(mine[0].content) != len(clip):
                out.problems.append(f"{k}: success with {job.destination_post_id}, videos {mine}")
        elif job.status is JobStatus.FAILED and job.dead_letter and job.error_code and job.error_message \
                and job.source_post.reason and job.source_post.reason.startswith(job.error_code):
            out.dead[job.error_code] += 1
            if mine:  # published, then a later step failed for good: the checkpoint must lead to it
                state = ((job.checkpoint or {}).get("upload") or {}).get("state") or {}
                session = str(state.get("session_uri", "")).rsplit("upload_id=", 1)[-1]
                if {job.destination_post_id, session_video.get(session)}.isdisjoint(v.id for v in mine):
                    out.problems.append(f"{k}: dead-lettered, and its video {mine[0].id} is unknown to it")
                out.published_then_dead += 1
        else:
            out.problems.append(f"{k}: job {job.id} ended {job.status.value} without a dead-letter "
                                f"reason ({job.error_code}: {job.error_message})")
    if death is None:
        out.problems.append("no job of the proxied connections succeeded, so the proxy was never killed")
        return out
    # Nothing of a proxied connection reached YouTube once the proxy was dead: no new upload session
    # titled for one, no request on one of their sessions or videos.
    proxied = {f"c{i:02d}" for i in PROXIED}
    sessions = {s.id for s in yt.sessions.values()
                if str(s.metadata.get("snippet", {}).get("title", ""))[:3] in proxied}
    ids = {v.id for k, vs in by_title.items() if k[0] in proxied for v in vs}
    direct = [s.id for s in list(yt.sessions.values())[death.sessions:] if s.id in sessions]
    direct += [f"{m} {p}" for m, p in yt.calls[death.calls:]
               if any(f"upload_id={s}" in p for s in sessions) or any(f"id={v}&" in p for v in ids)]
    if direct:
        out.problems.append(f"requests of proxied connections reached YouTube without the proxy: {direct}")
    for job in (j for j in jobs if j.id in death.unfinished):
        if job.status is JobStatus.SUCCESS:
            out.proxy_raced += 1  # its last request had gone through before the proxy died
        elif job.error_code == "proxy_error" and (str(proxy_port) in (job.error_message or "")
                                                  or "dying-proxy" in (job.error_message or "")):
            out.proxy_dead_lettered += 1
        else:
            out.problems.append(f"proxied job {job.id} unfinished at the proxy's death ended "
                                f"{job.status.value} {job.error_code}: {job.error_message}")
    if out.proxy_dead_lettered == 0:
        out.problems.append("no proxied job was dead-lettered with proxy_error")
    return out


async def test_every_post_forwarded_once_or_dead_lettered(db: str, keyring: crypto.KeyRing,
                                                          tmp_path: Path, clip: bytes) -> None:
    started = time.monotonic()
    redis_server = RedisServer(tmp_path / "redis")
    await redis_server.start()
    yt = FakeYouTube(faults=RandomFaults(rate=FAULT_RATE, seed=SEED,
                                         paths=("/upload/", "/youtube/v3/videos")))
    ig = FakeInstagramPrivate(faults=RandomFaults(rate=FAULT_RATE, seed=SEED + 1, paths=("/cdn/",)))
    yt.calls = TimedCalls()
    await yt.start()
    await ig.start()
    proxy = ProxyServers(modes=("http",)).start()
    proxy_port = proxy.ports["http"]
    redis: Redis = Redis.from_url(redis_server.url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data", database_url=db, redis_url=redis_server.url,
        youtube_api_base=yt.base_url + "/", youtube_web_base=yt.base_url, instagram_api_base=ig.base_url,
        proxy_check_urls=[yt.rss_url()])
    runtime = Runtime(settings, keyring, redis_server.url, redis,
                      build_services(settings, keyring, redis, ArqQueue(redis)))
    pool = WorkerPool(worker_env(settings, keyring, f"http://127.0.0.1:{free_port()}"), cwd=tmp_path,
                      logs=tmp_path / "logs", size=WORKERS, rng=random.Random(SEED + 1))
    try:
        # One Google project here; a real one allows 100 uploads a day.
        await runtime.services.system.update("quota", {"youtube_daily_units": 1_000_000,
                                                       "youtube_daily_uploads": 1_000_000})
        insta, tube = await wire_accounts(yt, ig, token_hours=6, project="resilience")
        dying = await Proxy.create(alias="dying-proxy", type=ProxyType.HTTP, host="127.0.0.1",
                                   port=proxy_port)
        soon = int(datetime.now(UTC).timestamp()) + 60  # published after the connections start
        for p in range(POSTS):
            ig.reels.append(FakeReel(pk=7000 + p, caption=f"post {p}", taken_at=soon + p, video=clip))
        names: dict[int, str] = {}
        for i in range(CONNECTIONS):
            made = await runtime.services.connections.create({
                "name": f"c{i:02d}", "type": "instagram_to_youtube", "source_account_id": insta.id,
                "destination_account_id": tube.id, "status": "active",
                "schedule": {"check_interval_minutes": 60}, "retry_policy": RETRY_POLICY,
                "metadata_templates": {"title": f"c{i:02d} {{first_line}}"},
                "proxy_id": dying.id if i in PROXIED else None,
                "proxy_policy": {"fallback_to_direct": False}})
            names[made.id] = f"c{i:02d}"
        await pool.start()

        # The polls create the 100 jobs (creating a connection queued its first poll).
        deadline = time.monotonic() + SETUP_TIMEOUT
        while (await counts())[0] < CONNECTIONS * POSTS:
            made_jobs = (await counts())[0]
            assert time.monotonic() < deadline, f"the polls made {made_jobs} jobs\n{pool.log_tail()}"
            await asyncio.sleep(0.2)
        chaos = Chaos(pool, redis_server, proxy, yt, [c for c, n in names.items() if int(n[1:]) in PROXIED],
                      random.Random(SEED))
        await chaos.run(deadline=time.monotonic() + DRAIN_TIMEOUT)
        wall = time.monotonic() - started
        if await Job.exclude(status__in=TERMINAL).exists():
            await pool.dump_stacks()  # what the workers were doing, for the report below
        await pool.stop()

        jobs = list(await Job.all().prefetch_related("source_post", "connection"))
        out = judge(jobs, names, yt.uploaded(), yt, clip, chaos.death, proxy_port)
        print(f"\nresilience seed {SEED}: {CONNECTIONS} connections x {POSTS} posts = {len(jobs)} forwards, "
              f"{WORKERS} workers, PostgreSQL + Redis (appendonly everysec), wall {wall:.1f} s")
        print("\n".join(f"  {stamp(t)} {what}" for t, what in chaos.events))
        print(f"  forwarded {out.forwarded}, dead-lettered {sum(out.dead.values())} "
              f"({', '.join(f'{c} {n}' for c, n in out.dead.most_common()) or 'none'}; "
              f"{out.published_then_dead} of them after their video was published), "
              f"duplicates {len(out.duplicates)}, lost {len(out.lost)}, stuck {len(out.stuck)}")
        print(f"  kills {pool.kills}, redis restarts {redis_server.restarts}, workers that exited by "
              f"themselves {len(pool.exits)} (exit codes {dict(Counter(pool.exits))}), worker processes "
              f"started {pool.started}")
        print(f"  proxy death: {out.proxy_dead_lettered} proxied job(s) dead-lettered with proxy_error, "
              f"{out.proxy_raced} finished their last request before it")
        print(f"  attempts per job {dict(sorted(Counter(j.attempts for j in jobs).items()))}; SourcePosts "
              f"{await SourcePost.all().count()}")
        print(f"  faults: YouTube {yt.faults.summary() if yt.faults else '-'}; "
              f"Instagram {ig.faults.summary() if ig.faults else '-'}")
        assert not out.stuck, "left unfinished after the drain timeout: " + "; ".join(
            f"job {j.id} {j.status.value} step={j.step.value} attempts={j.attempts} lease={j.lease_owner} "
            f"until={j.lease_until} next={j.next_retry_at}" for j in out.stuck) + \
            f"\n{trace(yt, out.stuck)}\n{pool.log_tail()}"
        assert (pool.kills, redis_server.restarts) == (KILLS, 1)  # the chaos did happen
        assert out.duplicates == {} and out.lost == [], (out.duplicates, out.lost)
        assert out.problems == [], out.problems
    finally:
        await pool.stop()
        proxy.close()
        await yt.stop()
        await ig.stop()
        await redis.aclose()
        await redis_server.stop()
