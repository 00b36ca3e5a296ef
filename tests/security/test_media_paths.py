"""Path traversal against the two routes that serve files without initData: signed media links
(``/media/{token}``) and the Mini App's assets (``/app/assets/{path}``).

Requests are written byte for byte on a socket, so no client library tidies ``..`` or
``%2e%2e`` away before the server sees them. Every attempt is a 404 that serves no byte of any
file; tokens are forged with the real key too, as a leaked key would allow, and still serve
nothing outside DATA_DIR.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import time
from pathlib import Path

from aiohttp.test_utils import TestClient

from core.bootstrap import Runtime
from webapp.media import signer_for

SECRET_BYTES = b"TOP-SECRET-OUTSIDE-DATA-DIR"


async def raw_get(client: TestClient, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written; the status and the body."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1"))
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def forge(key: bytes, payload: str) -> str:
    """A token with a valid MAC over any payload."""
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    enc = base64.urlsafe_b64encode
    return f"{enc(payload.encode()).decode().rstrip('=')}.{enc(mac).decode().rstrip('=')}"


def _files(runtime: Runtime) -> tuple[Path, Path]:
    data = runtime.settings.data_dir.resolve()
    video = data / "jobs" / "7" / "out.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"v" * 64)
    outside = data.parent / "secret.txt"
    outside.write_bytes(SECRET_BYTES)
    (data / "jobs" / "7" / "link.mp4").symlink_to(outside)
    return video, outside


TRAVERSALS = [
    "/media/../../secret.txt", "/media/..%2f..%2fsecret.txt", "/media/%2e%2e/%2e%2e/secret.txt",
    "/media/%2e%2e%2f%2e%2e%2fsecret.txt", "/media/%252e%252e%252fsecret.txt", "/media/..\\..\\secret.txt",
    "/media//etc/passwd", "/media/%2fetc%2fpasswd", "/media/....//....//secret.txt", "/media/%00",
    "/media/.", "/media/..", "/media/%c0%ae%c0%ae/secret.txt", "/media/" + "A" * 4000,
    "/app/assets/../../media.py", "/app/assets/..%2f..%2fmedia.py", "/app/assets/%2e%2e/%2e%2e/media.py",
    "/app/assets/app/../../media.py", "/app/assets/.hidden", "/app/assets/app/index.html",
    "/app/assets//etc/passwd", "/app/assets/%2fetc%2fpasswd", "/app/assets/app/%2e%2e/%2e%2e/media.py",
    "/app/assets/app/app.css%00.js", "/app/assets/vendor", "/app/../webapp/media.py",
]


async def test_traversal_requests_serve_nothing(runtime: Runtime, client: TestClient) -> None:
    video, _ = _files(runtime)
    media_source = (Path(__file__).parents[2] / "webapp" / "media.py").read_bytes()[:200]
    for target in TRAVERSALS:
        status, body = await raw_get(client, target)
        assert status == 404, (target, status, body[:200])
        assert SECRET_BYTES not in body and b"root:" not in body and media_source not in body, target
        assert video.read_bytes() not in body, target
    ok, _ = await raw_get(client, "/app/assets/app/app.css")  # the route itself works
    assert ok == 200


async def test_forged_and_changed_tokens_serve_only_the_signed_file(runtime: Runtime, client: TestClient
                                                                  ) -> None:
    video, outside = _files(runtime)
    signer = signer_for(runtime)
    key = signer._key
    later = int(time.time()) + 60
    for where in ("../secret.txt", "/etc/passwd", str(outside), "jobs/7/link.mp4",
                  "jobs/7/../../../secret.txt", "jobs/7/%2e%2e/out.mp4", "jobs\\..\\..\\secret.txt",
                  "jobs/7/out.mp4\x00.txt", "jobs/7", "", ".", "jobs/./7/../7/../../../secret.txt",
                  "~/secret.txt", "//etc/passwd"):
        forged = forge(key, f"{later}\n{where}")
        status, body = await raw_get(client, f"/media/{forged}")
        assert status == 404 and SECRET_BYTES not in body, (where, status, body[:200])
    token = signer.token(video, 60)
    status, body = await raw_get(client, f"/media/{token}")
    assert status == 200 and body == video.read_bytes()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    served = 0
    for i, char in enumerate(token):  # one character changed, anywhere
        if char == ".":
            continue
        changed = token[:i] + alphabet[(alphabet.index(char) + 1) % len(alphabet)] + token[i + 1:]
        status, body = await raw_get(client, f"/media/{changed}")
        assert status in (200, 404), (i, status)
        if status == 200:  # base64's unused low bits: the same bytes, the same file, nothing else
            assert body == video.read_bytes()
            served += 1
    assert served <= 2
    for expired in (forge(key, f"{int(time.time()) - 1}\njobs/7/out.mp4"), forge(key, "-1\njobs/7/out.mp4"),
                    forge(key, "1e99\njobs/7/out.mp4"), forge(key, "never\njobs/7/out.mp4")):
        assert (await raw_get(client, f"/media/{expired}"))[0] == 404
    os.remove(video)
    os.symlink(outside, video)  # the signed file swapped for a link out of DATA_DIR
    status, body = await raw_get(client, f"/media/{token}")
    assert status == 404 and SECRET_BYTES not in body
