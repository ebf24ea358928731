from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.shortcuts import get_object_or_404

from .models import Article, Category, Video

TRIGRAM_THRESHOLD = 0.2
_TERM = re.compile(r"\w+", re.UNICODE)


def published_articles() -> QuerySet[Article]:
    return Article.objects.select_related("category").filter(status=Article.Status.PUBLISHED)


def category_slugs() -> list[str]:
    return list(Category.objects.values_list("slug", flat=True))


def article_list(*, search: str = "", category: str = "", difficulty: str = "") -> QuerySet[Article]:
    qs = published_articles()
    if category:
        qs = qs.filter(category__slug=category)
    if difficulty:
        qs = qs.filter(difficulty=difficulty)
    terms = _TERM.findall(search.lower())
    if not terms:
        return qs.order_by("category__order", "-views", "slug")
    if connection.vendor == "postgresql":
        return _search_postgres(qs, search=search, terms=terms)
    return _search_substring(qs, terms=terms)


def _search_postgres(qs: QuerySet[Article], *, search: str, terms: list[str]) -> QuerySet[Article]:
    from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity

    from .search import ARTICLE_SEARCH_VECTOR

    # Terms come from \w+ only, so the raw tsquery below cannot carry tsquery operators.
    prefix = SearchQuery(" & ".join(f"{term}:*" for term in terms), search_type="raw", config="english")
    query = SearchQuery(search, search_type="websearch", config="english") | prefix
    return (
        qs.annotate(
            document=ARTICLE_SEARCH_VECTOR,  # the same expression as the GIN index, so `@@` can use it
            rank=SearchRank(ARTICLE_SEARCH_VECTOR, query, weights=[0.1, 0.2, 0.4, 1.0]),
            similarity=TrigramSimilarity("title", search),
        )
        .filter(Q(document=query) | Q(similarity__gte=TRIGRAM_THRESHOLD))
        .order_by("-rank", "-similarity", "slug")
    )


def _search_substring(qs: QuerySet[Article], *, terms: list[str]) -> QuerySet[Article]:
    for term in terms:
        qs = qs.filter(Q(title__icontains=term) | Q(description__icontains=term) | Q(body__icontains=term))
    title_hits = Q()
    for term in terms:
        title_hits |= Q(title__icontains=term)
    return qs.annotate(
        title_hit=Case(When(title_hits, then=Value(1)), default=Value(0), output_field=IntegerField())
    ).order_by("-title_hit", "-views", "slug")


def article_get_published(*, slug: str) -> Article:
    return get_object_or_404(published_articles(), slug=slug)


def article_related(*, article: Article, limit: int = 3) -> list[Article]:
    """The editors' picks (published ones) first, then the most read of the same category."""
    chosen = list(published_articles().filter(pk__in=article.related.values("pk")).order_by("-views", "slug")[:limit])
    if len(chosen) < limit:
        same = (
            published_articles().filter(category=article.category).exclude(pk__in=[article.pk, *[a.pk for a in chosen]])
        )
        chosen += list(same.order_by("-views", "slug")[: limit - len(chosen)])
    return chosen


def video_list(*, category: str = "") -> QuerySet[Video]:
    qs = Video.objects.select_related("category").filter(is_published=True)
    if category:
        qs = qs.filter(category__slug=category)
    return qs.order_by("category__order", "title", "id")


def category_list() -> list[dict[str, Any]]:
    published = Q(articles__status=Article.Status.PUBLISHED)
    qs = Category.objects.annotate(article_count=Count("articles", filter=published)).order_by("order", "slug")
    return [{"id": c.slug, "name": c.name, "article_count": c.article_count} for c in qs]
