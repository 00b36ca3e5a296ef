"""client_secret.json variants: what an admin may upload instead of Google's file, and the exact
reason each is refused (the same words in core, the API and the bot)."""

from __future__ import annotations

import json


def secret(kind: str = "installed", **section: object) -> bytes:
    body = {"client_id": "fake-client.apps.googleusercontent.com", "client_secret": "fake-secret",
            "project_id": "proj-1", "redirect_uris": ["http://localhost"], **section}
    return json.dumps({kind: body}).encode()


_NEITHER = ("neither an 'installed' nor a 'web' section: download the OAuth client (Desktop app or Web "
            "application) JSON from Google Cloud -> Credentials")
_HUGE = json.dumps({"installed": {"client_id": "c", "client_secret": "s", "padding": "x" * 100_000}}).encode()

# name -> (file content, the reason given)
REFUSED: dict[str, tuple[bytes, str]] = {
    "not json": (b"client_id=abc\nclient_secret=def\n", "not valid JSON: line 1 column 1: Expecting value"),
    "empty": (b"", "not valid JSON: line 1 column 1: Expecting value"),
    "truncated": (secret()[:40], "not valid JSON: line 1 column 29: Unterminated string starting at"),
    "json array": (b'[{"installed": {}}]', "the top level must be a JSON object, not list"),
    "json string": (b'"client_secret.json"', "the top level must be a JSON object, not str"),
    "no section": (b'{"type": "service_account", "private_key": "k"}', _NEITHER),
    "section not an object": (b'{"installed": "yes"}', _NEITHER),
    "missing client_id": (secret(client_id=None), "'installed.client_id' is missing or empty"),
    "blank client_id": (secret("web", client_id="   "), "'web.client_id' is missing or empty"),
    "client_id a number": (secret(client_id=42), "'installed.client_id' is missing or empty"),
    "missing client_secret": (secret("web", client_secret=None), "'web.client_secret' is missing or empty"),
    "redirect uris a number": (secret(redirect_uris=5),
                               "'installed.redirect_uris' must be a list of addresses"),
    "redirect uris a string": (secret(redirect_uris="http://localhost"),
                               "'installed.redirect_uris' must be a list of addresses"),
    "redirect uris of numbers": (secret("web", redirect_uris=[1, 2]),
                                 "'web.redirect_uris' must be a list of addresses"),
    "binary": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not valid JSON: the file is not UTF-8 text"),
    "utf-16": (secret().decode().encode("utf-16"), "not valid JSON: the file is not UTF-8 text"),
    "nested too deeply": (b"[" * 50_000, "not valid JSON: it is nested too deeply"),
    "huge": (_HUGE, f"the file is {len(_HUGE) // 1024} KB, too large for a client_secret.json "
                    "(at most 64 KB)"),
}
# The bot checks the size Telegram reports before downloading, with its own words.
BOT_SAYS = {"huge": "❌ That file is too large for a client_secret.json; send the right file."}

ACCEPTED: dict[str, bytes] = {
    "bom": b"\xef\xbb\xbf" + secret(),  # Windows editors save UTF-8 with a byte-order mark
    "web": secret("web", redirect_uris=["https://forwarder.example/oauth2callback"]),
    "other redirect uris": secret(redirect_uris=["urn:ietf:wg:oauth:2.0:oob", "ftp://nowhere"]),
    "no redirect uris": secret(redirect_uris=None),
    "extra fields": secret(auth_provider_x509_cert_url="x", javascript_origins=["y"]),
}
