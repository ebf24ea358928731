from django.contrib import admin

from . import services
from .models import Article, Category, Video


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "order"]
    list_editable = ["order"]
    ordering = ["order", "slug"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "difficulty", "status", "views", "helpful_votes", "not_helpful_votes"]
    list_filter = ["status", "category", "difficulty"]
    search_fields = ["title", "description", "body"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["views", "helpful_votes", "not_helpful_votes", "created_at", "updated_at"]
    list_select_related = ["category"]
    ordering = ["category__order", "title"]
    actions = ["publish", "unpublish", "archive"]

    @admin.action(description="Publish selected articles")
    def publish(self, request, queryset) -> None:
        count = services.articles_set_status(articles=queryset, status=Article.Status.PUBLISHED)
        self.message_user(request, f"{count} article(s) published.")

    @admin.action(description="Unpublish (back to draft)")
    def unpublish(self, request, queryset) -> None:
        count = services.articles_set_status(articles=queryset, status=Article.Status.DRAFT)
        self.message_user(request, f"{count} article(s) back to draft.")

    @admin.action(description="Archive selected articles")
    def archive(self, request, queryset) -> None:
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
