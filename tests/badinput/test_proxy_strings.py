"""Proxy strings an admin may type: each wrong one refused with one exact message naming the
field, through the core parser, the bot's one-line entry and the API; nothing is saved. The
right ones are taken, normalised."""

from __future__ import annotations

from typing import Any

import pytest

from bot.callbacks import ProxyAction, ProxyCB
from bot.handlers.proxies import parse_line
from core.bootstrap import Runtime
from core.models import Proxy
from core.platforms.proxy import ProxyInputError, ProxySpec
from tests.badinput.support import EMOJI, LONG, answer, check_message, say, tap
from tests.bot.conftest import ADMIN, BotHarness
from tests.webapp.conftest import Api

_FORMS = "use type://user:pass@host:port, host:port or host:port:user:pass"
_NEEDS = f"a proxy needs a host and a port; {_FORMS}"
_TYPES = "type must be one of http, https, socks5, got"
_BRACKETS = "an IPv6 address needs brackets: [2001:db8::1]:1080"

# text -> (field, exact message)
BAD: dict[str, tuple[str, str]] = {
    "": ("proxy", f"the proxy is empty; {_FORMS}"),
    "   ": ("proxy", f"the proxy is empty; {_FORMS}"),
    "ftp://h.example:21": ("type", f"{_TYPES} 'ftp'"),
    "socks4://h.example:1080": ("type", f"{_TYPES} 'socks4'"),
    "://h.example:1080": ("type", f"{_TYPES} ''"),
    "htp://h.example:80": ("type", f"{_TYPES} 'htp'"),
    "h.example:0": ("port", "port must be 1-65535, got 0"),
    "h.example:65536": ("port", "port must be 1-65535, got 65536"),
    "socks5://h.example:99999": ("port", "port must be 1-65535, got 99999"),
    "http://h.example:-1": ("port", "port must be 1-65535, got -1"),
    "h.example:http": ("port", "port must be a number, got 'http'"),
    "h.example:8_0": ("port", "port must be a number, got '8_0'"),
    "h.example:+80": ("port", "port must be a number, got '+80'"),
    "h.example:٨٠": ("port", "port must be a number, got '٨٠'"),
    "http://h.example:0x50": ("port", "port must be a number, got '0x50'"),
    "http://h.example:": ("port", "port must be a number, got ''"),
    "h.example": ("proxy", _NEEDS),
    "http://h.example": ("port", _NEEDS),
    "http://": ("port", _NEEDS),
    "http://:8080": ("port", _NEEDS),
    "http://user:pass@:8080": ("port", _NEEDS),
    "[::1]": ("port", _NEEDS),
    "http://[::1:80": ("port", _NEEDS),
    "bad host:80": ("host", "host 'bad host' is not a hostname or an IP address"),
    "http://h_x.example:80": ("host", "host 'h_x.example' is not a hostname or an IP address"),
    "-bad.example:80": ("host", "host '-bad.example' is not a hostname or an IP address"),
    "http://a..b:80": ("host", "host 'a..b' is not a hostname or an IP address"),
    "прокси.рф:8080": ("host", "host 'прокси.рф' is not a hostname or an IP address"),
    f"http://{EMOJI}.example:80": ("host", f"host '{EMOJI}.example' is not a hostname or an IP address"),
    "http://h\u200b.example:80": ("host", "host 'h\u200b.example' is not a hostname or an IP address"),
    "999.1.1.1:80": ("host", "host '999.1.1.1' is not a hostname or an IP address"),
    "1.2.3.256:80": ("host", "host '1.2.3.256' is not a hostname or an IP address"),
    "12345:80": ("host", "host '12345' is not a hostname or an IP address"),
    "http://" + "a" * 64 + ".example:80": ("host",
                                           "host '" + "a" * 40 + "…' is not a hostname or an IP address"),
    "http://h.example:80:90": ("host", "host 'h.example:80' is not a hostname or an IP address"),
    "http://2001:db8::1:8080": ("host", _BRACKETS),
    "socks5://u:p@2001:db8::1:1080": ("host", _BRACKETS),
    "2001:db8::1:8080": ("host", _BRACKETS),
    "::1:8080": ("host", _BRACKETS),
    "http://user@h.example:80": ("password", "a username was given without a password"),
    "socks5://user:@h.example:1080": ("password", "a username was given without a password"),
    "http://:secret@h.example:80": ("username", "a password was given without a username"),
    "h.example:80:user:": ("password", "a username was given without a password"),
    "h.example:80::secret": ("username", "a password was given without a username"),
    "socks5://u:" + "p" * 256 + "@h.example:1080":
        ("password", "SOCKS5 usernames and passwords are limited to 255 bytes"),
    "h.example:80 extra": ("port", "port must be a number, got '80 extra'"),
    LONG: ("proxy", _NEEDS),
    "x" * 300 + ":80": ("host", "host '" + "x" * 40 + "…' is not a hostname or an IP address"),
}

# text -> (type, host, port, username, password)
GOOD: dict[str, tuple[Any, ...]] = {
    "socks5://user:pass@proxy.example:1080": ("socks5", "proxy.example", 1080, "user", "pass"),
    "socks5h://10.0.0.1:1080": ("socks5", "10.0.0.1", 1080, None, None),
    "HTTP://Proxy.Example.:8080/": ("http", "proxy.example", 8080, None, None),
    "https://u:p@[2001:db8::1]:3128": ("https", "2001:db8::1", 3128, "u", "p"),
    "[::1]:3128": ("http", "::1", 3128, None, None),
    "  192.168.1.100:8080  ": ("http", "192.168.1.100", 8080, None, None),
    "h.example:65535:proxyuser:p@ss:w/rd": ("http", "h.example", 65535, "proxyuser", "p@ss:w/rd"),
    "http://us%20er:p%40ss%3Aw@h.example:1": ("http", "h.example", 1, "us er", "p@ss:w"),
    f"socks5://{EMOJI}:{EMOJI}@xn--e1afmkfd.xn--p1ai:1080": ("socks5", "xn--e1afmkfd.xn--p1ai", 1080, EMOJI,
                                                             EMOJI),
    "localhost:3128": ("http", "localhost", 3128, None, None),
}


@pytest.mark.parametrize("text", list(BAD))
def test_core_parser_refuses_with_the_exact_message(text: str) -> None:
    field, message = BAD[text]
    with pytest.raises(ProxyInputError) as caught:
        ProxySpec.parse(text)
    assert (caught.value.field, caught.value.message) == (field, message)


@pytest.mark.parametrize("text", list(GOOD))
def test_core_parser_takes_the_right_ones(text: str) -> None:
    spec = ProxySpec.parse(text)
    assert (spec.type, spec.host, spec.port, spec.username, spec.password) == GOOD[text]
    assert ProxySpec.parse(spec.url()) == spec  # what it renders reads back the same


def test_the_bot_line_parser_adds_only_the_name() -> None:
    assert parse_line("us1 socks5://u:p@h.example:1080")[0] == "us1"
    assert parse_line("h.example:1080")[0] == "h.example:1080"
    with pytest.raises(ProxyInputError, match="send one line: an optional name"):
        parse_line("name http://h.example:80 extra words")
    for text, (_field, message) in BAD.items():
        if text.strip() and " " not in text.strip():
            with pytest.raises(ProxyInputError) as caught:
                parse_line(text)
            assert caught.value.message == message, text


async def test_the_bot_refuses_each_line_deletes_it_and_saves_nothing(harness: BotHarness,
                                                                      runtime: Runtime) -> None:
    h = harness
    listing = await say(h, "/proxies", "Proxies")
    await tap(h, listing, ProxyCB(action=ProxyAction.ADD).pack(), "Send the proxy on one line")
    sent: list[int] = []
    for text, (_field, message) in BAD.items():
        if not text.strip() or " " in text.strip():
            continue  # Telegram delivers no empty message; a space splits off a name (tested above)
        mark = len(h.tg.calls)
        sent.append(h.tg.send_message(ADMIN, f"p1 {text}")["message"]["message_id"])
        got = await answer(h, mark, "Send the line again, or /cancel")
        assert check_message(got["text"]) == f"❌ {message}\nSend the line again, or /cancel.", text
    deleted = {c.params["message_id"] for c in h.tg.calls_of("deleteMessage")}
    assert set(sent) <= deleted  # a line may carry a password: none stays in the chat
    assert await Proxy.all().count() == 0
    assert h.tg.refused == []


STEPS: list[tuple[str, list[tuple[str, str]], str, str]] = [
    # step, wrong answers and what the bot says, the right answer, what comes next
    ("host", [(LONG, "host '" + "x" * 40 + "…' is not a hostname or an IP address"),
              ("прокси.рф", "host 'прокси.рф' is not a hostname or an IP address"),
              ("999.1.1.1", "host '999.1.1.1' is not a hostname or an IP address"),
              (f"{EMOJI}", f"host '{EMOJI}' is not a hostname or an IP address")], "2001:DB8::1", "The port"),
    ("port", [("0", "port must be 1-65535, got 0"), ("65536", "port must be 1-65535, got 65536"),
              ("8_0", "port must be a number, got '8_0'"), ("٨٠", "port must be a number, got '٨٠'"),
              (LONG, "port must be a number, got '" + "x" * 40 + "…'")], "1080", "The username"),
]


async def test_the_step_by_step_entry_refuses_each_field_and_stays(harness: BotHarness,
                                                                   runtime: Runtime) -> None:
    h = harness
    listing = await say(h, "/proxies", "Proxies")
    await tap(h, listing, ProxyCB(action=ProxyAction.KIND, kind="socks5").pack(), "host name or IP address")
    for _step, wrong, right, following in STEPS:
        for text, message in wrong:
            got = await say(h, text, "Send it again, or /cancel")
            assert check_message(got["text"]) == f"❌ {message}\nSend it again, or /cancel."
        await say(h, right, following)
    await say(h, "-", "The password")
    await say(h, "-", "A name for this proxy")
    got = await say(h, "n" * 65, "Send another name")
    assert "alias must be at most 64 characters, got 65" in got["text"]
    await say(h, f"{EMOJI} home", "Saved")
    proxy = await Proxy.get()
    assert (proxy.alias, proxy.type.value, proxy.host, proxy.port, proxy.username) == \
        (f"{EMOJI} home", "socks5", "2001:db8::1", 1080, None)
    assert h.tg.refused == []


# Field values for POST /api/proxies: (overrides of a good body) -> (field, exact message)
API_BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"type": "ftp"}, "type", f"{_TYPES} 'ftp'"),
    ({"type": "socks4"}, "type", f"{_TYPES} 'socks4'"),
    ({"type": ""}, "type", f"{_TYPES} ''"),
    ({"host": ""}, "host", "host '' is not a hostname or an IP address"),
    ({"host": "bad host"}, "host", "host 'bad host' is not a hostname or an IP address"),
    ({"host": "прокси.рф"}, "host", "host 'прокси.рф' is not a hostname or an IP address"),
    ({"host": "999.1.1.1"}, "host", "host '999.1.1.1' is not a hostname or an IP address"),
    ({"host": "h\u200b.example"}, "host", "host 'h\u200b.example' is not a hostname or an IP address"),
    ({"host": LONG}, "host", "host '" + "x" * 40 + "…' is not a hostname or an IP address"),
    ({"port": 0}, "port", "port must be 1-65535, got 0"),
    ({"port": 65536}, "port", "port must be 1-65535, got 65536"),
    ({"port": -1}, "port", "port must be 1-65535, got -1"),
    ({"port": "8_0"}, "port", "port must be a number, got '8_0'"),
    ({"port": "٨٠"}, "port", "port must be a number, got '٨٠'"),
    ({"port": "http"}, "port", "port must be a number, got 'http'"),
    ({"port": 1.5}, "port", "must be a port number 1-65535"),
    ({"port": True}, "port", "must be a port number 1-65535"),
    ({"port": None}, "port", "must be a port number 1-65535"),
    ({"username": "bob"}, "password", "a username was given without a password"),
    ({"password": "secret"}, "username", "a password was given without a username"),
    ({"username": "bob", "password": ""}, "password", "a username was given without a password"),
    ({"type": "socks5", "username": "u", "password": "p" * 256}, "password",
     "SOCKS5 usernames and passwords are limited to 255 bytes"),
    ({"alias": ""}, "alias", "alias must not be empty"),
    ({"alias": "a" * 65}, "alias", "alias must be at most 64 characters, got 65"),
]


async def test_the_api_refuses_each_field_and_saves_nothing(api: Api) -> None:
    good = {"alias": "p1", "type": "http", "host": "127.0.0.1", "port": 3128}
    for overrides, field, message in API_BAD:
        err = (await api.post("/api/proxies", 422, json={**good, **overrides}))["error"]
        assert err["code"] == "invalid_input" and err["fields"] == {field: message}, (overrides, err)
    err = (await api.post("/api/proxies", 422, json={**good, "host": "h\x00.example"}))["error"]
    assert err["fields"] == {"body": "a text holds a NUL character or half of a character (a lone surrogate)"}
    assert await Proxy.all().count() == 0
    body = {**good, "host": "2001:DB8::1", "port": "8080"}
    made = (await api.post("/api/proxies", 201, json=body))["proxy"]
    assert (made["host"], made["port"]) == ("2001:db8::1", 8080)
    for overrides, field, message in API_BAD:  # the same checks guard a change
        err = (await api.put(f"/api/proxies/{made['id']}", 422, json=overrides))["error"]
        assert err["fields"] == {field: message}, (overrides, err)
    row = await Proxy.get(id=made["id"])
    assert (row.alias, row.type.value, row.host, row.port, row.username, row.password) == \
        ("p1", "http", "2001:db8::1", 8080, None, None)
