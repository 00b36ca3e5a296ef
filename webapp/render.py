"""JSON views of the models, in the specification's shapes (§4). Secrets never appear:
credentials, proxy passwords and upload session URIs are left out or reduced to a flag.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from core.models import Account, AuthMethod, Connection, Job, LogEntry, Notification, Platform, Proxy


def _v(value: Any) -> str:
    """An enum column's value (services sometimes assign the plain string before saving)."""
    return value.value if isinstance(value, Enum) else str(value)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _ref(row: Any, label: str) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": row.id, "alias": getattr(row, label)}


def connection(c: Connection) -> dict[str, Any]:
    """A connection with its accounts and proxy (prefetched)."""
    return {
        "id": c.id,
        "name": c.name,
        "type": _v(c.direction),
        "source_account": _ref(c.source_account, "alias"),
        "destination_account": _ref(c.destination_account, "alias"),
        "proxy": _ref(c.proxy, "alias"),
        "proxy_policy": c.proxy_policy,
        "filters": c.filters,
        "schedule": c.schedule,
        "transform_options": c.transform_options,
        "retry_policy": c.retry_policy,
        "metadata_templates": c.metadata_templates,
        "status": _v(c.status),
        "pause_reason": c.pause_reason,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "last_run": iso(c.last_run_at),
        "next_check": iso(c.next_check_at),
        "total_forwarded": c.total_forwarded,
        "success_count": c.success_count,
        "failure_count": c.failure_count,
        "filtered_count": c.filtered_count,
        "backfill_done": c.backfill_done,
    }


def account(a: Account, token: dict[str, Any] | None = None) -> dict[str, Any]:
    """An account without its credentials; ``token`` is ``AccountService.token_status``."""
    out = {
        "id": a.id,
        "type": _v(a.platform),
        "alias": a.alias,
        "username": a.username,
        "external_id": a.external_id,
        "auth_method": _v(a.auth_method),
        "status": _v(a.status),
        "status_reason": a.status_reason,
        "token_expiry": iso(a.token_expiry),
        "alert_before_days": a.alert_before_days,
        "default_proxy_id": a.default_proxy_id,  # type: ignore[attr-defined]
        "profile": a.profile or {},
        "last_verified_at": iso(a.last_verified_at),
        "created_at": iso(a.created_at),
    }
    creds = a.credentials or {}
    if a.auth_method == AuthMethod.GRAPH_API:
        from core.platforms.instagram_graph import login_type

        out["login_type"] = login_type(creds)  # which of Meta's APIs; never the token itself
    if a.platform == Platform.YOUTUBE:
        out["has_cookies"] = bool(creds.get("cookies_txt"))
    if token is not None:
        out["token_status"] = {k: v for k, v in token.items() if k not in ("account_id", "alias", "platform")}
    return out


def proxy(p: Proxy) -> dict[str, Any]:
    """A proxy; its credentials are only reported as present or not."""
    return {
        "id": p.id,
        "alias": p.alias,
        "type": _v(p.type),
        "host": p.host,
        "port": p.port,
        "has_credentials": bool(p.username),
        "assignment": _v(p.assignment),
        "enabled": p.enabled,
        "health_status": _v(p.health),
        "last_health_check": iso(p.last_check_at),
        "last_success": iso(p.last_success_at),
        "response_time_ms": p.latency_ms,
        "consecutive_failures": p.consecutive_failures,
        "last_error": p.last_error,
        "created_at": iso(p.created_at),
    }


def job(j: Job) -> dict[str, Any]:
    """A job row (connection and source post prefetched)."""
    return {
        "job_id": j.id,
        "connection_id": j.connection_id,  # type: ignore[attr-defined]
        "connection_name": j.connection.name,
        "source_post_id": j.source_post.source_post_id,
        "source_url": j.source_post.permalink,
        "status": _v(j.status),
        "current_step": _v(j.step),
        "progress_percent": j.progress_percent,
        "message": j.progress_message,
        "attempts": j.attempts,
        "error_code": j.error_code,
        "error_message": j.error_message,
        "next_retry_at": iso(j.next_retry_at),
        "destination_post_id": j.destination_post_id,
        "destination_url": j.destination_url,
        "dead_letter": j.dead_letter,
        "retry_of": j.parent_id,  # type: ignore[attr-defined]
        "created_at": iso(j.created_at),
        "started_at": iso(j.started_at),
        "finished_at": iso(j.finished_at),
        "step_durations": j.step_durations,
        "bytes_in": j.bytes_in,
        "bytes_out": j.bytes_out,
    }


def dead_letter(j: Job) -> dict[str, Any]:
    """A dead-lettered job in the specification's shape (§4.10.4)."""
    return {
        "job_id": j.id,
        "connection_id": j.connection_id,  # type: ignore[attr-defined]
        "connection_name": j.connection.name,
        "source_post_id": j.source_post.source_post_id,
        "final_error": j.error_code,
        "error_message": j.error_message,
        "attempts": j.attempts,
        "failed_at": iso(j.finished_at or j.updated_at),
        "can_retry": True,
    }


def checkpoint_summary(checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    """Which steps are saved, without file paths or upload session addresses."""
    cp = dict(checkpoint or {})
    upload = cp.get("upload") or {}
    return {
        "steps_saved": [step for step in ("download", "probe", "transform", "metadata", "upload", "verify")
                        if step in cp],
        "upload": None if not upload else {
            "started": True,
            "finished": "result" in upload,
        },
        "metadata": {k: v for k, v in (cp.get("metadata") or {}).items()
                     if k in ("title", "description", "caption", "privacy", "tags")} or None,
        "probe": cp.get("probe"),
        "verify": cp.get("verify"),
        "proxy_id": cp.get("proxy_id"),
    }


def log_entry(e: LogEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "level": _v(e.level),
        "message": e.message,
        "details": e.details,
        "job_id": e.job_id,  # type: ignore[attr-defined]
        "connection_id": e.connection_id,  # type: ignore[attr-defined]
        "account_id": e.account_id,  # type: ignore[attr-defined]
        "created_at": iso(e.created_at),
    }


def notification(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "payload": n.payload,
        "chat_id": n.chat_id,
        "status": _v(n.status),
        "attempts": n.attempts,
        "last_error": n.last_error,
        "telegram_message_id": n.telegram_message_id,
        "created_at": iso(n.created_at),
        "sent_at": iso(n.sent_at),
    }


def page(total: int, limit: int, offset: int, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A page of a list."""
    return {"total": total, "limit": limit, "offset": offset, key: items}
