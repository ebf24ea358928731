from __future__ import annotations

import math

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

WORDS_PER_MINUTE = 200


class Category(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    class Difficulty(models.TextChoices):
        BEGINNER = "Beginner"
        INTERMEDIATE = "Intermediate"
        ADVANCED = "Advanced"

    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"
        ARCHIVED = "archived"

    slug = models.SlugField(max_length=100, unique=True, help_text="The article's id in the API.")
    title = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True, help_text="Markdown.")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    difficulty = models.CharField(max_length=12, choices=Difficulty.choices, default=Difficulty.BEGINNER)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    related = models.ManyToManyField(
        "self",
        blank=True,
        symmetrical=False,
        related_name="+",
        help_text="Shown first under the article; the rest of the three come from its category.",
    )
    views = models.PositiveIntegerField(default=0)
    helpful_votes = models.PositiveIntegerField(default=0)
    not_helpful_votes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Revision history (django-simple-history): every save through the admin or a service keeps a copy; the
    # counters change with queryset updates, which keep no revision.
    history = HistoricalRecords(
        excluded_fields=["views", "helpful_votes", "not_helpful_votes", "created_at", "updated_at"],
        verbose_name="article revision",
    )

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def read_time(self) -> str:
        words = len(self.body.split())
        return f"{max(1, math.ceil(words / WORDS_PER_MINUTE))} min"


class ArticleVote(models.Model):
    """One vote per signed-in user, or per anonymous visitor (a hash of IP and User-Agent)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    visitor = models.CharField(max_length=64, blank=True)
    helpful = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "user"], condition=models.Q(user__isnull=False), name="helpcenter_vote_one_per_user"
            ),
            models.UniqueConstraint(
                fields=["article", "visitor"],
                condition=models.Q(user__isnull=True),
                name="helpcenter_vote_one_per_visitor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id}: {'helpful' if self.helpful else 'not helpful'}"


class Video(models.Model):
    slug = models.SlugField(max_length=100, unique=True, help_text="The video's id in the API.")
    title = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    duration = models.CharField(max_length=8, help_text='"m:ss"')
    thumbnail_url = models.URLField(max_length=500, blank=True)
    video_url = models.URLField(max_length=500)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="videos")
    views = models.PositiveIntegerField(default=0)
    is_published = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["category__order", "title", "id"]

    def __str__(self) -> str:
        return self.title
