from __future__ import annotations

from rest_framework import serializers

from apps.helpcenter.models import Article, Category


class _CategoryField(serializers.CharField):
    def to_internal_value(self, data: object) -> str:
        value = super().to_internal_value(data)
        if value and not Category.objects.filter(slug=value).exists():
            raise serializers.ValidationError(f'Unknown category "{value}".')
        return value


class ArticleListInput(serializers.Serializer):
    search = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    category = _CategoryField(max_length=50, required=False, allow_blank=True, default="")
    difficulty = serializers.ChoiceField(choices=Article.Difficulty.choices, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    offset = serializers.IntegerField(min_value=0, default=0)


class VideoListInput(serializers.Serializer):
    category = _CategoryField(max_length=50, required=False, allow_blank=True, default="")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    offset = serializers.IntegerField(min_value=0, default=0)


class VoteInput(serializers.Serializer):
    helpful = serializers.BooleanField()


class ArticleOutput(serializers.Serializer):
    id = serializers.CharField(source="slug")
    title = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField(source="category.slug")
    difficulty = serializers.CharField()
    read_time = serializers.CharField(help_text='Estimated at 200 words a minute, e.g. "5 min".')
    content = serializers.CharField(source="body", help_text="The article in Markdown.")
    views = serializers.IntegerField()
    helpful_votes = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ArticleSummaryOutput(serializers.Serializer):
    id = serializers.CharField(source="slug")
    title = serializers.CharField()
    description = serializers.CharField()
    difficulty = serializers.CharField()
    read_time = serializers.CharField()


class ArticleDetailOutput(ArticleOutput):
    not_helpful_votes = serializers.IntegerField()
    content_html = serializers.CharField(help_text="The content rendered to sanitised HTML.")
    published_at = serializers.DateTimeField(allow_null=True)
    related_articles = ArticleSummaryOutput(many=True, help_text="Up to 3 from the same category.")


class ArticlePageOutput(serializers.Serializer):
    articles = ArticleOutput(many=True)
    total_count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField()
    categories = serializers.ListField(child=serializers.CharField(), help_text="Every category slug.")


class VoteOutput(serializers.Serializer):
    id = serializers.CharField()
    helpful_votes = serializers.IntegerField()
    not_helpful_votes = serializers.IntegerField()
    your_vote = serializers.BooleanField(allow_null=True, help_text="true helpful, false not helpful.")


class VideoOutput(serializers.Serializer):
    id = serializers.CharField(source="slug")
    title = serializers.CharField()
    description = serializers.CharField()
    duration = serializers.CharField(help_text='"m:ss"')
    thumbnail_url = serializers.CharField()
    video_url = serializers.CharField()
    category = serializers.CharField(source="category.slug")
    views = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class VideoPageOutput(serializers.Serializer):
    videos = VideoOutput(many=True)
    total_count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField()


class CategoryOutput(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    article_count = serializers.IntegerField(help_text="Published articles in the category.")


class CategoryListOutput(serializers.Serializer):
    categories = CategoryOutput(many=True)
