"""The job state machine's rules, without a database: transitions, progress and ``decide``."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import AuthError, ChallengeRequired, ErrorCode, MediaError, QuotaExceeded, TransientError
from core.models import JobStatus, JobStep
from core.pipeline import machine
from core.pipeline.machine import Decision, Filtered, decide
from core.pipeline.rules import RetryPolicy

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy()  # 3 attempts, 10 s x 6, capped at 600 s
PIPELINE = Path(__file__).parents[3] / "core" / "pipeline"


def test_every_status_has_its_moves_and_the_ends_have_none() -> None:
    assert set(machine.TRANSITIONS) == set(JobStatus)
    for end in (JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.CANCELLED):
        assert machine.TRANSITIONS[end] == frozenset()
    assert machine.allowed(JobStatus.QUEUED, JobStatus.RUNNING)
    assert machine.allowed(JobStatus.CAPTCHA_PENDING, JobStatus.QUEUED)
    assert not machine.allowed(JobStatus.CANCELLED, JobStatus.SUCCESS)
    assert not machine.allowed(JobStatus.QUEUED, JobStatus.SUCCESS)
    assert set(machine.CLAIMABLE) == {JobStatus.QUEUED, JobStatus.RETRYING}


def test_progress_runs_from_each_steps_start_to_its_end() -> None:
    assert machine.percent(JobStep.DOWNLOAD, 0) == 0 and machine.percent(JobStep.DOWNLOAD, 1) == 25
    assert machine.percent(JobStep.UPLOAD, 0.5) == 78.5
    assert machine.percent(JobStep.UPLOAD, 7) == 95  # a server reporting more than the total
    starts = [machine.STEP_START[s] for s in machine.STEPS]
    assert starts == sorted(starts)


@pytest.mark.parametrize(("attempts", "delay"), [(1, 10), (2, 60)])
def test_a_retriable_error_retries_with_backoff(attempts: int, delay: int) -> None:
    error = TransientError("socket timeout", code=ErrorCode.NETWORK_TIMEOUT)
    assert decide(error, attempts, POLICY, NOW) == Decision(JobStatus.RETRYING, attempts,
                                                            NOW + timedelta(seconds=delay))


def test_the_last_attempt_goes_to_the_dead_letter_queue() -> None:
    decision = decide(TransientError("503"), 3, POLICY, NOW)
    assert decision == Decision(JobStatus.FAILED, 3) and decision.dead_letter and decision.finished


def test_the_delay_is_capped_and_a_server_asked_wait_is_kept() -> None:
    policy = RetryPolicy(max_attempts=10)
    assert decide(TransientError("x"), 8, policy, NOW).retry_at == NOW + timedelta(seconds=600)
    slow = TransientError("slow down", code=ErrorCode.API_RATE_LIMIT, retry_after=120)
    assert decide(slow, 1, policy, NOW).retry_at == NOW + timedelta(seconds=120)


def test_a_non_retriable_or_excluded_code_fails_at_once() -> None:
    assert decide(MediaError("corrupt"), 1, POLICY, NOW).status is JobStatus.FAILED
    assert decide(AuthError("no", code=ErrorCode.REQUIRES_REAUTH), 1, POLICY, NOW).dead_letter
    policy = RetryPolicy(no_retry_on_errors=(ErrorCode.NETWORK_TIMEOUT.value,))
    assert decide(TransientError("t", code=ErrorCode.NETWORK_TIMEOUT), 1, policy, NOW).dead_letter


def test_a_quota_defers_to_its_reset_without_spending_an_attempt() -> None:
    reset = NOW + timedelta(hours=7)
    assert decide(QuotaExceeded("quota", reset_at=reset), 3, POLICY, NOW) == Decision(
        JobStatus.RETRYING, 2, reset)
    unknown = TransientError("quota", code=ErrorCode.QUOTA_EXCEEDED)  # no reset time given
    assert decide(unknown, 1, POLICY, NOW) == Decision(JobStatus.RETRYING, 0, NOW + timedelta(hours=1))


def test_a_challenge_waits_for_the_admin_and_a_filter_cancels() -> None:
    assert decide(ChallengeRequired("challenge"), 1, POLICY, NOW) == Decision(JobStatus.CAPTCHA_PENDING, 0)
    cancelled = decide(Filtered("shorter than 5 s"), 1, POLICY, NOW)
    assert cancelled == Decision(JobStatus.CANCELLED, 1) and cancelled.finished and not cancelled.dead_letter


def test_every_decision_is_a_move_a_running_job_may_make() -> None:
    errors = [TransientError("t"), MediaError("m"), ChallengeRequired("c"), Filtered("f"),
              QuotaExceeded("q", reset_at=NOW)]
    for error in errors:
        for attempts in range(1, 5):
            assert machine.allowed(JobStatus.RUNNING, decide(error, attempts, POLICY, NOW).status)


def test_the_pipeline_imports_nothing_from_the_services() -> None:
    for path in PIPELINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith("core.services") for n in names), path.name
