from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from . import selectors
from .models import OnboardingProgress, OnboardingStepEvent


class CompletedFilter(admin.SimpleListFilter):
    title = "completed"
    parameter_name = "completed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Completed"), ("no", "Not completed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OnboardingProgress]) -> QuerySet[OnboardingProgress]:
        if self.value() in ("yes", "no"):
            return queryset.filter(completed_at__isnull=self.value() == "no")
        return queryset


class FeedbackFilter(admin.SimpleListFilter):
    title = "feedback"
    parameter_name = "feedback"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Left feedback"), ("no", "No feedback")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OnboardingProgress]) -> QuerySet[OnboardingProgress]:
        if self.value() == "yes":
            return queryset.exclude(user_feedback="")
        if self.value() == "no":
            return queryset.filter(user_feedback="")
        return queryset


class StepEventInline(admin.TabularInline):
    model = OnboardingStepEvent
    fields = ["step", "action", "at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OnboardingProgress)
class OnboardingProgressAdmin(admin.ModelAdmin):
    """What users did in the flow (read-only: the API writes it); deleting a row resets that user's onboarding."""

    change_list_template = "admin/onboarding/onboardingprogress/change_list.html"
    list_display = ["onboarding_id", "user_label", "started_at", "completed_at", "rate", "completion_time",
                    "user_feedback"]  # fmt: skip
    list_filter = [CompletedFilter, FeedbackFilter, "started_at", "completed_at"]
    search_fields = ["onboarding_id", "user__email", "user__wallets__address", "user_feedback"]
    list_select_related = ["user"]
    date_hierarchy = "started_at"
    ordering = ["-started_at"]
    readonly_fields = ["onboarding_id", "user", "started_at", "completed_at", "steps_completed", "skipped_steps",
                       "completion_time", "user_feedback", "updated_at"]  # fmt: skip
    inlines = [StepEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="user", ordering="user__email")
    def user_label(self, obj: OnboardingProgress) -> str:
        # Not str(user): for a wallet user it queries the wallets once per row.
        return obj.user.email or str(obj.user_id)

    @admin.display(description="completion rate")
    def rate(self, obj: OnboardingProgress) -> str:
        return f"{obj.completion_rate}%"

    def get_urls(self) -> list[Any]:
        funnel = self.admin_site.admin_view(self.funnel_view)
        return [path("funnel/", funnel, name="onboarding_onboardingprogress_funnel"), *super().get_urls()]

    def funnel_view(self, request: HttpRequest) -> HttpResponse:
        """Per step, how many users completed or skipped it; started, completed and the median times."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Onboarding funnel",
            "funnel": selectors.onboarding_funnel(),
        }
        return TemplateResponse(request, "admin/onboarding/funnel.html", context)
