from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings, load_settings

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_follow_the_design_table(tmp_path: Path) -> None:
    s = load_settings()
    assert s.telegram_api_base == "https://api.telegram.org"
    assert s.graph_facebook_url == "https://graph.facebook.com/v26.0"
    assert s.graph_instagram_url == "https://graph.instagram.com/v26.0"
    assert s.graph_upload_url == "https://rupload.facebook.com/ig-api-upload/v26.0"
    assert s.resolved_database_url == f"sqlite://{tmp_path / 'data' / 'forwarder.sqlite3'}"
    assert s.uses_embedded_redis
    assert (s.web_host, s.web_port) == ("127.0.0.1", 8080)


def test_env_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nADMIN_IDS=5, 6\n")
    monkeypatch.setenv("PROXY_CHECK_URLS", "http://127.0.0.1:1/a,http://127.0.0.1:2/b")
    s = load_settings()
    assert s.admin_ids == [5, 6]
    assert s.telegram_bot_token is not None and s.telegram_bot_token.get_secret_value() == TOKEN
    assert s.proxy_check_urls == ["http://127.0.0.1:1/a", "http://127.0.0.1:2/b"]
    s.require_bot()


def test_missing_token_says_how_to_get_one() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(admin_ids=[1]).require_bot()
    assert err.value.setting == "TELEGRAM_BOT_TOKEN"
    assert "@BotFather" in str(err.value)


def test_missing_admins_say_how_to_find_the_id() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(telegram_bot_token=TOKEN).require_bot()
    assert err.value.setting == "ADMIN_IDS"
    assert "user id" in str(err.value) and "@userinfobot" in str(err.value)


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("WEB_PORT", "abc", "valid integer"),
        ("WEB_PORT", "70000", "65535"),
        ("ADMIN_IDS", "12,bob", "valid integer"),
        ("TELEGRAM_API_BASE", "api.telegram.org", "not a http(s) URL"),
        ("DATABASE_URL", "mysql://x", "sqlite:// or postgres://"),
        ("REDIS_URL", "http://x", "redis://"),
        ("TIMEZONE", "Mars/Base", "IANA"),
        ("LOG_LEVEL", "LOUD", "DEBUG, INFO"),
        ("PROXY_CHECK_URLS", "https://ok.example,ftp://no", "not a http(s) URL"),
    ],
)
def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                     needle: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.setting == name
    assert needle in str(err.value)
    assert f"Set {name}" in str(err.value)


def test_a_malformed_token_is_rejected_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "12345:short-secret-value")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.setting == "TELEGRAM_BOT_TOKEN"
    assert "short-secret-value" not in str(err.value)


def test_env_example_documents_every_setting_and_loads_as_the_defaults(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    text = example.read_text()
    for name in Settings.model_fields:
        assert f"\n{name.upper()}=" in text, f"{name.upper()} is not in .env.example"
    (tmp_path / ".env").write_text(text)
    loaded, defaults = load_settings(), Settings(_env_file=None)  # type: ignore[call-arg]
    assert loaded.telegram_bot_token is None and not loaded.secret_keys
    assert loaded.alert_chat_id is None and loaded.database_url is None and loaded.redis_url is None
    assert loaded.model_dump(exclude={"secret_keys", "alert_chat_id", "ffmpeg_binary"}) == \
        defaults.model_dump(exclude={"secret_keys", "alert_chat_id", "ffmpeg_binary"})
    assert not loaded.ffmpeg_binary


def test_graph_version_is_one_setting_and_old_versioned_bases_still_load(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_API_BASE", "https://graph.facebook.com/v21.0")
    monkeypatch.setenv("GRAPH_UPLOAD_BASE", "https://rupload.facebook.com/ig-api-upload/v21.0")
    monkeypatch.setenv("GRAPH_API_VERSION", "v25.0")
    s = load_settings()
    assert s.graph_facebook_url == "https://graph.facebook.com/v25.0"
    assert s.graph_upload_url == "https://rupload.facebook.com/ig-api-upload/v25.0"
    monkeypatch.setenv("GRAPH_API_VERSION", "26")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.setting == "GRAPH_API_VERSION" and "v26.0" in str(err.value)


@pytest.mark.parametrize("name", ["GOOGLE_TOKEN_URI", "GOOGLE_AUTH_URI", "YOUTUBE_API_BASE", "GRAPH_API_BASE",
                                  "INSTAGRAM_GRAPH_API_BASE", "GRAPH_UPLOAD_BASE", "INSTAGRAM_API_BASE"])
def test_plain_http_to_another_host_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # Tokens and OAuth codes would cross the network in clear (and oauthlib refuses http with a 500).
    monkeypatch.setenv(name, "http://api.example.com")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.setting == name and "https://" in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setenv(name, "http://127.0.0.1:9")  # a wire fake or a local gateway on this machine
    load_settings()
    monkeypatch.setenv(name, "http://fakes:8080")
    monkeypatch.setenv("ALLOW_HTTP_ENDPOINTS", "true")  # a test network of containers
    load_settings()
