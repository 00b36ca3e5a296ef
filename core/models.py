"""The data model of the whole specification (tortoise-orm).

Every row that a later multi-tenant split would separate carries ``owner_id`` (0 = the
single administrator of this install).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from core.fields import EncryptedJSONField, EncryptedTextField

MODEL_MODULES = ["core.models"]


class Platform(StrEnum):
    INSTAGRAM = "instagram"
    YOUTUBE = "youtube"


class AuthMethod(StrEnum):
    PRIVATE_API = "private_api"
    GRAPH_API = "graph_api"
    OAUTH = "oauth"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    EXPIRY_WARNING = "expiry_warning"
    TOKEN_EXPIRED = "token_expired"
    REQUIRES_REAUTH = "requires_reauth"
    CAPTCHA_DETECTED = "captcha_detected"
    SUSPENDED = "suspended"
    DISABLED = "disabled"


class Direction(StrEnum):
    """Which way a connection forwards; it names both platforms, so nothing else maps them."""

    INSTAGRAM_TO_YOUTUBE = "instagram_to_youtube"
    YOUTUBE_TO_INSTAGRAM = "youtube_to_instagram"

    @property
    def source_platform(self) -> Platform:
        """The platform posts are read from."""
        return Platform.INSTAGRAM if self is Direction.INSTAGRAM_TO_YOUTUBE else Platform.YOUTUBE

    @property
    def destination_platform(self) -> Platform:
        """The platform posts are published to."""
        return Platform.YOUTUBE if self is Direction.INSTAGRAM_TO_YOUTUBE else Platform.INSTAGRAM


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class ProxyType(StrEnum):
    HTTP = "http"
    HTTPS = "https"
    SOCKS5 = "socks5"


class ProxyAssignment(StrEnum):
    GLOBAL = "global"
    PER_ACCOUNT = "per_account"


class ProxyHealth(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNCHECKED = "unchecked"


class PostOutcome(StrEnum):
    QUEUED = "queued"
    FILTERED = "filtered"
    FORWARDED = "forwarded"
    FAILED = "failed"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCESS = "success"
    FAILED = "failed"
    CAPTCHA_PENDING = "captcha_pending"
    CANCELLED = "cancelled"


class JobStep(StrEnum):
    DOWNLOAD = "download"
    PROBE = "probe"
    TRANSFORM = "transform"
    METADATA = "metadata"
    UPLOAD = "upload"
    VERIFY = "verify"
    DONE = "done"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Proxy(Model):
    """A proxy server with encrypted credentials."""

    id = fields.IntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    owner_id = fields.BigIntField(default=0, db_index=True)
    alias = fields.CharField(max_length=64)
    type = fields.CharEnumField(ProxyType, max_length=16)
    host = fields.CharField(max_length=255)
    port = fields.IntField()
    username = EncryptedTextField(null=True)
    password = EncryptedTextField(null=True)
    assignment = fields.CharEnumField(ProxyAssignment, max_length=16, default=ProxyAssignment.GLOBAL)
    enabled = fields.BooleanField(default=True)
    health = fields.CharEnumField(ProxyHealth, max_length=16, default=ProxyHealth.UNCHECKED)
    latency_ms = fields.IntField(null=True)
    consecutive_failures = fields.IntField(default=0)
    last_check_at = fields.DatetimeField(null=True)
    last_success_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)

    class Meta:
        table = "proxies"
        unique_together = (("owner_id", "alias"),)


class Account(Model):
    """An Instagram or YouTube account with its encrypted credentials."""

    id = fields.IntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    owner_id = fields.BigIntField(default=0, db_index=True)
    platform = fields.CharEnumField(Platform, max_length=16)
    alias = fields.CharField(max_length=64)
    username = fields.CharField(max_length=255, null=True)
    external_id = fields.CharField(
        max_length=255, null=True, description="YouTube channel id, IG user id or Facebook page id"
    )
    auth_method = fields.CharEnumField(AuthMethod, max_length=16)
    credentials = EncryptedJSONField(null=True)
    token_expiry = fields.DatetimeField(null=True)
    status = fields.CharEnumField(AccountStatus, max_length=24, default=AccountStatus.ACTIVE)
    status_reason = fields.TextField(null=True)
    alert_before_days = fields.IntField(default=2)
    default_proxy: fields.ForeignKeyNullableRelation[Proxy] = fields.ForeignKeyField(
        "models.Proxy", related_name="accounts", null=True, on_delete=fields.SET_NULL
    )
    default_proxy_id: int | None  # the column tortoise fills; declared for type checkers
    profile = fields.JSONField[dict[str, Any]](
        default=dict, description="non-secret facts: channel title, project key"
    )
    last_verified_at = fields.DatetimeField(null=True)

    class Meta:
        table = "accounts"
        unique_together = (("owner_id", "alias"),)


class Connection(Model):
    """A forwarding rule from a source account to a destination account."""

    id = fields.IntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    owner_id = fields.BigIntField(default=0, db_index=True)
    name = fields.CharField(max_length=100)
    direction = fields.CharEnumField(Direction, max_length=32)
    source_account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="source_connections", on_delete=fields.RESTRICT
    )
    source_account_id: int  # the column tortoise fills; declared for type checkers
    destination_account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="destination_connections", on_delete=fields.RESTRICT
    )
    destination_account_id: int  # the column tortoise fills; declared for type checkers
    proxy: fields.ForeignKeyNullableRelation[Proxy] = fields.ForeignKeyField(
        "models.Proxy", related_name="connections", null=True, on_delete=fields.SET_NULL
    )
    proxy_id: int | None  # the column tortoise fills; declared for type checkers
    proxy_policy = fields.JSONField[dict[str, Any]](
        default=dict, description="mode, pool, fallback_to_direct, max_retry_per_proxy"
    )
    filters = fields.JSONField[dict[str, Any]](default=dict)
    schedule = fields.JSONField[dict[str, Any]](default=dict)
    transform_options = fields.JSONField[dict[str, Any]](default=dict)
    retry_policy = fields.JSONField[dict[str, Any]](default=dict)
    metadata_templates = fields.JSONField[dict[str, Any]](default=dict)
    status = fields.CharEnumField(ConnectionStatus, max_length=16, default=ConnectionStatus.STOPPED)
    pause_reason = fields.TextField(null=True)
    cursor = fields.JSONField[dict[str, Any]](default=dict, description="source position: last seen id/time")
    backfill_done = fields.BooleanField(default=False)
    last_run_at = fields.DatetimeField(null=True)
    next_check_at = fields.DatetimeField(null=True, db_index=True)
    total_forwarded = fields.IntField(default=0)
    success_count = fields.IntField(default=0)
    failure_count = fields.IntField(default=0)
    filtered_count = fields.IntField(default=0)

    class Meta:
        table = "connections"
        unique_together = (("owner_id", "name"),)


class SourcePost(Model):
    """A post seen at the source, recorded once per connection."""

    id = fields.IntField(primary_key=True)
    connection: fields.ForeignKeyRelation[Connection] = fields.ForeignKeyField(
        "models.Connection", related_name="posts", on_delete=fields.CASCADE
    )
    connection_id: int  # the column tortoise fills; declared for type checkers
    source_post_id = fields.CharField(max_length=128)
    title = fields.TextField(default="", description="the source's own title (YouTube), if any")
    caption = fields.TextField(default="")
    media_url = fields.TextField(null=True)
    permalink = fields.TextField(null=True)
    published_at = fields.DatetimeField(null=True)
    duration = fields.FloatField(null=True)
    outcome = fields.CharEnumField(PostOutcome, max_length=16, default=PostOutcome.QUEUED)
    reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "source_posts"
        unique_together = (("connection", "source_post_id"),)


class Job(Model):
    """One forward of one source post: the source of truth for the pipeline."""

    id = fields.IntField(primary_key=True)
    # Indexed for what the dashboard, analytics and lists filter or sort on (bench/api.py).
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)
    connection: fields.ForeignKeyRelation[Connection] = fields.ForeignKeyField(
        "models.Connection", related_name="jobs", on_delete=fields.CASCADE, db_index=True
    )
    connection_id: int  # the column tortoise fills; declared for type checkers
    source_post: fields.ForeignKeyRelation[SourcePost] = fields.ForeignKeyField(
        "models.SourcePost", related_name="jobs", on_delete=fields.CASCADE
    )
    source_post_id: int  # the column tortoise fills; declared for type checkers
    parent: fields.ForeignKeyNullableRelation[Job] = fields.ForeignKeyField(
        "models.Job", related_name="retries", null=True, on_delete=fields.SET_NULL
    )
    parent_id: int | None  # the column tortoise fills; declared for type checkers
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.QUEUED, db_index=True)
    dry_run = fields.BooleanField(default=False)
    attempts = fields.IntField(default=0)
    error_code = fields.CharField(max_length=32, null=True)
    error_message = fields.TextField(null=True)
    next_retry_at = fields.DatetimeField(null=True, db_index=True)
    checkpoint = fields.JSONField[dict[str, Any]](
        default=dict, description="per-step results, written before the next step"
    )
    step = fields.CharEnumField(JobStep, max_length=16, default=JobStep.DOWNLOAD)
    progress_percent = fields.FloatField(default=0)
    progress_message = fields.TextField(default="")
    destination_post_id = fields.CharField(max_length=128, null=True)
    destination_url = fields.TextField(null=True)
    started_at = fields.DatetimeField(null=True, db_index=True)
    finished_at = fields.DatetimeField(null=True, db_index=True)
    step_durations = fields.JSONField[dict[str, Any]](default=dict, description="seconds per step")
    bytes_in = fields.BigIntField(default=0)
    bytes_out = fields.BigIntField(default=0)
    dead_letter = fields.BooleanField(default=False, db_index=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)

    class Meta:
        table = "jobs"


class LogEntry(Model):
    """A log line the admin can read in the bot and the Mini App."""

    id = fields.IntField(primary_key=True)
    level = fields.CharEnumField(LogLevel, max_length=16, default=LogLevel.INFO, db_index=True)
    job: fields.ForeignKeyNullableRelation[Job] = fields.ForeignKeyField(
        "models.Job", related_name="logs", null=True, on_delete=fields.SET_NULL, db_index=True
    )
    job_id: int | None  # the column tortoise fills; declared for type checkers
    connection: fields.ForeignKeyNullableRelation[Connection] = fields.ForeignKeyField(
        "models.Connection", related_name="logs", null=True, on_delete=fields.SET_NULL
    )
    connection_id: int | None  # the column tortoise fills; declared for type checkers
    account: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="logs", null=True, on_delete=fields.SET_NULL
    )
    account_id: int | None  # the column tortoise fills; declared for type checkers
    message = fields.TextField()
    details = fields.JSONField[dict[str, Any]](default=dict)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "log_entries"


class Notification(Model):
    """An alert queued for the Telegram channel, with its delivery state."""

    id = fields.IntField(primary_key=True)
    owner_id = fields.BigIntField(default=0, db_index=True)
    kind = fields.CharField(max_length=48, db_index=True)
    payload = fields.JSONField[dict[str, Any]](default=dict)
    chat_id = fields.CharField(max_length=64, null=True)
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)
    telegram_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notifications"


class Setting(Model):
    """A system setting: key -> JSON value."""

    id = fields.IntField(primary_key=True)
    owner_id = fields.BigIntField(default=0)
    key = fields.CharField(max_length=100)
    value = fields.JSONField[Any](null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "settings"
        unique_together = (("owner_id", "key"),)


class QuotaUsage(Model):
    """API units and calls spent per platform project and quota day."""

    id = fields.IntField(primary_key=True)
    platform = fields.CharEnumField(Platform, max_length=16)
    project_key = fields.CharField(max_length=128)
    day = fields.DateField()
    units = fields.IntField(default=0)
    calls = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "quota_usage"
        unique_together = (("platform", "project_key", "day"),)


class OAuthState(Model):
    """A signed, single-use, expiring OAuth ``state`` with its PKCE verifier."""

    id = fields.IntField(primary_key=True)
    state_hash = fields.CharField(max_length=64, unique=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="oauth_states", on_delete=fields.CASCADE
    )
    account_id: int  # the column tortoise fills; declared for type checkers
    code_verifier = EncryptedTextField(null=True)
    chat_id = fields.BigIntField(null=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "oauth_states"


ENCRYPTED_FIELDS: dict[type[Model], tuple[str, ...]] = {
    Proxy: ("username", "password"),
    Account: ("credentials",),
    OAuthState: ("code_verifier",),
}
