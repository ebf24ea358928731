"""Where each user is in the onboarding flow, and one event per step state change (for the funnel)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class Step(models.TextChoices):
    """The onboarding steps, in the order the frontend shows them."""

    WELCOME = "welcome", "Welcome"
    CONNECT_WALLET = "connect-wallet", "Connect wallet"
    SECURITY = "security", "Security"
    FEATURES = "features", "Features"
    DEFI = "defi", "DeFi"


STEPS: tuple[str, ...] = tuple(Step.values)


def new_onboarding_id() -> str:
    return "onb_" + secrets.token_hex(12)


class OnboardingProgress(models.Model):
    """One row per user, created by their first step (or their completion).

    ``steps_completed`` and ``skipped_steps`` hold step names in the order of :data:`STEPS`; a step is in at most
    one of them, and a completed step stays completed.
    """

    onboarding_id = models.CharField(max_length=32, unique=True, default=new_onboarding_id, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="onboarding")
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    steps_completed = models.JSONField(default=list, blank=True)
    skipped_steps = models.JSONField(default=list, blank=True)
    completion_time = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds the user spent in the flow, as the frontend reported it."
    )
    user_feedback = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "onboarding progress"
        verbose_name_plural = "onboarding progress"

    def __str__(self) -> str:
        return self.onboarding_id

    @property
    def completion_rate(self) -> int:
        """Integer percent of the known steps completed (skipped steps do not count)."""
        return len([step for step in self.steps_completed if step in STEPS]) * 100 // len(STEPS)

    @property
    def current_step(self) -> str | None:
        """The first step neither completed nor skipped; None when no step is left."""
        handled = {*self.steps_completed, *self.skipped_steps}
        return next((step for step in STEPS if step not in handled), None)


class OnboardingStepEvent(models.Model):
    """A step became completed or skipped for a user. Written only on a change, so each (progress, step, action)
    occurs at most once; the admin funnel counts these."""

    class Action(models.TextChoices):
        COMPLETED = "completed", "Completed"
        SKIPPED = "skipped", "Skipped"

    # Through the progress row (one per user), so resetting a user's onboarding removes their events too.
    progress = models.ForeignKey(OnboardingProgress, on_delete=models.CASCADE, related_name="events")
    step = models.CharField(max_length=32, choices=Step.choices)
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["progress", "step", "action"], name="onboarding_event_once_per_step")
        ]
        indexes = [models.Index(fields=["step", "action"])]

    def __str__(self) -> str:
        return f"{self.progress_id}: {self.step} {self.action}"
