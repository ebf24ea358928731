from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from apps.onboarding.models import STEPS, OnboardingStepEvent
from apps.onboarding.selectors import NEXT_ACTIONS

ALLOWED = ", ".join(STEPS)
MAX_COMPLETION_SECONDS = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL


class StepField(serializers.ChoiceField):
    """One step name; an unknown one is refused with the list of allowed names."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=list(STEPS), **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or data not in STEPS:
            raise serializers.ValidationError(f"Unknown step {str(data)[:40]!r}. Allowed: {ALLOWED}.")
        return data


class StepFieldSchema(OpenApiSerializerFieldExtension):
    """Every step field refers to one ``OnboardingStep`` enum (an inline enum under four field names would get
    four names from drf-spectacular, and a warning)."""

    target_class = StepField

    def get_name(self) -> str:
        return "OnboardingStep"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(STEPS)}


class StepListField(serializers.ListField):
    """A list of step names, duplicates dropped; errors are one flat list (not keyed by index)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=StepField(), max_length=20, **kwargs)

    def run_child_validation(self, data: list[Any]) -> list[str]:
        steps, errors = [], []
        for item in data:
            try:
                steps.append(self.child.run_validation(item))
            except serializers.ValidationError as exc:
                errors.extend(exc.detail)
        if errors:
            raise serializers.ValidationError(errors)
        return list(dict.fromkeys(steps))


class SecondsField(serializers.IntegerField):
    """A JSON integer: "300", 300.5 and true are refused rather than coerced."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("A whole number of seconds is required.")
        return super().to_internal_value(data)


class OnboardingCompleteInput(serializers.Serializer):
    steps_completed = StepListField(help_text=f"Steps the user completed, among: {ALLOWED}.")
    completion_time = SecondsField(
        min_value=0,
        max_value=MAX_COMPLETION_SECONDS,
        required=False,
        allow_null=True,
        help_text="Seconds the user spent in the flow. Omitted or null: keep what was reported before.",
    )
    skipped_steps = StepListField(required=False, default=list, help_text="Steps the user skipped.")
    user_feedback = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text='A short answer such as "helpful", or free text. Omitted: keep what was sent before.',
    )


class OnboardingProgressInput(serializers.Serializer):
    step = StepField(help_text=f"One of: {ALLOWED}.")
    action = serializers.ChoiceField(
        choices=OnboardingStepEvent.Action.choices, default=OnboardingStepEvent.Action.COMPLETED
    )


class OnboardingCompleteOutput(serializers.Serializer):
    onboarding_id = serializers.CharField()
    completed_at = serializers.DateTimeField()
    completion_rate = serializers.IntegerField(help_text="Percent of the 5 steps completed (skipped do not count).")
    next_recommended_action = serializers.ChoiceField(choices=list(NEXT_ACTIONS))


class OnboardingStatusOutput(serializers.Serializer):
    is_completed = serializers.BooleanField(help_text="The flow was completed (every step handled, or /complete).")
    steps_completed = serializers.ListField(child=StepField(), help_text="In the flow's order.")
    current_step = StepField(allow_null=True, help_text="The first step neither completed nor skipped; null if none.")
    completion_percentage = serializers.IntegerField(help_text="Percent of the 5 steps completed.")
    started_at = serializers.DateTimeField(allow_null=True, help_text="null until the first step is saved.")
    skipped_steps = serializers.ListField(child=StepField(), help_text="Beyond the guide: steps skipped.")
    next_recommended_action = serializers.ChoiceField(
        choices=list(NEXT_ACTIONS), help_text="Beyond the guide: as in the /complete response."
    )
