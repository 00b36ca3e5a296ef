"""The forward's steps as functions: download, probe, transform, metadata, upload, verify.

Each takes what it works on and returns a typed result; none reads or writes the database.
The forward (``core.services.forward``) records each result as the job's checkpoint; the dry
run (``core.services.dry_run``) calls the same steps and stops before the upload, so what it
previews is what the forward publishes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import MediaError, PolicyError, TransientError
from core.models import Account, Connection, Direction, Platform, SourcePost
from core.pipeline.metadata import Rendered, Templates, render
from core.pipeline.rules import Filters, aware
from core.pipeline.transform import transform_options
from core.platforms.base import (
    Destination,
    DownloadedFile,
    Progress,
    PublishState,
    RemotePost,
    SaveState,
    Source,
    UploadRequest,
    UploadResult,
    VerifyResult,
)
from core.video import (
    ChangeKind,
    DestinationProfile,
    FFmpegBinary,
    Plan,
    ProbeResult,
    execute,
    instagram_reels,
    plan,
    probe,
    youtube_shorts,
)

Share = Callable[[float], Awaitable[None]]
"""Report the share (0..1) of a transform that is done."""


def remote_post(post: SourcePost) -> RemotePost:
    """The recorded source post as the source listed it."""
    return RemotePost(id=post.source_post_id, caption=post.caption, media_url=post.media_url,
                      permalink=post.permalink, published_at=aware(post.published_at),
                      duration=post.duration, extra={"title": post.title})


def destination_of(connection: Connection) -> Platform:
    """The platform the connection publishes to."""
    return Direction(connection.direction).destination_platform


def profile_for(platform: Platform) -> DestinationProfile:
    """The limits the destination puts on a video."""
    return youtube_shorts() if platform is Platform.YOUTUBE else instagram_reels()


def file_entry(file: DownloadedFile) -> dict[str, Any]:
    """A file as the checkpoint records it."""
    return {"path": str(file.path), "size": file.size, "sha256": file.sha256}


def recorded(entry: Mapping[str, Any] | None) -> DownloadedFile | None:
    """The recorded file when it is still on disk and matches its hash (blocking: run in a thread)."""
    if not entry:
        return None
    path = Path(entry["path"])
    if not path.is_file() or path.stat().st_size != entry["size"]:
        return None
    return DownloadedFile(path, entry["size"], entry["sha256"]) \
        if DownloadedFile.of(path).sha256 == entry["sha256"] else None


# ---- download -> probe -> transform ---------------------------------------------------------

async def download(source: Source, post: RemotePost, folder: Path,
                   progress: Progress | None = None) -> DownloadedFile:
    """Fetch the post's video into ``folder``."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    return await source.download(post, folder, progress)


@dataclass(frozen=True)
class Probed:
    """What the probe found, and why the connection's filters reject the post (None: it passes)."""

    info: ProbeResult
    rejected: str | None

    def to_json(self) -> dict[str, Any]:
        info = self.info
        return {"duration": info.duration, "width": info.display_width, "height": info.display_height,
                "size": info.size, "video_codec": info.video_codec}


async def probe_video(path: Path, post: RemotePost, connection: Connection, *,
                      binary: FFmpegBinary) -> Probed:
    """Probe the file; the filters that need the real duration apply here."""
    info = await probe(path, binary=binary)
    reason = Filters.from_json(connection.filters).reject_reason(post.caption, info.duration, None)
    return Probed(info, reason)


@dataclass(frozen=True)
class Transformed:
    """The video the destination receives, and the plan that made it."""

    file: DownloadedFile
    plan: Plan

    def to_json(self) -> dict[str, Any]:
        return {**file_entry(self.file), "summary": self.plan.summary(), "copy": self.plan.copy_video,
                "changes": [c.kind.value for c in self.plan.changes]}


async def transform(src: DownloadedFile, info: ProbeResult, connection: Connection, folder: Path, *,
                    binary: FFmpegBinary, on_progress: Share | None = None) -> Transformed:
    """One ffmpeg pass to suit the destination; an already compliant file is used as it is."""
    the_plan = plan(info, transform_options(connection.transform_options),
                    profile_for(destination_of(connection)))
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)  # a retry's files may be elsewhere
    out = folder / "out.mp4"
    if the_plan.kinds <= {ChangeKind.STREAM_COPY}:
        # Already compliant: the source is the output (a rewrite by ffmpeg would change nothing).
        await asyncio.to_thread(_link, src.path, out)
        return Transformed(DownloadedFile(out, src.size, src.sha256), the_plan)
    await execute(the_plan, src.path, out, binary=binary, on_progress=on_progress)
    return Transformed(await asyncio.to_thread(DownloadedFile.of, out), the_plan)


def _link(src: Path, dst: Path) -> None:
    """``dst`` becomes the same file as ``src`` (a copy across file systems)."""
    if dst.exists() and dst.samefile(src):
        return
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# ---- metadata -> upload -> verify -----------------------------------------------------------

def source_name(account: Account) -> str:
    """The ``{source_account}`` of the templates: the handle, else the alias."""
    return account.username or account.alias


def metadata(connection: Connection, source: Account, post: RemotePost, *, timezone: str) -> Rendered:
    """The destination's title, description, caption and tags from the connection's templates."""
    to = destination_of(connection)
    return render(Templates.from_json(connection.metadata_templates, to), caption=post.caption,
                  destination=to, source_url=post.permalink or "", source_account=source_name(source),
                  published_at=aware(post.published_at), source_title=str(post.extra.get("title") or ""),
                  timezone=timezone)


def upload_request(video: Path, meta: Rendered, public_url: str | None = None) -> UploadRequest:
    """What the destination is asked to publish."""
    return UploadRequest(
        video_path=video, title=meta.title, description=meta.description, caption=meta.caption,
        tags=meta.tags, privacy=meta.privacy, category_id=meta.category_id,
        made_for_kids=meta.made_for_kids, notify_subscribers=meta.notify_subscribers,
        public_video_url=public_url)


async def upload(dest: Destination, request: UploadRequest, state: Mapping[str, Any] | None,
                 save_state: SaveState, progress: Progress | None = None) -> UploadResult:
    """Publish, or finish the upload ``state`` recorded (so a crash never posts twice)."""
    if state:
        return await dest.resume(state, request, save_state, progress)
    return await dest.upload(request, save_state, progress)


async def verify(dest: Destination, post_id: str, request: UploadRequest) -> VerifyResult:
    """The published post as the destination shows it; raises when it is not live."""
    verdict = await dest.verify(post_id, request)
    if verdict.state is PublishState.REJECTED:
        raise PolicyError(f"The destination rejected the video: {verdict.detail or 'no reason given'}")
    if verdict.state is PublishState.FAILED:
        raise MediaError(f"The destination could not process the video: {verdict.detail}")
    if verdict.state is PublishState.MISSING:
        raise TransientError("The uploaded video is not visible yet; verifying again later")
    return verdict
