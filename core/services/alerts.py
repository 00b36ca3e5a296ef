"""Alerts to the Telegram channel through an outbox (specification §4.7).

``notify`` records a ``Notification`` row (when that kind is switched on and a channel is
set); ``deliver`` (a worker cron) sends what is pending:

* at most ``per_minute`` messages to one chat in any 60 s (Telegram allows about 20);
* a 429 stops delivery to that chat until its ``retry_after`` has passed;
* more than ``flood_threshold`` pending alerts for one chat become **one** summary message;
* a row is claimed by one conditional UPDATE before it is sent, so two workers never send
  it twice, and rows survive a restart. (A crash after Telegram accepted a message and
  before its row was marked sent would send it again: a window of one HTTP reply.)
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from core.alert_kinds import AlertKind as AlertKind  # re-exported: its importers predate core.alert_kinds
from core.errors import ForwarderError
from core.models import DeliveryStatus, Notification, Setting
from core.platforms.telegram import Button, TelegramRetryAfter, TelegramSender

SETTING_KEY = "alerts"

# "retry n of m" is optional in the specification: off unless the admin turns it on.
DEFAULT_ON = frozenset(k for k in AlertKind if k is not AlertKind.JOB_RETRY)
TITLES = {
    AlertKind.TOKEN_EXPIRING: ("⏳", "ALERT: ACCESS TOKEN EXPIRES SOON"),
    AlertKind.TOKEN_EXPIRED: ("🔑", "ALERT: ACCESS TOKEN EXPIRED"),
    AlertKind.REFRESH_FAILED: ("🔑", "ALERT: TOKEN REFRESH FAILED"),
    AlertKind.JOB_FAILED: ("⚠️", "ALERT: JOB FAILED"),
    AlertKind.JOB_RETRY: ("🔁", "JOB FAILED - RETRYING"),
    AlertKind.SUCCESS_AFTER_RETRY: ("✅", "RESOLVED: JOB SUCCEEDED AFTER RETRY"),
    AlertKind.CAPTCHA_DETECTED: ("🧩", "CAPTCHA DETECTED (Manual Action Required)"),
    AlertKind.CAPTCHA_RESOLVED: ("✅", "RESOLVED: CAPTCHA SOLVED"),
    AlertKind.PROXY_UNHEALTHY: ("🛑", "ALERT: PROXY HEALTH CHECK FAILED"),
    AlertKind.CONNECTION_PAUSED: ("⏸", "ALERT: CONNECTION PAUSED"),
    AlertKind.QUOTA_EXHAUSTED: ("📉", "ALERT: DAILY QUOTA USED UP"),
    AlertKind.TEST: ("🔔", "TEST ALERT"),
}
# Field label, payload key, in display order.
FIELDS = (
    ("Connection", "connection"), ("Account", "account"), ("Source", "source"),
    ("Destination", "destination"), ("Proxy", "proxy"), ("Job ID", "job_id"), ("Time", "time"),
    ("Token type", "token_type"), ("Expires", "expires"), ("Status", "status"), ("Error", "error"),
    ("Details", "details"), ("Retry attempts", "attempts"), ("Next retry", "next_retry"),
    ("Failed checks", "failed_checks"), ("Last success", "last_success"), ("Resets at", "reset_at"),
    ("Source post", "source_post"), ("Destination post", "destination_url"),
)


@dataclass
class AlertConfig:
    """Who gets alerts and which."""

    chat_id: str | None
    enabled: frozenset[AlertKind] = DEFAULT_ON
    instance: str = "Forwarder"
    timezone: str = "UTC"
    public_base_url: str = ""


@dataclass
class DeliveryReport:
    """What one ``deliver`` round did."""

    sent: int = 0
    merged: int = 0
    failed: int = 0
    waiting: int = 0
    blocked_until: datetime | None = None
    errors: list[str] = field(default_factory=list)


def utcnow() -> datetime:
    return datetime.now(UTC)


class AlertService:
    """The outbox and its delivery."""

    def __init__(self, sender: TelegramSender | None, *, chat_id: str | None = None,
                 admin_ids: Sequence[int] = (), instance: str = "Forwarder", timezone: str = "UTC",
                 public_base_url: str = "",
                 clock: Callable[[], datetime] = utcnow, per_minute: int = 20,
                 flood_threshold: int = 5) -> None:
        self.sender = sender
        self.default_chat = chat_id
        # With no alert chat, alerts go to each admin's private chat with the bot (what .env.example
        # and `forwarder check` promise); before, they were dropped.
        self.admin_ids = tuple(admin_ids)
        self.instance = instance
        self.timezone = timezone
        self.public_base_url = public_base_url.rstrip("/")
        self.clock = clock
        self.per_minute = per_minute
        self.flood_threshold = flood_threshold
        self._blocked: dict[str, datetime] = {}

    # ---- configuration --------------------------------------------------------------

    async def config(self) -> AlertConfig:
        """Settings row over the environment defaults."""
        row = await Setting.get_or_none(owner_id=0, key=SETTING_KEY)
        value: dict[str, Any] = dict(row.value or {}) if row else {}
        enabled = value.get("enabled")
        return AlertConfig(
            chat_id=value.get("chat_id") or self.default_chat,
            enabled=frozenset(AlertKind(k) for k in enabled if k in AlertKind.__members__.values())
            if enabled is not None else DEFAULT_ON,
            instance=value.get("instance") or self.instance,
            timezone=value.get("timezone") or self.timezone,
            public_base_url=self.public_base_url,
        )

    async def configure(self, **changes: Any) -> AlertConfig:
        """Change the chat, the enabled kinds or the instance name."""
        row, _ = await Setting.get_or_create(owner_id=0, key=SETTING_KEY, defaults={"value": {}})
        value = dict(row.value or {})
        if "enabled" in changes:
            changes["enabled"] = sorted(AlertKind(k).value for k in changes["enabled"])
        value.update(changes)
        row.value = value
        await row.save()
        return await self.config()

    # ---- recording ------------------------------------------------------------------

    async def notify(self, kind: AlertKind, **payload: Any) -> Notification | None:
        """Queue an alert for the alert chat, or for every admin when none is set; None when that kind
        is off or there is nobody to tell. Returns the first row queued."""
        cfg = await self.config()
        chats = [str(cfg.chat_id)] if cfg.chat_id else [str(admin) for admin in self.admin_ids]
        if (kind not in cfg.enabled and kind is not AlertKind.TEST) or not chats:
            return None
        payload.setdefault("time", self.clock().isoformat())
        rows = [await Notification.create(kind=kind.value, payload=_json_safe(payload), chat_id=chat)
                for chat in chats]
        return rows[0]

    # ---- rendering ------------------------------------------------------------------

    def render(self, row: Notification, cfg: AlertConfig) -> tuple[str, list[list[Button]]]:
        """The message text (HTML) and its buttons."""
        kind = AlertKind(row.kind)
        p = dict(row.payload or {})
        icon, title = TITLES[kind]
        lines = [f"{icon} <b>[{html.escape(cfg.instance)}] {title}</b>", ""]
        for label, key in FIELDS:
            value = p.get(key)
            if value in (None, ""):
                continue
            if key in ("time", "last_success", "reset_at", "expires", "next_retry"):
                value = self._local(str(value), cfg.timezone)
            lines.append(f"{label}: {html.escape(str(value))}")
        for block in ("action", "instructions"):
            if p.get(block):
                lines += ["", f"<b>{'Action' if block == 'action' else 'Action required'}:</b>",
                          html.escape(str(p[block]))]
        if p.get("affected"):
            lines += ["", "<b>Affected connections:</b>"]
            lines += [f"- {html.escape(str(a))}" for a in p["affected"]]
        return _fit("\n".join(lines)), self._buttons(kind, p, cfg)

    @staticmethod
    def _local(value: str, timezone: str) -> str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S %Z")

    def _buttons(self, kind: AlertKind, p: dict[str, Any], cfg: AlertConfig) -> list[list[Button]]:
        row: list[Button] = []
        if kind is AlertKind.JOB_FAILED and p.get("job_id"):
            row.append(("🔁 Retry", f"al:retry:{p['job_id']}"))
        if kind is AlertKind.CAPTCHA_DETECTED and p.get("account_id"):
            row += [("✅ Mark solved", f"al:solved:{p['account_id']}"),
                    ("🔢 Enter code", f"al:code:{p['account_id']}")]
        links: list[Button] = []
        base = cfg.public_base_url
        if base.startswith("https://"):  # Telegram accepts only public https links in buttons
            if p.get("job_id"):
                links.append(("📄 Open job", f"{base}/app#/jobs/{p['job_id']}"))
            elif p.get("account_id"):
                links.append(("👤 Open account", f"{base}/app#/accounts/{p['account_id']}"))
            elif p.get("proxy_id"):
                links.append(("🌐 Open proxy", f"{base}/app#/proxies/{p['proxy_id']}"))
        return [r for r in (row, links) if r]

    def _summary(self, rows: list[Notification], cfg: AlertConfig) -> str:
        counts = Counter(AlertKind(r.kind) for r in rows)
        first, last = rows[0].created_at, rows[-1].created_at
        lines = [f"🚨 <b>[{html.escape(cfg.instance)}] {len(rows)} ALERTS</b>", "",
                 f"Between {self._local(first.isoformat(), cfg.timezone)} and "
                 f"{self._local(last.isoformat(), cfg.timezone)}:"]
        lines += [f"- {TITLES[k][1].split(': ')[-1].title()}: {n}" for k, n in counts.most_common()]
        examples = [r for r in rows if r.kind == AlertKind.JOB_FAILED.value][:5]
        if examples:
            lines += ["", "<b>First failures:</b>"] + [
                f"- Job {html.escape(str(r.payload.get('job_id')))} "
                f"({html.escape(str(r.payload.get('connection', '')))}): "
                f"{html.escape(str(r.payload.get('error', ''))[:120])}" for r in examples]
        lines += ["", "Open Jobs → Dead letter in the bot or the Mini App for the rest."]
        return _fit("\n".join(lines))

    # ---- delivery -------------------------------------------------------------------

    async def _claim(self, row: Notification) -> bool:
        taken = await Notification.filter(id=row.id, status=DeliveryStatus.PENDING,
                                          attempts=row.attempts).update(attempts=row.attempts + 1)
        return bool(taken)

    async def deliver(self) -> DeliveryReport:
        """Send what is pending, within Telegram's limits."""
        report = DeliveryReport()
        if self.sender is None:
            return report
        cfg = await self.config()
        now = self.clock()
        pending = await Notification.filter(status=DeliveryStatus.PENDING).order_by("id")
        by_chat: dict[str, list[Notification]] = {}
        for row in pending:
            by_chat.setdefault(row.chat_id or "", []).append(row)
        for chat, rows in by_chat.items():
            blocked = self._blocked.get(chat)
            if blocked and blocked > now:
                report.waiting += len(rows)
                report.blocked_until = blocked
                continue
            recent = await Notification.filter(chat_id=chat, status=DeliveryStatus.SENT,
                                               sent_at__gte=now - timedelta(seconds=60)).count()
            budget = self.per_minute - recent
            if budget <= 0:
                report.waiting += len(rows)
                continue
            if len(rows) > self.flood_threshold:
                await self._send_summary(chat, rows, cfg, report)
                continue
            for row in rows[:budget]:
                if not await self._send_one(chat, row, cfg, report):
                    break
            report.waiting += max(len(rows) - budget, 0)
        return report

    async def _send_one(self, chat: str, row: Notification, cfg: AlertConfig, report: DeliveryReport) -> bool:
        if not await self._claim(row):
            return True
        text, buttons = self.render(row, cfg)
        try:
            message_id = await self.sender.send_message(chat, text, buttons)  # type: ignore[union-attr]
        except TelegramRetryAfter as exc:
            self._blocked[chat] = self.clock() + timedelta(seconds=exc.retry_after or 5)
            await Notification.filter(id=row.id).update(last_error=exc.message)
            report.blocked_until = self._blocked[chat]
            report.errors.append(exc.message)
            return False
        except ForwarderError as exc:
            final = not exc.retriable or row.attempts + 1 >= 5
            await Notification.filter(id=row.id).update(
                last_error=exc.message, status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING)
            report.failed += final
            report.errors.append(exc.message)
            return exc.retriable is False
        await Notification.filter(id=row.id).update(status=DeliveryStatus.SENT, sent_at=self.clock(),
                                                    telegram_message_id=message_id, last_error=None)
        report.sent += 1
        return True

    async def _send_summary(self, chat: str, rows: list[Notification], cfg: AlertConfig,
                            report: DeliveryReport) -> None:
        claimed = [r for r in rows if await self._claim(r)]
        if not claimed:
            return
        try:
            message_id = await self.sender.send_message(chat, self._summary(claimed, cfg))  # type: ignore[union-attr]
        except ForwarderError as exc:
            if isinstance(exc, TelegramRetryAfter):
                self._blocked[chat] = self.clock() + timedelta(seconds=exc.retry_after or 5)
                report.blocked_until = self._blocked[chat]
            report.errors.append(exc.message)
            await Notification.filter(id__in=[r.id for r in claimed]).update(last_error=exc.message)
            return
        await Notification.filter(id__in=[r.id for r in claimed]).update(
            status=DeliveryStatus.SENT, sent_at=self.clock(), telegram_message_id=message_id, last_error=None)
        report.sent += 1
        report.merged += len(claimed)

    async def test(self) -> DeliveryReport:
        """Queue and send a test alert now."""
        if await self.notify(AlertKind.TEST, status="Alerts reach this chat",
                             details="Sent from Settings -> Test alert") is None:
            raise ForwarderError("No alert chat is set: set ALERT_CHAT_ID or choose one in Settings")
        return await self.deliver()


def _fit(text: str, limit: int = 4000) -> str:
    """HTML cut to ``limit`` characters (Telegram takes 4096) without splitting a tag or an entity."""
    if len(text) <= limit:
        return text
    cut = re.sub(r"<[^>]*$|&[^;\s]*$", "", text[:limit - 5])
    return cut + "…" + ("</b>" if cut.count("<b>") > cut.count("</b>") else "")


def _json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, StrEnum):
            value = value.value
        elif isinstance(value, str):
            value = value.replace("\x00", "")  # PostgreSQL's JSON refuses NUL (platforms' texts may hold it)
        elif isinstance(value, list):
            value = [v.replace("\x00", "") if isinstance(v, str) else v for v in value]
        out[key] = value
    return out
