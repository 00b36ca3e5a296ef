"""Settings: the only reader of the environment (and of ``.env``)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ConfigError

_GRAPH_SUFFIX = re.compile(r"(/ig-api-upload)?(/v\d{1,3}\.\d)?$")
TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")

HOW_TO = {
    "TELEGRAM_BOT_TOKEN": (
        "Create a bot with @BotFather in Telegram (/newbot) and copy the token it gives you "
        "(it looks like 123456789:AAE...), then set TELEGRAM_BOT_TOKEN=<token> in .env"
    ),
    "ADMIN_IDS": (
        "Set ADMIN_IDS to your numeric Telegram user id (comma-separate several). To find it, "
        "send any message to @userinfobot (or @RawDataBot) and copy the 'id' it answers with"
    ),
}


SECURE_ENDPOINTS = ("youtube_api_base", "google_auth_uri", "google_token_uri", "youtube_web_base",
                    "instagram_api_base", "graph_api_base", "instagram_graph_api_base", "graph_upload_base")


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of DESIGN.md's table, read from the environment or ``.env``."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False,
        env_ignore_empty=True,
    )

    telegram_bot_token: SecretStr | None = Field(
        None, description=HOW_TO["TELEGRAM_BOT_TOKEN"]
    )
    admin_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description=HOW_TO["ADMIN_IDS"]
    )
    alert_chat_id: str | None = Field(
        None,
        description="Channel or group for alerts: @channel_name or a numeric id like -1001234567890; "
        "add the bot to it as an administrator",
    )
    telegram_api_base: str = Field(
        "https://api.telegram.org", description="Bot API server base URL"
    )
    database_url: str | None = Field(
        None,
        description="sqlite://path/to/file.sqlite3 or postgres://user:pass@host:5432/db "
        "(default: SQLite file in DATA_DIR)",
    )
    redis_url: str | None = Field(
        None,
        description="redis://host:port/db or unix:///path/redis.sock "
        "(default: an embedded Redis under DATA_DIR)",
    )
    data_dir: Path = Field(Path("./data"), description="A writable directory for state")
    secret_keys: SecretStr | None = Field(
        None,
        description="Comma-separated Fernet keys, newest first; generate one with "
        "`forwarder rotate-keys --print-new-key` (default: a key file generated in DATA_DIR)",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="The URL the web process is reachable at (https for the Mini App)",
    )
    web_host: str = Field("127.0.0.1", description="Interface the web process binds")
    web_port: int = Field(8080, ge=0, le=65535, description="A TCP port 0-65535")
    youtube_api_base: str = Field("https://www.googleapis.com/", description="a http(s) URL")
    google_auth_uri: str = Field(
        "https://accounts.google.com/o/oauth2/auth", description="a http(s) URL"
    )
    google_token_uri: str = Field("https://oauth2.googleapis.com/token", description="a http(s) URL")
    youtube_web_base: str = Field("https://www.youtube.com", description="a http(s) URL")
    instagram_api_base: str = Field("https://i.instagram.com", description="a http(s) URL")
    # Meta serves each Graph API version about two years (v21.0 until 21 January 2027); v26.0 is the
    # current one (29 July 2026): https://developers.facebook.com/docs/graph-api/changelog/versions
    graph_api_version: str = Field(
        "v26.0", description="Meta Graph API version for both Instagram APIs, like v26.0"
    )
    graph_api_base: str = Field(
        "https://graph.facebook.com",
        description="a http(s) URL: the Instagram API with Facebook Login (EAA... tokens); no version",
    )
    instagram_graph_api_base: str = Field(
        "https://graph.instagram.com",
        description="a http(s) URL: the Instagram API with Instagram Login (IGAA... tokens); no version",
    )
    graph_upload_base: str = Field(
        "https://rupload.facebook.com",
        description="a http(s) URL: Meta's resumable upload host (Facebook Login accounts only)",
    )
    allow_http_endpoints: bool = Field(
        False,
        description="Allow plain-http platform and OAuth URLs on hosts other than loopback (test setups "
        "with wire fakes only; never in production)",
    )
    proxy_check_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["https://www.instagram.com", "https://www.youtube.com"],
        description="Comma-separated http(s) URLs fetched through a proxy to check it",
    )
    ffmpeg_binary: str | None = Field(
        None,
        description="Path to ffmpeg (default: system ffmpeg, else the one bundled by imageio-ffmpeg)",
    )
    timezone: str = Field("UTC", description="IANA time zone for schedules, e.g. Europe/Berlin")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    embedded_redis_port: int = Field(
        0, ge=0, le=65535,
        description="Loopback port for the embedded Redis (0 = a unix socket in DATA_DIR)",
    )
    webapp_session_seconds: int = Field(
        3600, ge=60, le=7 * 86400,
        description="Seconds the Mini App's Telegram sign-in (initData) stays valid: 60 to 604800",
    )
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token for /metrics scrapers outside this host (loopback needs none)",
    )
    forward_lease_seconds: int = Field(
        120, ge=5, le=3600,
        description="Seconds a worker's claim on a running job lasts unless renewed (renewed every third "
        "of it); a crashed worker's job is taken over once it runs out: 5 to 3600",
    )
    reconcile_seconds: int = Field(
        60, ge=5, le=60,
        description="How often the reconcile cron puts back on the queue what Redis lost or a crashed "
        "worker held: 5 to 60 seconds, a divisor of 60",
    )

    @field_validator("admin_ids", "proxy_check_urls", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator(
        "telegram_api_base", "public_base_url", "youtube_api_base", "google_auth_uri",
        "google_token_uri", "youtube_web_base", "instagram_api_base", "graph_api_base",
        "graph_upload_base", "instagram_graph_api_base",
    )
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"'{value}' is not a http(s) URL")
        return value

    @field_validator("graph_api_base", "instagram_graph_api_base", "graph_upload_base")
    @classmethod
    def _unversioned(cls, value: str) -> str:
        # Older .env files carried the version in the base (…/v21.0, …/ig-api-upload/v21.0):
        # the version is GRAPH_API_VERSION's alone, so a trailing one is dropped here.
        return _GRAPH_SUFFIX.sub("", value.rstrip("/"))

    @field_validator("graph_api_version")
    @classmethod
    def _graph_version(cls, value: str) -> str:
        if not re.fullmatch(r"v\d{1,3}\.\d", value.strip()):
            raise ValueError(f"'{value}' is not a Graph API version like v26.0")
        return value.strip()

    @field_validator("proxy_check_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            cls._http_url(url)
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not TOKEN_RE.match(value.get_secret_value().strip()):
            raise ValueError("does not look like a bot token (digits, a colon, 30+ characters)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("reconcile_seconds")
    @classmethod
    def _divides_minute(cls, value: int) -> int:
        if 60 % value:
            raise ValueError("must divide 60 (5, 6, 10, 12, 15, 20, 30 or 60)")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError(f"'{value}' is not one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder of zones
            raise ValueError(f"'{value}' is not an IANA time zone") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme = value.split("://", 1)[0]
        if "://" not in value or scheme not in ("sqlite", "postgres", "postgresql", "asyncpg"):
            raise ValueError("must start with sqlite:// or postgres://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if value.split("://", 1)[0] not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _secure_endpoints(self) -> Settings:
        # Tokens, passwords and OAuth codes travel to these hosts: plain http is for loopback (wire
        # fakes, a local gateway) or an explicit test setup, never a host across the network.
        if self.allow_http_endpoints:
            return self
        for name in SECURE_ENDPOINTS:
            url = str(getattr(self, name))
            parsed = urlparse(url)
            if parsed.scheme == "http" and not _loopback(parsed.hostname or ""):
                default = type(self).model_fields[name].default
                raise ConfigError(
                    name.upper(), f"'{url}' is plain http to a host other than this machine",
                    f"Use https:// (the default is {default}); plain http is allowed only for loopback "
                    "addresses, or for test setups with ALLOW_HTTP_ENDPOINTS=true.")
        return self

    @property
    def graph_facebook_url(self) -> str:
        """Versioned base of the Instagram API with Facebook Login (graph.facebook.com)."""
        return f"{self.graph_api_base}/{self.graph_api_version}"

    @property
    def graph_instagram_url(self) -> str:
        """Versioned base of the Instagram API with Instagram Login (graph.instagram.com)."""
        return f"{self.instagram_graph_api_base}/{self.graph_api_version}"

    @property
    def graph_upload_url(self) -> str:
        """Versioned base of Meta's resumable upload endpoint for reels."""
        return f"{self.graph_upload_base}/ig-api-upload/{self.graph_api_version}"

    # -- derived values --------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        """DATABASE_URL, or the SQLite file in DATA_DIR."""
        if self.database_url:
            return self.database_url
        return f"sqlite://{self.data_dir.resolve() / 'forwarder.sqlite3'}"

    @property
    def uses_embedded_redis(self) -> bool:
        """True when no REDIS_URL is set and the embedded Redis must be started."""
        return not self.redis_url

    def require_bot(self) -> None:
        """Raise ConfigError unless the bot token and at least one admin are set."""
        if self.telegram_bot_token is None:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN", "is not set", HOW_TO["TELEGRAM_BOT_TOKEN"] + "."
            )
        if not self.admin_ids:
            raise ConfigError("ADMIN_IDS", "is not set", HOW_TO["ADMIN_IDS"] + ".")


def load_settings(**overrides: Any) -> Settings:
    """Read settings; a wrong value becomes one ConfigError naming the variable and the fix."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "settings"
        name = field.upper()
        given = err.get("input")
        msg = str(err["msg"]).removeprefix("Value error, ")
        if isinstance(given, str | int) and not isinstance(given, bool) and "secret" not in field \
                and "token" not in field:
            msg = f"{msg} (got {given!r})"
        info = Settings.model_fields.get(field)
        fix = f"Set {name} in .env or the environment"
        if info is not None and info.description:
            fix += f": {info.description}"
        raise ConfigError(name, msg, fix + ".") from None
