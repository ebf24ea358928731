from __future__ import annotations

import factory
from django.utils import timezone

from apps.helpcenter.models import Article, Category, Video


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    order = factory.Sequence(lambda n: n)


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    slug = factory.Sequence(lambda n: f"article-{n}")
    title = factory.Sequence(lambda n: f"Article number {n}")
    description = "A short description"
    body = "Some helpful text."
    category = factory.SubFactory(CategoryFactory, slug="basics")
    difficulty = Article.Difficulty.BEGINNER
    status = Article.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)


class VideoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Video

    slug = factory.Sequence(lambda n: f"video-{n}")
    title = factory.Sequence(lambda n: f"Video {n}")
    description = "A video"
    duration = "5:30"
    thumbnail_url = "https://example.com/thumb.jpg"
    video_url = "https://example.com/video.mp4"
    category = factory.SubFactory(CategoryFactory, slug="basics")
