"""Texts and keyboards of the bot's areas: pure functions of service data (no I/O)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import Area, ConnAction, ConnCB, JobAction, JobCB, MenuCB
from core.models import Connection, ConnectionStatus, Direction, Job, JobStatus, LogEntry, LogLevel
from core.pipeline.rules import Filters, Schedule

PAGE = 8
STATUS_ICON = {ConnectionStatus.ACTIVE: "🟢", ConnectionStatus.PAUSED: "⏸", ConnectionStatus.STOPPED: "⏹"}
JOB_ICON = {JobStatus.QUEUED: "🕓", JobStatus.RUNNING: "⚙️", JobStatus.RETRYING: "🔁",
            JobStatus.SUCCESS: "✅", JobStatus.FAILED: "❌", JobStatus.CAPTCHA_PENDING: "🧩",
            JobStatus.CANCELLED: "🚫"}
ARROW = {Direction.INSTAGRAM_TO_YOUTUBE: "Instagram → YouTube",
         Direction.YOUTUBE_TO_INSTAGRAM: "YouTube → Instagram"}
LEVEL_ICON = {LogLevel.DEBUG: "·", LogLevel.INFO: "ℹ️", LogLevel.WARNING: "⚠️", LogLevel.ERROR: "❌",
              LogLevel.CRITICAL: "🔥"}

Button = InlineKeyboardButton


def e(text: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(text), quote=False)


def local(moment: datetime | None, tz: str) -> str:
    """A time in the configured zone, or a dash."""
    if moment is None:
        return "—"
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def bar(percent: float, width: int = 12) -> str:
    """A text progress bar: ▓▓▓▓░░░░ 40%."""
    filled = max(0, min(width, round(percent / 100 * width)))
    return "▓" * filled + "░" * (width - filled) + f" {percent:.0f}%"


def rate(connection: Connection) -> str:
    done = connection.success_count + connection.failure_count
    return f"{connection.success_count / done * 100:.0f}%" if done else "—"


def _kb(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(r) for r in rows if r])


def _pager(total: int, page: int, make: Any) -> list[Button]:
    pages = max(1, -(-total // PAGE))
    row: list[Button] = []
    if page > 0:
        row.append(Button(text="◀️", callback_data=make(page - 1)))
    if pages > 1:
        row.append(Button(text=f"{page + 1}/{pages}", callback_data=make(page)))
    if page + 1 < pages:
        row.append(Button(text="▶️", callback_data=make(page + 1)))
    return row


def menu_button() -> Button:
    return Button(text="⬅️ Main menu", callback_data=MenuCB(area=Area.MENU).pack())


# ---- connections ---------------------------------------------------------------------------

def connection_list(connections: list[Connection], page: int) -> tuple[str, InlineKeyboardMarkup]:
    """A page of connections with status icons."""
    if not connections:
        return ("🔗 <b>Connections</b>\n\nNo connection yet. Add a source and a destination account under "
                "👤 Accounts, then create one here.",
                _kb([[Button(text="➕ New connection", callback_data=ConnCB(action=ConnAction.NEW).pack())],
                     [menu_button()]]))
    shown = connections[page * PAGE:(page + 1) * PAGE]
    lines = [f"🔗 <b>Connections</b> ({len(connections)})", ""]
    lines += [f"{STATUS_ICON[c.status]} {e(c.name)} — {ARROW[c.direction]}, {rate(c)} ok" for c in shown]
    rows = [[Button(text=f"{STATUS_ICON[c.status]} {c.name}"[:60],
                    callback_data=ConnCB(action=ConnAction.OPEN, id=c.id, page=page).pack())] for c in shown]
    rows.append(_pager(len(connections), page, lambda p: ConnCB(action=ConnAction.LIST, page=p).pack()))
    rows.append([Button(text="➕ New connection", callback_data=ConnCB(action=ConnAction.NEW).pack())])
    rows.append([menu_button()])
    return "\n".join(lines), _kb(rows)


def _schedule(connection: Connection) -> str:
    schedule = Schedule.from_json(connection.schedule)
    if schedule.windows:
        spans = ", ".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in schedule.windows)
        return f"every {schedule.interval_minutes} min within {spans}"
    return f"every {schedule.interval_minutes} min"


def _filters(connection: Connection) -> str:
    f = Filters.from_json(connection.filters)
    parts = [f"keywords: {', '.join(f.caption_keywords)}" if f.caption_keywords else "all new posts"]
    if f.exclude_keywords:
        parts.append(f"not: {', '.join(f.exclude_keywords)}")
    if f.min_duration is not None or f.max_duration is not None:
        parts.append(f"{f.min_duration or 0:g}–{f.max_duration or '∞'} s")
    if f.include_old_posts:
        parts.append(f"backfill from {f.date_from}{'' if not connection.backfill_done else ' (done)'}")
    return "; ".join(parts)


def connection_card(c: Connection, tz: str, page: int = 0) -> tuple[str, InlineKeyboardMarkup]:
    """A connection's card with its actions."""
    lines = [
        f"{STATUS_ICON[c.status]} <b>{e(c.name)}</b>",
        f"{ARROW[c.direction]}: {e(c.source_account.alias)} → {e(c.destination_account.alias)}",
        f"Status: {c.status.value}" + (f" — {e(c.pause_reason[:300])}" if c.pause_reason else ""),
        f"Schedule: {_schedule(c)}",
        f"Filters: {e(_filters(c))}",
        f"Proxy: {e(c.proxy.alias) if c.proxy else 'account default / direct'}",
        f"Last run: {local(c.last_run_at, tz)}",
        f"Forwarded: {c.total_forwarded} · success rate {rate(c)} · failed {c.failure_count} · "
        f"filtered {c.filtered_count}",
    ]

    def cb(action: ConnAction) -> str:
        return ConnCB(action=action, id=c.id, page=page).pack()

    if c.status is ConnectionStatus.ACTIVE:
        state = [Button(text="⏸ Pause", callback_data=cb(ConnAction.PAUSE)),
                 Button(text="⏹ Stop", callback_data=cb(ConnAction.STOP))]
    elif c.status is ConnectionStatus.PAUSED:
        state = [Button(text="▶️ Resume", callback_data=cb(ConnAction.RESUME)),
                 Button(text="⏹ Stop", callback_data=cb(ConnAction.STOP))]
    else:
        state = [Button(text="▶️ Start", callback_data=cb(ConnAction.START))]
    rows = [state,
            [Button(text="⚡ Run now", callback_data=cb(ConnAction.RUN)),
             Button(text="🧪 Dry run", callback_data=cb(ConnAction.DRY))],
            [Button(text="🔀 Proxies", callback_data=cb(ConnAction.POLICY)),
             Button(text="📜 Jobs", callback_data=JobCB(action=JobAction.HISTORY, id=c.id).pack()),
             Button(text="✏️ Edit", callback_data=cb(ConnAction.EDIT)),
             Button(text="🗑 Delete", callback_data=cb(ConnAction.DELETE))],
            [Button(text="⬅️ Connections", callback_data=ConnCB(action=ConnAction.LIST, page=page).pack())]]
    return "\n".join(lines), _kb(rows)


def confirm_delete(c: Connection, page: int) -> tuple[str, InlineKeyboardMarkup]:
    text = (f"🗑 Delete <b>{e(c.name)}</b>?\n\nIts history (posts seen, jobs, logs) goes with it. "
            "Videos already published stay where they are.")
    return text, _kb([[Button(text="Yes, delete", callback_data=ConnCB(
        action=ConnAction.DELETE_YES, id=c.id, page=page).pack()),
        Button(text="No", callback_data=ConnCB(action=ConnAction.OPEN, id=c.id, page=page).pack())]])


def run_now_result(result: dict[str, Any]) -> str:
    jobs = result["jobs_created"]
    lines = [f"⚡ {e(result['message'])}"]
    lines += [f"• job {j['job_id']} — post {e(j['source_post_id'])}" for j in jobs[:20]]
    if result.get("filtered"):
        lines.append(f"({result['filtered']} filtered out)")
    return "\n".join(lines)


def dry_run_report(report: dict[str, Any]) -> str:
    r = report["dry_run_results"]
    lines = [f"🧪 <b>Dry run</b> — {'no issues' if not r['issues'] else 'issues found'}",
             f"Posts found: {r['posts_found']} · downloaded: {r['videos_downloaded']} "
             f"({r['total_size_mb']} MB → {r['transformed_size_mb']} MB)",
             f"Upscaled: {r['transformations']['upscale_applied']} · green screen: "
             f"{r['transformations']['greenscreen_applied']}",
             f"Destination credentials: {r['destination_validation']}",
             f"Estimated upload time: {r['estimated_upload_time_minutes']} min", ""]
    for sample in r["sample_posts"]:
        line = f"• {e(sample['source_id'])}: {e(sample.get('transformation_result') or 'not transformed')}"
        if sample.get("filtered"):
            line += f" (would be filtered: {e(sample['filtered'])})"
        lines.append(line)
    if r["issues"]:
        lines += ["", "<b>Issues:</b>"] + [f"• {e(i)}" for i in r["issues"][:10]]
    lines.append("\nNothing was published.")
    return "\n".join(lines)[:4000]


# ---- jobs ------------------------------------------------------------------------------------

def _job_line(job: Job) -> str:
    name = job.connection.name if job.connection else "?"
    text = f"{JOB_ICON[job.status]} #{job.id} {e(name)}"
    if job.status is JobStatus.RUNNING:
        text += f" — {job.step.value} {bar(job.progress_percent, 8)}"
    elif job.status is JobStatus.RETRYING and job.next_retry_at:
        text += f" — retry at {job.next_retry_at:%H:%M}"
    elif job.error_code:
        text += f" — {e(job.error_code)}"
    return text


def job_list(title: str, total: int, jobs: list[Job], page: int, action: JobAction,
             empty: str, page_data: Any = None, top: list[list[Button]] | None = None
             ) -> tuple[str, InlineKeyboardMarkup]:
    """A page of jobs with a button for each (``top``: filter rows above them)."""
    lines = [f"<b>{title}</b> ({total})", ""] + ([_job_line(j) for j in jobs] or [empty])
    rows = list(top or [])
    rows += [[Button(text=f"{JOB_ICON[j.status]} #{j.id}", callback_data=JobCB(action=JobAction.OPEN,
                                                                               id=j.id).pack())
              for j in jobs[i:i + 4]] for i in range(0, len(jobs), 4)]
    rows.append(_pager(total, page, page_data or (lambda p: JobCB(action=action, page=p).pack())))
    rows.append([Button(text="⚙️ Active", callback_data=JobCB(action=JobAction.ACTIVE).pack()),
                 Button(text="📜 History", callback_data=JobCB(action=JobAction.HISTORY).pack()),
                 Button(text="☠️ Dead letter", callback_data=JobCB(action=JobAction.DLQ).pack())])
    rows.append([Button(text="🧾 Logs", callback_data=JobCB(action=JobAction.LOGS).pack()), menu_button()])
    return "\n".join(lines), _kb(rows)


def history(title: str, total: int, jobs: list[Job], page: int, connection_id: int, status: str,
            days: str) -> tuple[str, InlineKeyboardMarkup]:
    """Finished jobs filtered by connection, status and period, with the filter buttons."""
    label = {"": "all", "success": "succeeded", "failed": "failed", "cancelled": "cancelled"}[status]
    period = f"last {days} d" if days else "any time"

    def cb(s: str, d: str, p: int = 0) -> str:
        return JobCB(action=JobAction.HISTORY, id=connection_id, page=p, level=f"{s}.{d}").pack()

    top = [[Button(text=("• " if status == s else "") + name, callback_data=cb(s, days))
            for s, name in (("", "All"), ("success", "✅"), ("failed", "❌"), ("cancelled", "🚫"))],
           [Button(text=("• " if days == d else "") + name, callback_data=cb(status, d))
            for d, name in (("1", "24 h"), ("7", "7 d"), ("30", "30 d"), ("", "all"))]]
    return job_list(f"{title} — {label}, {period}", total, jobs, page, JobAction.HISTORY, "No job matches.",
                    page_data=lambda p: cb(status, days, p), top=top)


def job_card(job: Job, logs: list[LogEntry], tz: str) -> tuple[str, InlineKeyboardMarkup]:
    """A job with its timeline, error and retries."""
    lines = [f"{JOB_ICON[job.status]} <b>Job #{job.id}</b> — {job.status.value}",
             f"Connection: {e(job.connection.name)}",
             f"Source post: {e(job.source_post.source_post_id)}",
             f"Step: {job.step.value} {bar(job.progress_percent)}",
             f"Attempts: {job.attempts}" + (f" · next retry {local(job.next_retry_at, tz)}"
                                            if job.next_retry_at else "")]
    if job.progress_message and job.status is JobStatus.RUNNING:
        lines.append(e(job.progress_message))
    if job.error_code:
        lines.append(f"Error: {e(job.error_code)} — {e((job.error_message or '')[:300])}")
    if job.destination_url:
        lines.append(f"Published: {e(job.destination_url)}")
    if job.step_durations:
        lines.append("Durations: " + ", ".join(f"{k} {v:.1f}s" for k, v in job.step_durations.items()))
    if logs:
        lines += ["", "<b>Timeline</b>"] + [f"{local(entry.created_at, tz)[11:]} {LEVEL_ICON[entry.level]} "
                                             f"{e(entry.message[:160])}" for entry in reversed(logs[:10])]
    rows: list[list[Button]] = []
    if job.dead_letter:
        rows.append([Button(text="🔁 Retry", callback_data=JobCB(action=JobAction.RETRY, id=job.id).pack()),
                     Button(text="🗑 Delete", callback_data=JobCB(action=JobAction.DELETE, id=job.id).pack())])
    elif job.status in (JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.RUNNING, JobStatus.CAPTCHA_PENDING):
        cancel = JobCB(action=JobAction.CANCEL, id=job.id).pack()
        rows.append([Button(text="🚫 Cancel", callback_data=cancel)])
    rows.append([Button(text="⬅️ Jobs", callback_data=JobCB(action=JobAction.ACTIVE).pack()), menu_button()])
    return "\n".join(lines)[:4000], _kb(rows)


def log_list(total: int, entries: list[LogEntry], level: str, tz: str) -> tuple[str, InlineKeyboardMarkup]:
    """Recent log lines, filterable by level."""
    lines = [f"🧾 <b>Logs</b> ({level or 'info'} and above, {total})", ""]
    lines += [f"{local(x.created_at, tz)[5:]} {LEVEL_ICON[x.level]} {e(x.message[:200])}" for x in entries] \
        or ["Nothing logged at this level."]
    filters = [Button(text=("• " if (level or "info") == lvl else "") + lvl,
                      callback_data=JobCB(action=JobAction.LOGS, level=lvl).pack())
               for lvl in ("info", "warning", "error")]
    return "\n".join(lines)[:4000], _kb([filters, [Button(text="⬅️ Jobs", callback_data=JobCB(
        action=JobAction.ACTIVE).pack()), menu_button()]])
