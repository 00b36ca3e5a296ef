"""The forward of one job: runs the steps of ``core.pipeline.steps`` over the ``Job`` row.

Steps: download -> probe -> transform -> metadata -> upload -> verify, then the outcome
(``core.pipeline.outcome``, one transaction). Each step's result is written to
``Job.checkpoint`` before the next starts; a re-run (a retry, another worker after a crash)
skips every step whose result is recorded and whose file still matches its hash. The
upload's resumable state is written before the first byte is sent, so a crash mid-upload
resumes that upload: a source post is published at most once per connection.

A worker claims a job with a lease (``core.pipeline.machine``): two workers never run the
same job at once, a job whose worker vanished is taken over once its lease expires, and a
worker that lost its lease (or whose job was cancelled) stops without writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.errors import ForwarderError
from core.models import Account, Connection, Job, JobStatus, JobStep
from core.pipeline import machine, outcome, steps
from core.pipeline.job_alerts import Notifier
from core.pipeline.machine import Filtered, Lease, LeaseLost
from core.pipeline.metadata import Rendered
from core.pipeline.proxy_choice import choose_proxy
from core.platforms.base import Destination, DownloadedFile, RemotePost, UploadRequest
from core.platforms.factory import PlatformFactory
from core.platforms.proxy import ProxySpec
from core.video import FFmpegBinary, locate

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
    lease: Lease  # every write is conditional on still holding it
    post: RemotePost
    proxy: ProxySpec | None
    checkpoint: dict[str, Any]
    folder: Path
    role: str = "source"  # whose account an error belongs to

    @property
    def connection(self) -> Connection:
        return self.job.connection

    @property
    def source(self) -> Account:
        return self.job.connection.source_account

    @property
    def destination(self) -> Account:
        return self.job.connection.destination_account


class ForwardService:
    """Runs jobs; the bot, the web app and the worker share it through the composition root."""

    def __init__(self, factory: PlatformFactory, data_dir: Path, *, timezone: str = "UTC",
                 lease_seconds: float = 120.0, clock: Callable[[], datetime] = utcnow,
                 binary: FFmpegBinary | None = None, ffmpeg_setting: str | None = None,
                 media_url: Callable[[Path], str | None] | None = None,
                 progress_every: float = 1.0, alerts: Notifier | None = None) -> None:
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

    async def _renew(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            if not await machine.renew(lease, self.clock() + self.lease):
                return  # lost: the next checkpoint write stops this run

    # ---- run -------------------------------------------------------------------------

    async def run(self, job_id: int, worker: str) -> Outcome:
        """Run (or resume) one job to an outcome."""
        lease = await machine.claim(job_id, worker, self.clock(), self.lease)
        if lease is None:
            job = await Job.get_or_none(id=job_id)
            return Outcome(job_id, job.status if job else None,
                           skipped="not due, finished, or held by another worker" if job else "no such job")
        job = await Job.get(id=job_id).select_related("connection__source_account",
                                                        "connection__destination_account", "source_post")
        if job.started_at is None:
            job.started_at = self.clock()  # written with the first checkpoint
        renew = asyncio.create_task(self._renew(lease))
        run: _Run | None = None
        try:
            run = await self._prepare(job, lease)
            await self._steps(run)
        except LeaseLost:
            return await self._lost(lease)
        except ForwarderError as exc:
            return await self._failed(job, lease, run, exc)
        except Exception as exc:  # noqa: BLE001 - an unexpected error is classified, never lost
            error = ForwarderError(f"Unexpected {type(exc).__name__}: {exc}"[:500])
            error.__cause__ = exc
            return await self._failed(job, lease, run, error)
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
        if not await outcome.succeeded(lease, job, run.checkpoint, self.clock(), self.alerts):
            return await self._lost(lease)
        await asyncio.to_thread(shutil.rmtree, run.folder, True)
        return Outcome(job.id, JobStatus.SUCCESS)

    @staticmethod
    async def _lost(lease: Lease) -> Outcome:
        job = await Job.get_or_none(id=lease.job_id)
        if job is not None and job.status is JobStatus.CANCELLED:
            log.info("job %s: cancelled while worker %s ran it; it stopped", lease.job_id, lease.worker)
            return Outcome(lease.job_id, JobStatus.CANCELLED, skipped="cancelled while running")
        log.warning("job %s: worker %s lost its lease to another worker; it stopped without writing",
                    lease.job_id, lease.worker)
        return Outcome(lease.job_id, JobStatus.RUNNING,
                       skipped="lease lost: another worker took the job over")

    async def _prepare(self, job: Job, lease: Lease) -> _Run:
        connection = job.connection
        checkpoint = dict(job.checkpoint or {})
        run = _Run(job=job, lease=lease, post=steps.remote_post(job.source_post), proxy=None,
                   checkpoint=checkpoint, folder=self.job_dir(job.id))
        proxy = await choose_proxy(connection, connection.source_account, job)
        checkpoint["proxy_id"] = proxy.id if proxy else None
        run.proxy = ProxySpec.from_model(proxy) if proxy else None
        return run

    async def _save(self, run: _Run, step: JobStep, **fields: Any) -> None:
        run.job.checkpoint = run.checkpoint
        run.job.step = step
        await machine.checkpoint(run.lease, step, run.checkpoint, **fields)

    def _progress(self, run: _Run, step: JobStep, label: str) -> Callable[[int, int], Awaitable[None]]:
        # The step's start is already on the row; short steps write no progress at all.
        last = time.monotonic()

        async def report(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < self.progress_every:
                return
            last = now
            await Job.filter(id=run.job.id).update(
                progress_percent=machine.percent(step, done / total if total else 0.0),
                progress_message=f"{label} ({done / 1e6:.1f} MB / {total / 1e6:.1f} MB)")
        return report

    def _timed(self, run: _Run, step: JobStep, started: float) -> dict[str, Any]:
        durations = dict(run.job.step_durations or {})
        durations[step.value] = round(durations.get(step.value, 0) + time.monotonic() - started, 3)
        run.job.step_durations = durations
        return {"step_durations": durations}

    # ---- the steps, each skipped when its checkpoint holds ---------------------------------

    async def _steps(self, run: _Run) -> None:
        """The steps; each checkpoint is written before the step that needs it starts.

        Writes are folded where nothing is lost: the probe is saved with the transform (it is
        cheap to redo), the metadata with the upload's first state (before any byte), and the
        verification with the success row.
        """
        src = await self._download(run)
        out = await self._transform(run, src)
        public_url = self.media_url(out) if self.media_url else None
        request = steps.upload_request(out, self._metadata(run), public_url)
        run.role = "destination"
        async with self.factory.destination(run.destination, run.proxy) as dest:
            post_id = await self._upload(run, dest, request)
            await self._verify(run, dest, post_id, request)

    async def _download(self, run: _Run) -> DownloadedFile:
        got = await asyncio.to_thread(steps.recorded, run.checkpoint.get("download"))
        if got is not None:
            return got
        started = time.monotonic()
        run.role = "source"
        async with self.factory.source(run.source, run.proxy) as source:
            got = await steps.download(source, run.post, run.folder,
                                       self._progress(run, JobStep.DOWNLOAD, "Downloading"))
        run.checkpoint["download"] = steps.file_entry(got)
        first = {"started_at": run.job.started_at} if run.job.started_at else {}
        # The probe is part of the transform step (it is not saved on its own).
        await self._save(run, JobStep.TRANSFORM, bytes_in=got.size, **first,
                         **self._timed(run, JobStep.DOWNLOAD, started))
        return got

    async def _transform(self, run: _Run, src: DownloadedFile) -> Path:
        done = await asyncio.to_thread(steps.recorded, run.checkpoint.get("transform"))
        if done is not None:
            return done.path
        started = time.monotonic()
        probed = await steps.probe_video(src.path, run.post, run.connection, binary=self.binary)
        if probed.rejected:
            raise Filtered(probed.rejected)
        run.checkpoint["probe"] = probed.to_json()
        self._timed(run, JobStep.PROBE, started)
        started = time.monotonic()
        report = self._progress(run, JobStep.TRANSFORM, "Transforming")

        async def on_progress(share: float) -> None:
            await report(int(share * 1000), 1000)

        made = await steps.transform(src, probed.info, run.connection, run.folder, binary=self.binary,
                                     on_progress=on_progress)
        run.checkpoint["transform"] = made.to_json()
        await self._save(run, JobStep.UPLOAD, bytes_out=made.file.size,
                         **self._timed(run, JobStep.TRANSFORM, started))
        return made.file.path

    def _metadata(self, run: _Run) -> Rendered:
        if "metadata" not in run.checkpoint:  # saved with the upload's first state
            rendered = steps.metadata(run.connection, run.source, run.post, timezone=self.timezone)
            run.checkpoint["metadata"] = rendered.to_json()
        return Rendered.from_json(run.checkpoint["metadata"])

    async def _upload(self, run: _Run, dest: Destination, request: UploadRequest) -> str:
        cp = run.checkpoint
        upload = cp.get("upload") or {}
        if "result" in upload:
            return str(upload["result"]["post_id"])
        started = time.monotonic()

        async def save_state(state: dict[str, Any]) -> None:
            cp["upload"] = {"state": state}
            await self._save(run, JobStep.UPLOAD)

        result = await steps.upload(dest, request, upload.get("state"), save_state,
                                    self._progress(run, JobStep.UPLOAD, "Uploading"))
        cp.setdefault("upload", {})["result"] = {
            "post_id": result.post_id, "url": result.url, "resumed_from": result.resumed_from,
            "already_published": result.already_published}
        await self._save(run, JobStep.VERIFY, destination_post_id=result.post_id,
                         destination_url=result.url, **self._timed(run, JobStep.UPLOAD, started))
        return result.post_id

    async def _verify(self, run: _Run, dest: Destination, post_id: str, request: UploadRequest) -> None:
        if "verify" in run.checkpoint:
            return
        started = time.monotonic()
        verdict = await steps.verify(dest, post_id, request)
        run.checkpoint["verify"] = {"state": verdict.state.value, "privacy": verdict.privacy,
                                    "locked_private": verdict.locked_private, "detail": verdict.detail,
                                    "url": verdict.url}
        self._timed(run, JobStep.VERIFY, started)  # written with the success row

    # ---- failure -----------------------------------------------------------------------

    async def _failed(self, job: Job, lease: Lease, run: _Run | None, exc: ForwarderError) -> Outcome:
        connection = job.connection
        account = run.destination if run and run.role == "destination" else connection.source_account
        failure = await outcome.failed(lease, job, run.checkpoint if run else None, exc, account,
                                       self.clock(), self.alerts)
        if failure is None:
            return await self._lost(lease)
        decision = failure.decision
        return Outcome(job.id, decision.status, next_retry_at=decision.retry_at,
                       error=None if isinstance(exc, Filtered) else exc,
                       paused_connections=failure.paused_connections)
