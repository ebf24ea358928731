from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.shortcuts import get_object_or_404

from .models import Article, Category, Video

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
    """Words and word prefixes in the title, description and body, a misspelt word replaced by the nearest word
    of the articles. Ranked: all the words in the title in the query's order first, then all of them in the title
    in any order, then the weighted text rank."""
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorExact

    from .search import STORED_SEARCH_VECTOR, TITLE_SEARCH_VECTOR, search_terms

    looked_up = search_terms(terms)
    # Terms come from \w+ only and corrections are letters only, so the raw tsqueries carry no operators.
    words = [f"{term.correction or term.text}:*" for term in looked_up]
    meaningful = [word for word, term in zip(words, looked_up, strict=True) if not term.stop_word]
    every = SearchQuery(" & ".join(words), search_type="raw", config="english")
    query = SearchQuery(search, search_type="websearch", config="english") | every
    in_order = every
    if len(meaningful) > 1:  # each word followed by the next one, at most two other words between them
        in_order = SearchQuery(
            " & ".join(f"({a} <1> {b} | {a} <2> {b} | {a} <3> {b})" for a, b in pairwise(meaningful)),
            search_type="raw",
            config="english",
        )
    title_match = Case(
        When(SearchVectorExact(TITLE_SEARCH_VECTOR, in_order), then=Value(2)),
        When(SearchVectorExact(TITLE_SEARCH_VECTOR, every), then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        qs.filter(SearchVectorExact(STORED_SEARCH_VECTOR, query))  # the stored column (and its GIN index)
        .annotate(
            title_match=title_match,
            rank=SearchRank(STORED_SEARCH_VECTOR, query, weights=[0.1, 0.2, 0.4, 1.0]),
        )
        .order_by("-title_match", "-rank", "slug")
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
    picks = published_articles().filter(pk__in=article.related.values("pk")).exclude(pk=article.pk)
    chosen = list(picks.order_by("-views", "slug")[:limit])
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
