"""A YouTube account's cookies.txt: validated when the admin gives it, handed to yt-dlp as a private file.

The account's encrypted credentials may hold ``"cookies_txt"``: the text of a Netscape
cookies.txt exported from a browser signed in to YouTube. yt-dlp reads such a file with
``YoutubeDLCookieJar.load`` (yt-dlp 2026.11.23, ``yt_dlp/cookies.py``), which hands it to
CPython's ``http.cookiejar.MozillaCookieJar._really_load``; ``parse_cookies_txt`` checks
what those two refuse, with a message an admin can act on, before the file is stored:

* the first line must match ``#( Netscape)? HTTP Cookie File`` (CPython's
  ``NETSCAPE_MAGIC_RGX``), otherwise the whole file is refused;
* every other line that is not a comment is 7 tab-separated fields (yt-dlp's
  ``_ENTRY_LEN``); lines prefixed ``#HttpOnly_`` are cookies, not comments (most of
  YouTube's sign-in cookies are HttpOnly);
* the expiry is empty or a number (yt-dlp's ``invalid expires at``);
* the include-subdomains flag equals "the domain starts with a dot" (CPython asserts it
  and refuses the file otherwise): this one is normalized instead of refused;
* a JSON export (a browser extension's other format) is refused by yt-dlp with "Cookies
  file must be Netscape formatted, not JSON".

This module does not import yt-dlp, so the account service, the bot and the Mini App can
validate an upload cheaply.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

COOKIES_KEY = "cookies_txt"
"""The key of the account's credential dict that holds the cookies.txt text."""
MAX_COOKIES_BYTES = 1024 * 1024
HEADER = "# Netscape HTTP Cookie File"
_MAGIC = re.compile("#( Netscape)? HTTP Cookie File")  # CPython http.cookiejar.NETSCAPE_MAGIC_RGX
_HTTPONLY = "#HttpOnly_"
_FIELDS = 7
_DOMAINS = ("youtube.com", "google.com")
_BOOL = ("TRUE", "FALSE")


def _youtube_domain(domain: str) -> bool:
    host = domain.lstrip(".").lower()
    return any(host == d or host.endswith("." + d) for d in _DOMAINS)


def parse_cookies_txt(data: bytes, *, now: float | None = None) -> str:
    """The cookies.txt text to store for a YouTube account, or ValueError saying what is wrong.

    ``data`` is the uploaded file. The result has Unix line ends, no byte-order mark and
    include-subdomains flags that agree with the domains' leading dots (what yt-dlp and
    CPython need). ``now`` (seconds since the epoch, default the clock) only decides
    whether every YouTube/Google cookie has expired.
    """
    if not data.strip():
        raise ValueError("The cookies file is empty.")
    if len(data) > MAX_COOKIES_BYTES:
        raise ValueError(f"The cookies file is {len(data):,} bytes; a cookies.txt for YouTube is a few "
                         f"kilobytes and at most {MAX_COOKIES_BYTES:,} bytes are accepted.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("The cookies file is not UTF-8 text; export it again as cookies.txt "
                         "(Netscape format).") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        raise ValueError("This is a JSON cookie export; yt-dlp needs the Netscape cookies.txt format "
                         "(its first line is '# Netscape HTTP Cookie File').")
    lines = text.split("\n")
    first = lines[0]
    if not _MAGIC.match(first):
        shown = first[:60] + ("…" if len(first) > 60 else "")
        raise ValueError(f"Not a Netscape cookies.txt: the first line must be '{HEADER}', "
                         f"this file starts with {shown!r}.")
    out = [first]
    youtube = 0
    alive = 0
    clock = time.time() if now is None else now
    for number, line in enumerate(lines[1:], start=2):
        prefix = ""
        body = line
        if line.startswith(_HTTPONLY):
            prefix, body = _HTTPONLY, line[len(_HTTPONLY):]
        if not body.strip() or (not prefix and body.strip().startswith(("#", "$"))):
            out.append(line)
            continue
        fields = body.split("\t")
        if len(fields) != _FIELDS:
            hint = " (spaces instead of tabs?)" if len(fields) == 1 and " " in body else ""
            raise ValueError(
                f"Line {number} has {len(fields)} tab-separated field(s){hint}; every cookie line of a "
                f"cookies.txt has {_FIELDS}: domain, include-subdomains, path, secure, expiry, name, value.")
        domain, subdomains, path, secure, expires, name, value = fields
        if not domain:
            raise ValueError(f"Line {number} has no domain.")
        if subdomains.upper() not in _BOOL or secure.upper() not in _BOOL:
            raise ValueError(f"Line {number}: the include-subdomains and secure fields must be TRUE or FALSE "
                             f"(found {subdomains!r} and {secure!r}).")
        if expires and not re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", expires):
            raise ValueError(f"Line {number}: the expiry must be seconds since 1970 or empty "
                             f"(found {expires[:30]!r}).")
        # CPython refuses the whole file when the flag and the leading dot disagree; both say
        # "this cookie is for subdomains too", so make them agree instead.
        if subdomains.upper() == "TRUE" and not domain.startswith("."):
            domain = "." + domain
        flag = "TRUE" if domain.startswith(".") else "FALSE"
        if _youtube_domain(domain):
            youtube += 1
            if not expires or float(expires) == 0 or float(expires) > clock:
                alive += 1
        out.append(prefix + "\t".join((domain, flag, path, secure.upper(), expires, name, value)))
    if not youtube:
        raise ValueError("The cookies file has no cookie for youtube.com or google.com; export it from a "
                         "browser tab on youtube.com while signed in.")
    if not alive:
        raise ValueError("Every youtube.com/google.com cookie in the file has expired; sign in to YouTube "
                         "again and export fresh cookies.")
    return "\n".join(out).rstrip("\n") + "\n"


@contextlib.contextmanager
def private_cookies_file(text: str, directory: Path) -> Iterator[Path]:
    """``text`` in a new file only this user can read (mode 0600), removed on exit, also after an error.

    ``tempfile.mkstemp`` creates the file with O_EXCL and mode 0600 (Python docs,
    ``tempfile.mkstemp``: "readable and writable only by the creating user ID").
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".cookies-", suffix=".txt", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        yield path
    finally:
        path.unlink(missing_ok=True)


__all__ = ["COOKIES_KEY", "MAX_COOKIES_BYTES", "parse_cookies_txt", "private_cookies_file"]
