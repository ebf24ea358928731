"""Reads: a user's onboarding status and next action; the funnel for the back office."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef

from apps.accounts.models import Wallet
from apps.transactions.models import ChainTransaction

from .models import STEPS, OnboardingProgress, OnboardingStepEvent, Step

NEXT_ACTIONS = ("connect_wallet", "secure_account", "make_first_payment", "explore_defi")
# A payment on its way or done; an unsigned, failed or dropped one does not count as a first payment.
_PAID_STATUSES = (ChainTransaction.Status.PENDING, ChainTransaction.Status.CONFIRMED, ChainTransaction.Status.FINALIZED)


def onboarding_get_for_user(*, user) -> OnboardingProgress | None:
    return OnboardingProgress.objects.filter(user=user).first()


def onboarding_next_action_for_user(*, user, steps_completed: list[str]) -> str:
    """What the user should do next, from their real state. The first rule that applies wins:

    1. no wallet linked to the account → ``connect_wallet``
    2. the ``security`` step not completed (skipping it does not count) → ``secure_account``
    3. no transaction of theirs pending, confirmed or finalized (none sent, or only failed/dropped/unsigned ones)
       → ``make_first_payment``
    4. otherwise → ``explore_defi``
    """
    if not Wallet.objects.filter(user=user).exists():
        return "connect_wallet"
    if Step.SECURITY not in steps_completed:
        return "secure_account"
    if not ChainTransaction.objects.filter(user=user, status__in=_PAID_STATUSES).exists():
        return "make_first_payment"
    return "explore_defi"


def onboarding_status_for_user(*, user, progress: OnboardingProgress | None = None) -> dict[str, Any]:
    """The status shape of ``GET /api/users/onboarding/status``; a user who never started is at ``welcome``."""
    progress = progress or onboarding_get_for_user(user=user)
    if progress is None:
        steps_completed: list[str] = []
        body: dict[str, Any] = {
            "is_completed": False,
            "steps_completed": steps_completed,
            "skipped_steps": [],
            "current_step": STEPS[0],
            "completion_percentage": 0,
            "started_at": None,
        }
    else:
        steps_completed = progress.steps_completed
        body = {
            "is_completed": progress.completed_at is not None,
            "steps_completed": steps_completed,
            "skipped_steps": progress.skipped_steps,
            "current_step": progress.current_step,
            "completion_percentage": progress.completion_rate,
            "started_at": progress.started_at,
        }
    body["next_recommended_action"] = onboarding_next_action_for_user(user=user, steps_completed=steps_completed)
    return body


@dataclass(frozen=True)
class FunnelStep:
    step: str
    label: str
    completed: int
    skipped: int
    completed_percent: int  # of the users who started


@dataclass(frozen=True)
class Funnel:
    started: int
    completed: int
    completed_percent: int
    steps: list[FunnelStep]
    median_duration: timedelta | None  # completed_at - started_at, over the completed flows
    median_reported_time: timedelta | None  # the completion_time the frontend reported


def onboarding_funnel() -> Funnel:
    """Per step: users who completed it, and users who skipped it and have not completed it since."""
    started = OnboardingProgress.objects.count()
    completed = OnboardingProgress.objects.filter(completed_at__isnull=False).count()
    events = OnboardingStepEvent.objects.order_by()
    done = dict(_users_per_step(events.filter(action=OnboardingStepEvent.Action.COMPLETED)))
    completed_later = events.filter(
        progress=OuterRef("progress"), step=OuterRef("step"), action=OnboardingStepEvent.Action.COMPLETED
    )
    skipped = dict(_users_per_step(events.filter(~Exists(completed_later), action=OnboardingStepEvent.Action.SKIPPED)))
    steps = [
        FunnelStep(
            step=step,
            label=label,
            completed=done.get(step, 0),
            skipped=skipped.get(step, 0),
            completed_percent=_percent(done.get(step, 0), started),
        )
        for step, label in Step.choices
    ]
    finished = OnboardingProgress.objects.filter(completed_at__isnull=False)
    durations = [end - start for start, end in finished.values_list("started_at", "completed_at")]
    times = finished.filter(completion_time__isnull=False).values_list("completion_time", flat=True)
    reported = [timedelta(seconds=seconds) for seconds in times]
    return Funnel(
        started=started,
        completed=completed,
        completed_percent=_percent(completed, started),
        steps=steps,
        median_duration=_median(durations),
        median_reported_time=_median(reported),
    )


def _users_per_step(events) -> list[tuple[str, int]]:
    return list(events.values_list("step").annotate(users=Count("progress", distinct=True)))


def _percent(part: int, whole: int) -> int:
    return part * 100 // whole if whole else 0


def _median(values: list[timedelta]) -> timedelta | None:
    """The median, rounded to the second. Computed in Python over one value per completed flow, which keeps it
    exact and the same on SQLite and PostgreSQL (percentile_cont exists only on the latter)."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return timedelta(seconds=(median + timedelta(milliseconds=500)) // timedelta(seconds=1))
