"""The forward of one job: a checkpointed state machine over the ``Job`` row.

Steps: download -> probe -> transform -> metadata -> upload -> verify. Each step's result
is written to ``Job.checkpoint`` before the next starts; a re-run (a retry, another worker
after a crash) skips every step whose result is recorded and whose file still matches its
hash. The upload's resumable state is written before the first byte is sent, so a crash
mid-upload resumes that upload: a source post is published at most once per connection.

A worker claims a job with a lease (one conditional UPDATE): two workers never run the
same job at once, and a job whose worker vanished is taken over once its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.expressions import F, Q

from core.errors import ErrorCode, ForwarderError, MediaError, PolicyError, TransientError
from core.models import (
    Account,
    Connection,
    Direction,
    Job,
    JobStatus,
    JobStep,
    LogEntry,
    LogLevel,
    Platform,
    PostOutcome,
    SourcePost,
)
from core.pipeline import effects, job_alerts
from core.pipeline.metadata import Rendered, Templates, render
from core.pipeline.proxy_choice import choose_proxy
from core.pipeline.rules import Filters, RetryPolicy, aware
from core.pipeline.transform import transform_options
from core.platforms.base import DownloadedFile, PublishState, RemotePost, UploadRequest
from core.platforms.factory import PlatformFactory
from core.platforms.proxy import ProxySpec
from core.services.alerts import AlertService
from core.video import (
    ChangeKind,
    FFmpegBinary,
    execute,
    instagram_reels,
    locate,
    plan,
    probe,
    youtube_shorts,
)

# Overall percent at the start of each step (the bar in Telegram and the Mini App).
STEP_START = {JobStep.DOWNLOAD: 0, JobStep.PROBE: 25, JobStep.TRANSFORM: 30, JobStep.METADATA: 60,
              JobStep.UPLOAD: 62, JobStep.VERIFY: 95, JobStep.DONE: 100}
STEP_END = {JobStep.DOWNLOAD: 25, JobStep.PROBE: 30, JobStep.TRANSFORM: 60, JobStep.METADATA: 62,
            JobStep.UPLOAD: 95, JobStep.VERIFY: 100}

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    """What a run did; the queue layer schedules ``next_retry_at`` when set."""

    job_id: int
    status: JobStatus | None
    next_retry_at: datetime | None = None
    error: ForwarderError | None = None
    skipped: str | None = None
    paused_connections: tuple[int, ...] = ()


@dataclass
class _Run:
    job: Job
    connection: Connection
    post: SourcePost
    source: Account
    destination: Account
    proxy: ProxySpec | None
    checkpoint: dict[str, Any]
    folder: Path
    role: str = "source"  # whose account an error belongs to
    worker: str = ""  # the lease holder: every write is conditional on still holding it


class LeaseLost(Exception):  # noqa: N818 - a state, not an error of the job
    """Another worker took the job over (this one stalled past its lease): stop, write nothing."""


class ForwardService:
    """Runs jobs; the bot, the web app and the worker share it through the composition root."""

    def __init__(self, factory: PlatformFactory, data_dir: Path, *, timezone: str = "UTC",
                 lease_seconds: float = 120.0, clock: Callable[[], datetime] = utcnow,
                 binary: FFmpegBinary | None = None, ffmpeg_setting: str | None = None,
                 media_url: Callable[[Path], str | None] | None = None,
                 progress_every: float = 1.0, alerts: AlertService | None = None) -> None:
        self.factory = factory
        self.data_dir = data_dir
        self.timezone = timezone
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self._binary = binary
        self._ffmpeg_setting = ffmpeg_setting
        self.media_url = media_url
        self.progress_every = progress_every
        self.alerts = alerts

    @property
    def binary(self) -> FFmpegBinary:
        if self._binary is None:
            self._binary = locate(self._ffmpeg_setting)
        return self._binary

    def job_dir(self, job_id: int) -> Path:
        return self.data_dir / "jobs" / str(job_id)

    # ---- claim -----------------------------------------------------------------------

    async def claim(self, job_id: int, worker: str) -> bool:
        """Take the job's lease if it is due and nobody holds it."""
        now = self.clock()
        due = Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now + timedelta(seconds=1))
        # A running job is taken over only once its lease expired, even by the same worker process:
        # one process runs many jobs at once, and a second run of the same job must wait.
        free = (Q(status__in=[JobStatus.QUEUED, JobStatus.RETRYING]) & due) | Q(
            status=JobStatus.RUNNING, lease_until__lt=now)
        taken = await Job.filter(Q(id=job_id) & free).update(
            status=JobStatus.RUNNING, lease_owner=worker, lease_until=now + self.lease,
            attempts=F("attempts") + 1, next_retry_at=None)
        return bool(taken)

    async def _renew(self, job_id: int, worker: str) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            until = self.clock() + self.lease
            held = await Job.filter(id=job_id, lease_owner=worker).update(lease_until=until)
            if not held:  # taken over: the next checkpoint write stops this run
                return

    # ---- run -------------------------------------------------------------------------

    async def run(self, job_id: int, worker: str) -> Outcome:
        """Run (or resume) one job to an outcome."""
        if not await self.claim(job_id, worker):
            job = await Job.get_or_none(id=job_id)
            return Outcome(job_id, job.status if job else None,
                           skipped="not due, finished, or held by another worker" if job else "no such job")
        job = await Job.get(id=job_id).select_related("connection__source_account",
                                                        "connection__destination_account", "source_post")
        if job.started_at is None:
            job.started_at = self.clock()  # written with the first checkpoint
        renew = asyncio.create_task(self._renew(job_id, worker))
        run: _Run | None = None
        try:
            run = await self._prepare(job, worker)
            await self._steps(run)
        except LeaseLost:
            return self._lost(job_id, worker)
        except ForwarderError as exc:
            return await self._failed(job, run, exc)
        except Exception as exc:  # noqa: BLE001 - an unexpected error is classified, never lost
            error = ForwarderError(f"Unexpected {type(exc).__name__}: {exc}"[:500])
            error.__cause__ = exc
            return await self._failed(job, run, error)
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
        try:
            return await self._succeeded(run)
        except LeaseLost:
            return self._lost(job_id, worker)

    @staticmethod
    def _lost(job_id: int, worker: str) -> Outcome:
        log.warning("job %s: worker %s lost its lease to another worker; it stopped without writing",
                    job_id, worker)
        return Outcome(job_id, JobStatus.RUNNING, skipped="lease lost: another worker took the job over")

    async def _prepare(self, job: Job, worker: str) -> _Run:
        connection = job.connection
        source, destination = connection.source_account, connection.destination_account
        checkpoint = dict(job.checkpoint or {})
        run = _Run(job=job, connection=connection, post=job.source_post, source=source,
                   destination=destination, proxy=None, checkpoint=checkpoint, folder=self.job_dir(job.id),
                   worker=worker)
        proxy = await choose_proxy(connection, source, job)
        checkpoint["proxy_id"] = proxy.id if proxy else None
        run.proxy = ProxySpec.from_model(proxy) if proxy else None
        return run

    async def _save(self, run: _Run, step: JobStep, **fields: Any) -> None:
        run.job.checkpoint = run.checkpoint
        run.job.step = step
        held = await Job.filter(id=run.job.id, lease_owner=run.worker).update(
            checkpoint=run.checkpoint, step=step, progress_percent=STEP_START[step], **fields)
        if not held:
            raise LeaseLost(run.job.id)

    def _progress(self, run: _Run, step: JobStep, label: str) -> Callable[[int, int], Awaitable[None]]:
        # The step's start is already on the row; short steps write no progress at all.
        last = time.monotonic()

        async def report(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < self.progress_every:
                return
            last = now
            share = done / total if total else 0.0
            percent = STEP_START[step] + (STEP_END[step] - STEP_START[step]) * min(share, 1.0)
            await Job.filter(id=run.job.id).update(
                progress_percent=round(percent, 1),
                progress_message=f"{label} ({done / 1e6:.1f} MB / {total / 1e6:.1f} MB)")
        return report

    @staticmethod
    def _file(entry: dict[str, Any] | None) -> Path | None:
        """The recorded file when it still matches its hash."""
        if not entry:
            return None
        path = Path(entry["path"])
        if not path.is_file() or path.stat().st_size != entry["size"]:
            return None
        return path if DownloadedFile.of(path).sha256 == entry["sha256"] else None

    def _timed(self, run: _Run, step: JobStep, started: float) -> dict[str, Any]:
        durations = dict(run.job.step_durations or {})
        durations[step.value] = round(durations.get(step.value, 0) + time.monotonic() - started, 3)
        run.job.step_durations = durations
        return {"step_durations": durations}

    async def _steps(self, run: _Run) -> None:
        """The steps; each checkpoint is written before the step that needs it starts.

        Writes are folded where nothing is lost: the probe is saved with the transform (it is
        cheap to redo), the metadata with the upload's first state (before any byte), and the
        verification with the success row.
        """
        cp, post = run.checkpoint, run.post
        await asyncio.to_thread(run.folder.mkdir, parents=True, exist_ok=True)
        to_platform = (Platform.YOUTUBE if run.connection.direction == Direction.INSTAGRAM_TO_YOUTUBE
                       else Platform.INSTAGRAM)

        src = await asyncio.to_thread(self._file, cp.get("download"))
        if src is None:
            started = time.monotonic()
            run.role = "source"
            remote = RemotePost(id=post.source_post_id, caption=post.caption, media_url=post.media_url,
                                permalink=post.permalink, published_at=aware(post.published_at),
                                duration=post.duration, extra={"title": post.title})
            async with self.factory.source(run.source, run.proxy) as source:
                got = await source.download(remote, run.folder,
                                            self._progress(run, JobStep.DOWNLOAD, "Downloading"))
            src = got.path
            cp["download"] = {"path": str(got.path), "size": got.size, "sha256": got.sha256}
            first = {"started_at": run.job.started_at} if run.job.started_at else {}
            # The probe is part of the transform step (it is not saved on its own).
            await self._save(run, JobStep.TRANSFORM, bytes_in=got.size, **first,
                             **self._timed(run, JobStep.DOWNLOAD, started))

        out = await asyncio.to_thread(self._file, cp.get("transform"))
        if out is None:
            started = time.monotonic()
            info = await probe(src, binary=self.binary)
            filters = Filters.from_json(run.connection.filters)
            reason = filters.reject_reason(post.caption, info.duration, None)
            if reason:
                raise _Filtered(reason)
            cp["probe"] = {"duration": info.duration, "width": info.display_width,
                           "height": info.display_height, "size": info.size, "video_codec": info.video_codec}
            self._timed(run, JobStep.PROBE, started)
            started = time.monotonic()
            profile = youtube_shorts() if to_platform is Platform.YOUTUBE else instagram_reels()
            the_plan = plan(info, transform_options(run.connection.transform_options), profile)
            out = run.folder / "out.mp4"
            if the_plan.kinds <= {ChangeKind.STREAM_COPY}:
                # Already compliant: the source is the output (a rewrite by ffmpeg would change nothing).
                await asyncio.to_thread(_link, src, out)
                done = DownloadedFile(path=out, size=cp["download"]["size"], sha256=cp["download"]["sha256"])
            else:
                report = self._progress(run, JobStep.TRANSFORM, "Transforming")

                async def on_progress(share: float) -> None:
                    await report(int(share * 1000), 1000)

                await execute(the_plan, src, out, binary=self.binary, on_progress=on_progress)
                done = await asyncio.to_thread(DownloadedFile.of, out)
            cp["transform"] = {"path": str(out), "size": done.size, "sha256": done.sha256,
                               "summary": the_plan.summary(), "copy": the_plan.copy_video,
                               "changes": [c.kind.value for c in the_plan.changes]}
            await self._save(run, JobStep.UPLOAD, bytes_out=done.size,
                             **self._timed(run, JobStep.TRANSFORM, started))

        if "metadata" not in cp:
            templates = Templates.from_json(run.connection.metadata_templates, to_platform)
            rendered = render(templates, caption=post.caption, destination=to_platform,
                              source_url=post.permalink or "", source_account=run.source.username or
                              run.source.alias, published_at=aware(post.published_at),
                              source_title=post.title, timezone=self.timezone)
            cp["metadata"] = rendered.to_json()  # saved with the upload's first state

        meta = Rendered.from_json(cp["metadata"])
        request = UploadRequest(
            video_path=out, title=meta.title, description=meta.description, caption=meta.caption,
            tags=meta.tags, privacy=meta.privacy, category_id=meta.category_id,
            made_for_kids=meta.made_for_kids, notify_subscribers=meta.notify_subscribers,
            public_video_url=self.media_url(out) if self.media_url else None,
        )
        run.role = "destination"
        async with self.factory.destination(run.destination, run.proxy) as dest:
            upload = cp.get("upload") or {}
            if "result" not in upload:
                started = time.monotonic()

                async def save_state(state: dict[str, Any]) -> None:
                    cp["upload"] = {"state": state}
                    await self._save(run, JobStep.UPLOAD)

                report = self._progress(run, JobStep.UPLOAD, "Uploading")
                if upload.get("state"):
                    result = await dest.resume(upload["state"], request, save_state, report)
                else:
                    result = await dest.upload(request, save_state, report)
                cp.setdefault("upload", {})["result"] = {
                    "post_id": result.post_id, "url": result.url, "resumed_from": result.resumed_from,
                    "already_published": result.already_published}
                await self._save(run, JobStep.VERIFY, destination_post_id=result.post_id,
                                 destination_url=result.url, **self._timed(run, JobStep.UPLOAD, started))
            if "verify" not in cp:
                started = time.monotonic()
                post_id = cp["upload"]["result"]["post_id"]
                verdict = await dest.verify(post_id, request)
                if verdict.state is PublishState.REJECTED:
                    why = verdict.detail or "no reason given"
                    raise PolicyError(f"The destination rejected the video: {why}")
                if verdict.state is PublishState.FAILED:
                    raise MediaError(f"The destination could not process the video: {verdict.detail}")
                if verdict.state is PublishState.MISSING:
                    raise TransientError("The uploaded video is not visible yet; verifying again later")
                cp["verify"] = {"state": verdict.state.value, "privacy": verdict.privacy,
                                "locked_private": verdict.locked_private, "detail": verdict.detail,
                                "url": verdict.url}
                self._timed(run, JobStep.VERIFY, started)  # written with the success row

    # ---- outcomes ----------------------------------------------------------------------

    async def _succeeded(self, run: _Run) -> Outcome:
        job, now = run.job, self.clock()
        result = run.checkpoint["upload"]["result"]
        held = await Job.filter(id=job.id, lease_owner=run.worker).update(
            status=JobStatus.SUCCESS, step=JobStep.DONE, progress_percent=100, progress_message="Done",
            finished_at=now, lease_owner=None, lease_until=None, error_code=None, error_message=None,
            destination_post_id=result["post_id"], destination_url=result["url"],
            checkpoint=run.checkpoint, step_durations=job.step_durations)
        if not held:
            raise LeaseLost(job.id)
        await SourcePost.filter(id=run.post.id).update(outcome=PostOutcome.FORWARDED, reason=None)
        await Connection.filter(id=run.connection.id).update(
            success_count=F("success_count") + 1, total_forwarded=F("total_forwarded") + 1)
        verify = run.checkpoint.get("verify", {})
        message = f"Job {job.id}: forwarded {run.post.source_post_id} -> {result['url'] or result['post_id']}"
        if verify.get("locked_private"):
            message += f" (warning: {verify.get('detail')})"
        await LogEntry.create(level=LogLevel.WARNING if verify.get("locked_private") else LogLevel.INFO,
                              job_id=job.id, connection_id=run.connection.id, message=message,
                              details={"attempts": job.attempts, "durations": job.step_durations})
        await asyncio.to_thread(shutil.rmtree, run.folder, True)
        await job_alerts.job_succeeded(self.alerts, job, run.connection, result["url"], job.error_message)
        return Outcome(job.id, JobStatus.SUCCESS)

    async def _failed(self, job: Job, run: _Run | None, exc: ForwarderError) -> Outcome:
        now = self.clock()
        connection = job.connection
        fields: dict[str, Any] = {"lease_owner": None, "lease_until": None, "error_code": exc.code.value,
                                  "error_message": exc.message[:2000]}
        if run is not None:
            fields["checkpoint"] = run.checkpoint
        if isinstance(exc, _Filtered):
            if not await Job.filter(id=job.id, lease_owner=job.lease_owner).update(
                    status=JobStatus.CANCELLED, finished_at=now,
                    **{**fields, "error_code": None, "error_message": f"filtered: {exc.message}"}):
                return self._lost(job.id, str(job.lease_owner))
            await SourcePost.filter(id=job.source_post_id).update(  # type: ignore[attr-defined]
                outcome=PostOutcome.FILTERED, reason=exc.message)
            await Connection.filter(id=connection.id).update(filtered_count=F("filtered_count") + 1)
            return Outcome(job.id, JobStatus.CANCELLED)
        policy = RetryPolicy.from_json(connection.retry_policy)
        account = (run.destination if run and run.role == "destination" else connection.source_account)
        paused: list[int] = []
        if exc.code is ErrorCode.CAPTCHA_DETECTED:
            status, retry_at = JobStatus.CAPTCHA_PENDING, None
            fields["attempts"] = max(job.attempts - 1, 0)  # a challenge is not the job's fault
        elif exc.code is ErrorCode.QUOTA_EXCEEDED:
            status = JobStatus.RETRYING
            retry_at = getattr(exc, "reset_at", None) or now + timedelta(hours=1)
            fields["attempts"] = max(job.attempts - 1, 0)  # deferred, not burned
        elif policy.retries(exc.code) and job.attempts < policy.max_attempts:
            status = JobStatus.RETRYING
            retry_at = now + timedelta(seconds=max(policy.delay(job.attempts), exc.retry_after or 0))
        else:
            status, retry_at = JobStatus.FAILED, None
            fields.update(dead_letter=True, finished_at=now)
        if not await Job.filter(id=job.id, lease_owner=job.lease_owner).update(
                status=status, next_retry_at=retry_at, **fields):
            return self._lost(job.id, str(job.lease_owner))
        if status is JobStatus.FAILED:
            await SourcePost.filter(id=job.source_post_id).update(  # type: ignore[attr-defined]
                outcome=PostOutcome.FAILED, reason=f"{exc.code.value}: {exc.message}"[:1000])
            await Connection.filter(id=connection.id).update(failure_count=F("failure_count") + 1)
        proxy_id = (run.checkpoint.get("proxy_id") if run else None)
        if exc.code is ErrorCode.PROXY_ERROR and proxy_id:
            await effects.proxy_failed(proxy_id, exc.message)
        previous = account.status
        if exc.code in effects.ACCOUNT_STATUS_FOR:
            paused = await effects.account_needs_attention(account, exc.code, exc.message)
        elif exc.code in effects.PAUSE_CONNECTION_FOR and status is JobStatus.FAILED:
            await effects.pause_connection(connection, f"{exc.code.value}: {exc.message}")
            paused = [connection.id]
        level = LogLevel.ERROR if status is JobStatus.FAILED else LogLevel.WARNING
        await LogEntry.create(level=level, job_id=job.id, connection_id=connection.id,
                              message=f"Job {job.id}: {status.value} after attempt {job.attempts}: "
                                      f"{exc.code.value}: {exc.message}"[:2000],
                              details={**exc.to_dict(),
                                       "next_retry_at": retry_at.isoformat() if retry_at else None})
        await job_alerts.job_outcome(self.alerts, job, connection, status, exc, account, previous,
                                     policy.max_attempts, retry_at)
        return Outcome(job.id, status, next_retry_at=retry_at, error=exc, paused_connections=tuple(paused))


def _link(src: Path, dst: Path) -> None:
    """``dst`` becomes the same file as ``src`` (a copy across file systems)."""
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


class _Filtered(ForwarderError):
    """The post failed a filter that needed the probe (its duration)."""
