"""The PostgreSQL search vector, shared by the query and the GIN index migration (they must match)."""

from __future__ import annotations

from django.contrib.postgres.search import SearchVector

ARTICLE_SEARCH_VECTOR = (
    SearchVector("title", weight="A", config="english")
    + SearchVector("description", weight="B", config="english")
    + SearchVector("body", weight="C", config="english")
)
