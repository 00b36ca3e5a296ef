"""Dry run (specification §4.3.4): everything a forward does except publishing.

Up to 5 of the source's newest posts go through the forward's own steps
(``core.pipeline.steps``: download, probe, transform, metadata) and stop before the upload;
the destination's credentials are checked live (``identify``); before/after preview images
are written. Nothing is posted and no
job or post row is created. The report has the specification's shape plus ``previews``
(JPEG paths) and per-post ``issues``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from core.errors import ForwarderError
from core.models import Connection
from core.pipeline import steps
from core.pipeline.proxy_choice import choose_proxy
from core.pipeline.rules import Filters
from core.platforms.base import RemotePost, Source
from core.platforms.factory import PlatformFactory
from core.platforms.proxy import ProxySpec
from core.video import ChangeKind, FFmpegBinary, Plan, before_after

MAX_POSTS = 5
# Upload time is estimated from the transformed size at these sustained rates (bytes/s).
UPLOAD_RATES = (4_000_000, 1_000_000)
MB = 1024 * 1024


class DryRunService:
    """Runs a connection end to end without publishing."""

    def __init__(self, factory: PlatformFactory, binary: FFmpegBinary | None = None,
                 ffmpeg_setting: str | None = None, work_dir: Path | None = None,
                 timezone: str = "UTC") -> None:
        self.factory = factory
        self._binary = binary
        self._setting = ffmpeg_setting
        self.work_dir = work_dir
        self.timezone = timezone

    @property
    def binary(self) -> FFmpegBinary:
        if self._binary is None:
            from core.video import locate

            self._binary = locate(self._setting)
        return self._binary

    async def run(self, connection_id: int, *, limit: int = MAX_POSTS, keep_dir: Path | None = None
                  ) -> dict[str, Any]:
        """The report; preview images are written to ``keep_dir`` (or a temp dir the caller removes)."""
        connection = await Connection.get(id=connection_id).prefetch_related("source_account",
                                                                           "destination_account")
        proxy = await choose_proxy(connection, connection.source_account)
        spec = ProxySpec.from_model(proxy) if proxy else None
        filters = Filters.from_json(connection.filters)
        folder = Path(tempfile.mkdtemp(prefix="dry-run-", dir=self.work_dir))
        out_dir = keep_dir or folder / "previews"
        out_dir.mkdir(parents=True, exist_ok=True)
        issues: list[str] = []
        samples: list[dict[str, Any]] = []
        previews: list[str] = []
        totals = {"downloaded": 0, "bytes_in": 0, "bytes_out": 0, "upscale": 0, "layout": 0}
        started = time.monotonic()
        try:
            try:
                async with self.factory.source(connection.source_account, spec) as source:
                    listing = await source.list_new({}, limit)
                    for post in list(listing.posts)[:limit]:
                        sample: dict[str, Any] = {"source_id": post.id, "caption": post.caption[:200],
                                                  "duration_sec": post.duration, "issues": []}
                        samples.append(sample)
                        reason = post.skip_reason or filters.reject_reason(post.caption, post.duration, None)
                        if reason:
                            sample["filtered"] = reason
                        preview = await self._post(connection, source, post, folder / post.id, out_dir,
                                                   sample, totals)
                        if preview is not None:
                            previews.append(str(preview))
            except ForwarderError as exc:
                issues.append(f"source: {exc.code.value}: {exc.message}")
            try:
                async with self.factory.destination(connection.destination_account, spec) as dest:
                    await dest.identify()
                validation = "passed"
            except ForwarderError as exc:
                validation = "failed"
                issues.append(f"destination: {exc.code.value}: {exc.message}")
        finally:
            await asyncio.to_thread(_clean, folder, previews if keep_dir else [])
        for sample in samples:
            issues.extend(f"{sample['source_id']}: {i}" for i in sample["issues"])
        fast, slow = (totals["bytes_out"] / rate / 60 for rate in UPLOAD_RATES)
        return {"status": "success" if not issues else "issues_found", "dry_run_results": {
            "posts_found": len(samples), "posts_tested": len(samples),
            "videos_downloaded": totals["downloaded"],
            "total_size_mb": round(totals["bytes_in"] / MB, 2),
            "transformed_size_mb": round(totals["bytes_out"] / MB, 2),
            "transformations": {"upscale_applied": totals["upscale"],
                                "greenscreen_applied": totals["layout"]},
            "destination_validation": validation,
            "estimated_upload_time_minutes": f"{max(fast, 0.1):.1f}-{max(slow, 0.1):.1f}",
            "issues": issues, "sample_posts": samples, "previews": previews,
            "seconds": round(time.monotonic() - started, 1),
        }}

    async def _post(self, connection: Connection, source: Source, post: RemotePost, folder: Path,
                    out_dir: Path, sample: dict[str, Any], totals: dict[str, int]) -> Path | None:
        """The forward's steps up to the upload for one post; the before/after preview it wrote."""
        try:
            got = await steps.download(source, post, folder)
        except ForwarderError as exc:
            sample["issues"].append(f"download failed: {exc.code.value}: {exc.message}")
            return None
        totals["downloaded"] += 1
        totals["bytes_in"] += got.size
        probed = await steps.probe_video(got.path, post, connection, binary=self.binary)
        sample["duration_sec"] = round(probed.info.duration, 1)
        if probed.rejected and "filtered" not in sample:
            sample["filtered"] = probed.rejected  # the forward would cancel the job after its probe
        try:
            made = await steps.transform(got, probed.info, connection, folder, binary=self.binary)
        except ForwarderError as exc:
            sample["issues"].append(f"transform failed: {exc.code.value}: {exc.message}")
            return None
        the_plan = made.plan
        totals["bytes_out"] += made.file.size
        totals["upscale"] += ChangeKind.UPSCALE in the_plan.kinds
        totals["layout"] += ChangeKind.LAYOUT in the_plan.kinds
        sample.update(size_mb=round(made.file.size / MB, 2), transformation_result=_describe(the_plan),
                      plan=the_plan.summary())
        preview = out_dir / f"{post.id}-before-after.jpg"
        await before_after(got.path, made.file.path, preview, binary=self.binary)
        sample["metadata"] = steps.metadata(connection, connection.source_account, post,
                                            timezone=self.timezone).to_json()
        return preview


def _describe(the_plan: Plan) -> str:
    kinds, width, height = the_plan.kinds, the_plan.width, the_plan.height
    if ChangeKind.UPSCALE in kinds:
        return f"upscaled to {width}x{height}"
    if ChangeKind.LAYOUT in kinds:
        return f"green-screen layout, {width}x{height}"
    if the_plan.copy_video:
        return f"stream copy (already compliant), {width}x{height}"
    return f"re-encoded to {width}x{height}"


def _clean(folder: Path, kept: list[str]) -> None:
    keep = {Path(p).resolve() for p in kept}
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.resolve() in keep or any(k.is_relative_to(path.resolve()) for k in keep):
            continue
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
