"""YouTube as a source through yt-dlp: the JavaScript runtime it is given, the account's cookies.txt,
and what yt-dlp's words mean (issue 16, item 1). The real yt-dlp runs against tests/fakes/youtube.py."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yt_dlp

from core.errors import AuthError, ErrorCode, ForwarderError, NotFound
from core.platforms.base import MemoryCredentials, RemotePost
from core.platforms.youtube import YouTubeSource
from core.platforms.youtube_client import YouTubeClient
from core.platforms.youtube_cookies import parse_cookies_txt
from core.platforms.youtube_download import classify_ytdlp_error, find_js_runtime
from tests.fakes.media import make_clip
from tests.fakes.youtube import FakeYouTube

ROOT = Path(__file__).resolve().parents[2]
FAR = int((datetime.now(UTC) + timedelta(days=365)).timestamp())


@pytest.fixture
async def yt() -> AsyncIterator[FakeYouTube]:
    fake = FakeYouTube()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("ytdl") / "clip.mp4"
    return make_clip(path, seconds=1, fps=10, audio=False).read_bytes()


def cookies(*lines: str) -> str:
    return "# Netscape HTTP Cookie File\n" + "".join(line + "\n" for line in lines)


YOUTUBE_LINE = f"#HttpOnly_.youtube.com\tTRUE\t/\tTRUE\t{FAR}\tSID\tsecret-sid"


def source(fake: FakeYouTube, store: MemoryCredentials) -> YouTubeSource:
    client = YouTubeClient(store, api_base=fake.base_url + "/", num_retries=0)
    return YouTubeSource(client, channel_id=fake.channel_id, web_base=fake.base_url, credentials=store)


class Spy:
    """Records the options of every YoutubeDL made, and the cookie file's mode while it exists."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.params: list[dict[str, Any]] = []
        self.cookie_files: list[tuple[Path, int]] = []
        real = yt_dlp.YoutubeDL.__init__

        def init(ydl: Any, params: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
            self.params.append(dict(params or {}))
            if params and params.get("cookiefile"):
                jar = Path(params["cookiefile"])
                self.cookie_files.append((jar, stat.S_IMODE(jar.stat().st_mode)))
            real(ydl, params, *args, **kwargs)

        monkeypatch.setattr(yt_dlp.YoutubeDL, "__init__", init)


# ---- the JavaScript runtime ---------------------------------------------------------------

async def test_the_runtime_is_passed_to_ytdlp_explicitly(yt: FakeYouTube, clip: bytes, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    video = yt.add_video(content=clip)
    post = RemotePost(id=video.id, permalink=f"{yt.base_url}/shorts/{video.id}")
    got = await source(yt, MemoryCredentials()).download(post, tmp_path / "dl")
    assert got.path.read_bytes() == clip
    [params] = spy.params
    [(name, config)] = params["js_runtimes"].items()  # yt-dlp's option: {runtime: {"path": binary}}
    assert name == "deno" and Path(config["path"]).is_absolute()
    out = await asyncio.to_thread(subprocess.run, [config["path"], "--version"], capture_output=True,
                                  text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("deno "), out


def test_a_process_without_the_virtualenv_on_path_still_finds_the_runtime(tmp_path: Path) -> None:
    # What `.venv/bin/forwarder` started by a service manager sees: no activated virtualenv.
    path = "/usr/bin:/bin"
    env = {"PATH": path, "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    assert shutil.which("deno", path=path) is None  # PATH alone would not find it
    code = ("import json; from core.platforms.youtube_download import describe_js_runtime, "
            "js_runtime_options; r = describe_js_runtime(); "
            "print(json.dumps([js_runtime_options(), r and r.__dict__]))")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    options, runtime = json.loads(done.stdout)
    assert options == {"js_runtimes": {"deno": {"path": runtime["path"]}}}
    assert runtime["supported"] is True and runtime["version"]
    assert os.access(runtime["path"], os.X_OK)
    assert runtime["path"] == find_js_runtime().path  # type: ignore[union-attr]


# ---- the account's cookies.txt ------------------------------------------------------------

async def test_cookies_txt_reaches_ytdlp_as_a_private_file_removed_afterwards(
        yt: FakeYouTube, clip: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    # A cookie for the fake's host as well: its Cookie header shows yt-dlp really loaded the file.
    store = MemoryCredentials({"access_token": "ya29.fake-access", "cookies_txt": cookies(
        YOUTUBE_LINE, "127.0.0.1\tFALSE\t/\tFALSE\t0\tprobe\tseen")})
    video = yt.add_video(content=clip)
    post = RemotePost(id=video.id, permalink=f"{yt.base_url}/shorts/{video.id}")
    dest = tmp_path / "job"
    got = await source(yt, store).download(post, dest)
    assert got.path.read_bytes() == clip
    [(jar, mode)] = spy.cookie_files
    assert mode == 0o600 and jar.parent == dest
    assert not jar.exists() and sorted(p.name for p in dest.iterdir()) == [f"{video.id}.mp4"]
    assert any("probe=seen" in header for header in yt.media_cookies), yt.media_cookies

    # Also removed when the download fails.
    gone = RemotePost(id="gone", permalink=f"{yt.base_url}/shorts/gone")
    with pytest.raises(NotFound):
        await source(yt, store).download(gone, dest)
    assert len(spy.cookie_files) == 2 and not spy.cookie_files[1][0].exists()
    assert not [p for p in dest.iterdir() if p.name.startswith(".cookies-")]


async def test_a_stored_cookies_txt_that_is_not_netscape_is_an_account_error(yt: FakeYouTube,
                                                                             tmp_path: Path) -> None:
    store = MemoryCredentials({"access_token": "ya29.fake-access", "cookies_txt": '[{"name": "SID"}]'})
    with pytest.raises(AuthError) as info:
        await source(yt, store).download(RemotePost(id="x", permalink=f"{yt.base_url}/shorts/x"), tmp_path)
    assert info.value.code is ErrorCode.INVALID_CREDENTIALS and "JSON" in info.value.message


def test_parse_cookies_txt_accepts_an_export_and_normalizes_it(tmp_path: Path) -> None:
    raw = ("\ufeff# Netscape HTTP Cookie File\r\n# a comment\r\n\r\n"
           f"{YOUTUBE_LINE}\r\n"
           f"youtube.com\tTRUE\t/\tFALSE\t{FAR}\tPREF\tf6=40000000\r\n"  # flag without the dot
           f".google.com\tTRUE\t/\tTRUE\t0\tNID\tsession\r\n").encode()
    text = parse_cookies_txt(raw)
    assert text.startswith("# Netscape HTTP Cookie File\n") and "\r" not in text and "\ufeff" not in text
    assert f".youtube.com\tTRUE\t/\tFALSE\t{FAR}\tPREF\tf6=40000000" in text
    # What yt-dlp itself will load (CPython refuses the whole file when a flag and its dot disagree).
    from yt_dlp.cookies import YoutubeDLCookieJar

    jar_path = tmp_path / "cookies.txt"
    jar_path.write_text(text)
    jar = YoutubeDLCookieJar(str(jar_path))
    jar.load()
    assert {c.name for c in jar} == {"SID", "PREF", "NID"}


@pytest.mark.parametrize(("data", "needle"), [
    (b"", "empty"),
    (b"#" * (1024 * 1024 + 1), "1,048,576 bytes"),
    (b"\xff\xfe# Netscape", "not UTF-8"),
    (b'[{"domain": ".youtube.com", "name": "SID"}]', "JSON"),
    (b".youtube.com\tTRUE\t/\tTRUE\t0\tSID\tv\n", "first line must be '# Netscape HTTP Cookie File'"),
    (cookies(".youtube.com TRUE / TRUE 0 SID v").encode(), "Line 2 has 1 tab-separated field(s) (spaces"),
    (cookies(".youtube.com\tTRUE\t/\tTRUE\t0\tSID").encode(), "Line 2 has 6 tab-separated"),
    (cookies(".youtube.com\tyes\t/\tTRUE\t0\tSID\tv").encode(), "TRUE or FALSE"),
    (cookies(".youtube.com\tTRUE\t/\tTRUE\tsoon\tSID\tv").encode(), "expiry"),
    (cookies(f".example.com\tTRUE\t/\tTRUE\t{FAR}\tSID\tv").encode(), "no cookie for youtube.com"),
    (cookies(".youtube.com\tTRUE\t/\tTRUE\t1000\tSID\tv").encode(), "has expired"),
])
def test_parse_cookies_txt_says_what_is_wrong(data: bytes, needle: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_cookies_txt(data)
    assert needle in str(info.value)


# ---- what yt-dlp's words mean -------------------------------------------------------------
# The texts are yt-dlp 2026.11.23's own (extractor/youtube/_video.py, YoutubeDL.py).

NO_RUNTIME = ("[youtube] No supported JavaScript runtime could be found. Only deno is enabled by default; "
              "to use another runtime add  --js-runtimes RUNTIME[:PATH]  to your command/config. YouTube "
              "extraction without a JS runtime has been deprecated, and some formats may be missing. See  "
              "https://github.com/yt-dlp/yt-dlp/wiki/EJS  for details on installing one")
ONLY_IMAGES = "Only images are available for download. Use --list-formats to see them"
NO_FORMAT = ("ERROR: [youtube] abcdefghijk: Requested format is not available. Use --list-formats for a "
             "list of available formats")
SOLVING = ("[youtube] abcdefghijk: n challenge solving failed: Some formats may be missing. Ensure you have "
           "a supported JavaScript runtime and challenge solver script distribution installed.")
BOT = ("ERROR: [youtube] abcdefghijk: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser "
       "or --cookies for the authentication. See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-"
       "cookies-to-yt-dlp  for how to manually pass cookies")


def test_not_a_bot_is_an_account_error_asking_for_cookies() -> None:
    err = classify_ytdlp_error(BOT, None, [])
    assert isinstance(err, AuthError) and err.code is ErrorCode.LOGIN_REQUIRED
    assert "cookies.txt" in err.hint and "/accounts" in err.hint and "Mini App" in err.hint
    assert "bgutil-ytdlp-pot-provider" in err.hint


@pytest.mark.parametrize(("text", "warnings", "needle"), [
    (NO_FORMAT, [NO_RUNTIME, ONLY_IMAGES], 'pip install "deno'),
    (NO_FORMAT, [SOLVING], "yt-dlp-ejs"),
    (NO_FORMAT, [ONLY_IMAGES], "JavaScript runtime is missing or yt-dlp needs updating"),
    ("ERROR: [youtube] abcdefghijk: No video formats found!", [], "JavaScript runtime is missing"),
    ("ERROR: " + NO_RUNTIME, [], 'pip install "deno'),
])
def test_missing_formats_are_a_configuration_error_not_a_codec(text: str, warnings: list[str],
                                                               needle: str) -> None:
    err = classify_ytdlp_error(text, None, warnings)
    assert type(err) is ForwarderError and err.code is ErrorCode.CONFIGURATION
    assert err.code is not ErrorCode.UNSUPPORTED_CODEC and not err.retriable
    assert needle in err.hint, err.hint
