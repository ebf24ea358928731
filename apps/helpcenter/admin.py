from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_POST
from simple_history.admin import SimpleHistoryAdmin

from . import services
from .models import Article, Category, Video
from .rendering import render_markdown
from .widgets import MarkdownEditor


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "order"]
    list_editable = ["order"]
    ordering = ["order", "slug"]


class ViewsFilter(admin.SimpleListFilter):
    title = "views"
    parameter_name = "views"
    RANGES = {"0": (0, 0), "1-99": (1, 99), "100-999": (100, 999), "1000+": (1000, None)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, key) for key in self.RANGES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> QuerySet[Article]:
        if self.value() not in self.RANGES:
            return queryset
        low, high = self.RANGES[self.value()]
        queryset = queryset.filter(views__gte=low)
        return queryset if high is None else queryset.filter(views__lte=high)


class HelpfulnessFilter(admin.SimpleListFilter):
    title = "helpfulness"
    parameter_name = "helpfulness"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("helpful", "Mostly helpful"),
            ("unhelpful", "Mostly not helpful (needs work)"),
            ("none", "No votes yet"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> QuerySet[Article]:
        if self.value() == "helpful":
            return queryset.filter(helpful_votes__gt=F("not_helpful_votes"))
        if self.value() == "unhelpful":
            return queryset.filter(not_helpful_votes__gte=F("helpful_votes")).exclude(not_helpful_votes=0)
        if self.value() == "none":
            return queryset.filter(Q(helpful_votes=0) & Q(not_helpful_votes=0))
        return queryset


FIGURES = ["views", "helpful_votes", "not_helpful_votes", "published_at", "created_at", "updated_at"]


class ArticleForm(forms.ModelForm):
    revision_note = forms.CharField(
        required=False, max_length=100, help_text="Optional: what changed, shown in the article's history."
    )

    class Meta:
        model = Article
        fields = ["title", "slug", "description", "category", "difficulty", "status", "body", "related"]
        widgets = {"body": MarkdownEditor()}

    def clean_related(self):
        related = self.cleaned_data["related"]
        if self.instance.pk and related.filter(pk=self.instance.pk).exists():
            raise forms.ValidationError("An article cannot be related to itself.")
        return related

    def clean_body(self) -> str:
        # Browsers submit textareas with CRLF line ends; the API serves the markdown with plain newlines.
        return self.cleaned_data["body"].replace("\r\n", "\n").replace("\r", "\n")


@admin.register(Article)
class ArticleAdmin(SimpleHistoryAdmin):
    form = ArticleForm
    list_display = ["title", "category", "difficulty", "status", "published_at", "views", "helpful_votes",
                    "not_helpful_votes"]  # fmt: skip
    list_filter = ["status", "category", "difficulty", ViewsFilter, HelpfulnessFilter]
    search_fields = ["title", "description", "body", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["read_time", *FIGURES]
    autocomplete_fields = ["related"]
    list_select_related = ["category"]
    ordering = ["category__order", "title"]
    actions = ["publish", "unpublish", "archive"]
    history_list_display = ["status"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "category", "difficulty", "status"]}),
        ("Content", {"fields": ["body", "revision_note", "read_time"]}),
        ("Related articles", {"fields": ["related"]}),
        ("Figures", {"fields": FIGURES}),
    ]

    def get_urls(self) -> list[Any]:
        preview = self.admin_site.admin_view(require_POST(self.preview_view))
        return [path("preview/", preview, name="helpcenter_article_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """Render markdown exactly as the API does, for the editor's live preview."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        return JsonResponse({"html": render_markdown(request.POST.get("body", ""))})

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context=None):
        """simple-history's revert page: the old revision's content in the editor; saving it restores it."""
        # simple-history lets "view" permission POST the revert form; restoring is a change, and all of it or nothing.
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied
        request.helpcenter_restoring = version_id
        with transaction.atomic():
            return super().history_form_view(request, object_id, version_id, extra_context)

    def save_model(self, request: HttpRequest, obj: Article, form: forms.ModelForm, change: bool) -> None:
        restoring = getattr(request, "helpcenter_restoring", None)
        default = f"Restored revision {restoring}" if restoring else ("Edited" if change else "Created")
        obj._change_reason = form.cleaned_data.get("revision_note") or default
        services.article_stamp_published(article=obj)
        super().save_model(request, obj, form, change)

    @admin.action(description="Publish selected articles", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        count = services.articles_set_status(articles=queryset, status=Article.Status.PUBLISHED)
        self.message_user(request, f"{count} article(s) published.")

    @admin.action(description="Unpublish (back to draft)", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        count = services.articles_set_status(articles=queryset, status=Article.Status.DRAFT)
        self.message_user(request, f"{count} article(s) back to draft.")

    @admin.action(description="Archive selected articles", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        count = services.articles_set_status(articles=queryset, status=Article.Status.ARCHIVED)
        self.message_user(request, f"{count} article(s) archived.")


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "duration", "views", "is_published", "created_at"]
    list_filter = ["is_published", "category"]
    search_fields = ["title", "description"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["views", "created_at"]
    list_select_related = ["category"]
