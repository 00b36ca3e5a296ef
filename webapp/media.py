"""Signed, expiring media URLs: ``{PUBLIC_BASE_URL}/media/{token}``.

The token is ``base64url(expiry "\\n" path) "." base64url(HMAC-SHA256)`` where the path is
relative to DATA_DIR and the key is derived from the key ring for this purpose only. A
link serves exactly that file until it expires; anything else (a changed byte, a past
expiry, ``..``, a path leaving DATA_DIR through a symlink, a missing file) is a 404 that
says nothing about which check failed.

Uses: Instagram Graph publishing by ``video_url`` (Meta fetches the video from us, so the
URL must be public https) and dry-run preview images in the Mini App.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from aiohttp import web

from core import crypto
from core.bootstrap import Runtime
from webapp.errors import error_response
from webapp.routes import RouteTable, s

PURPOSE = "media-url"
VIDEO_URL_TTL = 24 * 3600.0  # a Graph container lives 24 h and Meta fetches while it processes
PREVIEW_TTL = 3600.0
PREVIEWS = "previews"

routes = RouteTable(tag="media")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MediaSigner:
    """Signs paths under ``data_dir`` and resolves tokens back to files."""

    def __init__(self, data_dir: Path, key: bytes, public_base_url: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.data_dir = Path(os.path.abspath(data_dir))
        self._key = key
        self.base_url = public_base_url.rstrip("/")
        self.clock = clock

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def token(self, path: Path | str, expires_in: float) -> str:
        """The token for ``path`` (inside DATA_DIR) valid for ``expires_in`` seconds."""
        absolute = Path(os.path.abspath(path))
        try:
            relative = absolute.relative_to(self.data_dir)
        except ValueError:
            raise ValueError(f"{absolute} is not inside DATA_DIR") from None
        expiry = int(self.clock() + expires_in)
        payload = f"{expiry}\n{relative.as_posix()}".encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def sign(self, path: Path | str, expires_in: float) -> str:
        """``{PUBLIC_BASE_URL}/media/{token}`` for ``path``."""
        return f"{self.base_url}/media/{self.token(path, expires_in)}"

    def resolve(self, token: str) -> Path | None:
        """The file a valid, unexpired token names; None for anything else."""
        encoded, _, mac = token.partition(".")
        try:
            payload, given = _unb64(encoded), _unb64(mac)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(given, self._mac(payload)):
            return None
        try:
            expiry_text, relative_text = payload.decode().split("\n", 1)
            expiry = int(expiry_text)
        except (UnicodeDecodeError, ValueError):
            return None
        if self.clock() > expiry:
            return None
        relative = PurePosixPath(relative_text)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts or "\x00" in relative_text:
            return None
        path = (self.data_dir / relative).resolve()
        if not path.is_relative_to(self.data_dir.resolve()) or not path.is_file():
            return None
        return path

    def seconds_left(self, token: str) -> int:
        """How long a (valid) token still works."""
        try:
            expiry = int(_unb64(token.partition(".")[0]).decode().split("\n", 1)[0])
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return 0
        return max(0, int(expiry - self.clock()))

    def media_url(self, expires_in: float = VIDEO_URL_TTL) -> Callable[[Path], str | None]:
        """For ``ForwardService.media_url``: a URL Meta can fetch, or None without public https."""
        def url(path: Path) -> str | None:
            if not self.base_url.startswith("https://"):
                return None
            return self.sign(path, expires_in)
        return url


def signer_for(runtime: Runtime) -> MediaSigner:
    """The signer of a runtime: DATA_DIR, PUBLIC_BASE_URL, a key derived for media URLs."""
    return MediaSigner(runtime.settings.data_dir, crypto.derive_key(runtime.keyring, PURPOSE),
                       runtime.settings.public_base_url)


def media_url_for(runtime: Runtime, expires_in: float = VIDEO_URL_TTL) -> Callable[[Path], str | None]:
    """What the composition root passes as ``ForwardService(media_url=...)``."""
    return signer_for(runtime).media_url(expires_in)


def new_preview_dir(data_dir: Path, label: str) -> Path:
    """A fresh folder for dry-run previews; folders older than ``PREVIEW_TTL`` are removed first."""
    root = data_dir / PREVIEWS
    root.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - PREVIEW_TTL
    for old in root.iterdir():
        if old.is_dir() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
    folder = root / f"{label}-{os.urandom(6).hex()}"
    folder.mkdir()
    return folder


MEDIA = web.AppKey("media", MediaSigner)


@routes.get("/media/{token}", "A file behind a signed, expiring link", auth=False, head=True,
            content_type="application/octet-stream", response=s("the file's bytes", format="binary"),
            errors=(404,))
async def serve(request: web.Request) -> web.StreamResponse:
    """The signed file, or a 404 that does not say why."""
    signer = request.app[MEDIA]
    token = request.match_info["token"]
    path = signer.resolve(token)
    if path is None:
        return error_response(404, "not_found", "This media link is invalid or has expired")
    return web.FileResponse(path, headers={
        "Cache-Control": f"private, max-age={signer.seconds_left(token)}",
        "X-Content-Type-Options": "nosniff",
    })
