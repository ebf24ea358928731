"""Writes: record one step, or the whole flow's completion. Both are idempotent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from engipay.api.errors import InvalidInput

from .models import STEPS, OnboardingProgress, OnboardingStepEvent

Action = OnboardingStepEvent.Action


def _progress_locked(*, user) -> tuple[OnboardingProgress, bool]:
    """The user's progress row, created if missing. Caller is inside a transaction.

    The user's own row is locked first, so two first calls of one user cannot both try to create the progress row,
    and two step saves cannot overwrite each other's lists.
    """
    # NO KEY: serialises these calls without blocking other apps' inserts that reference the user.
    get_user_model().objects.select_for_update(no_key=True).only("pk").get(pk=user.pk)
    return OnboardingProgress.objects.select_for_update().get_or_create(user=user)


def _apply(*, progress: OnboardingProgress, completed: Iterable[str], skipped: Iterable[str]) -> None:
    """Merge steps into the progress row and write an event for each change (the row is saved by the caller).

    A completed step stays completed: skipping it later changes nothing, completing a skipped step moves it.
    """
    done, passed = set(progress.steps_completed), set(progress.skipped_steps)
    now = timezone.now()
    events = []
    for step in completed:
        if step not in done:
            done.add(step)
            passed.discard(step)
            events.append(OnboardingStepEvent(progress=progress, step=step, action=Action.COMPLETED, at=now))
    for step in skipped:
        if step not in done and step not in passed:
            passed.add(step)
            events.append(OnboardingStepEvent(progress=progress, step=step, action=Action.SKIPPED, at=now))
    progress.steps_completed = [step for step in STEPS if step in done]
    progress.skipped_steps = [step for step in STEPS if step in passed]
    OnboardingStepEvent.objects.bulk_create(events)


@transaction.atomic
def onboarding_step_record(*, user, step: str, action: str = Action.COMPLETED) -> OnboardingProgress:
    """Save one step as completed or skipped. The flow counts as completed once no step is left."""
    if step not in STEPS:
        raise InvalidInput("invalid_input", f"step: {_unknown_step(step)}", {"step": [_unknown_step(step)]})
    if action not in Action.values:
        raise InvalidInput("invalid_input", f"action: Must be one of {', '.join(Action.values)}.")
    progress, _ = _progress_locked(user=user)
    if action == Action.COMPLETED:
        _apply(progress=progress, completed=[step], skipped=[])
    else:
        _apply(progress=progress, completed=[], skipped=[step])
    if progress.current_step is None and progress.completed_at is None:
        progress.completed_at = timezone.now()
    progress.save()
    return progress


@transaction.atomic
def onboarding_complete(
    *,
    user,
    steps_completed: list[str],
    skipped_steps: list[str],
    completion_time: int | None = None,
    user_feedback: str | None = None,
) -> OnboardingProgress:
    """Mark the flow completed. Calling it again updates the same row (same ``onboarding_id``, first
    ``completed_at`` kept); steps merge with those already saved, and omitted feedback or time keeps the old value.
    """
    for field, steps in (("steps_completed", steps_completed), ("skipped_steps", skipped_steps)):
        unknown = [_unknown_step(step) for step in steps if step not in STEPS]
        if unknown:
            raise InvalidInput("invalid_input", f"{field}: {unknown[0]}", {field: unknown})
    both = [step for step in STEPS if step in steps_completed and step in skipped_steps]
    if both:
        message = f"A step cannot be both completed and skipped: {', '.join(both)}."
        raise InvalidInput("invalid_input", message, {"skipped_steps": [message]})
    progress, created = _progress_locked(user=user)
    now = timezone.now()
    if created and completion_time is not None:
        # Nothing was saved before this call: the flow began when the user says, not now.
        progress.started_at = now - timedelta(seconds=completion_time)
    _apply(progress=progress, completed=steps_completed, skipped=skipped_steps)
    if completion_time is not None:
        progress.completion_time = completion_time
    if user_feedback is not None:
        progress.user_feedback = user_feedback
    progress.completed_at = progress.completed_at or now
    progress.save()
    return progress


def _unknown_step(step: object) -> str:
    return f"Unknown step {str(step)[:40]!r}. Allowed: {', '.join(STEPS)}."
