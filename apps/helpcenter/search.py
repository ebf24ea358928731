"""PostgreSQL search: the weighted search vector and the spelling corrections (migrations 0002 and 0005)."""

from __future__ import annotations

from typing import NamedTuple

from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import connection
from django.db.models import Expression

# Title A, description B, body C. 0005 stores exactly this in helpcenter_article.search_vector (a generated
# column with a GIN index); 0002 indexed the expression itself.
ARTICLE_SEARCH_VECTOR = (
    SearchVector("title", weight="A", config="english")
    + SearchVector("description", weight="B", config="english")
    + SearchVector("body", weight="C", config="english")
)


class StoredVector(Expression):
    """A search vector column of the article table that the model does not declare (SQLite has none; 0005 adds
    them on PostgreSQL): read, never recomputed per row. Named through the query's own alias for the table."""

    output_field = SearchVectorField()

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        table = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        return f"{table}.{connection.ops.quote_name(self.column)}", []


STORED_SEARCH_VECTOR = StoredVector("search_vector")
TITLE_SEARCH_VECTOR = StoredVector("search_title_vector")

# One round trip for all the terms of a query: is it an English stop word (the search ignores those), and, for a
# term of 4+ letters that is neither a word of the published articles nor the start of one, the most similar
# word (pg_trgm `%`: trigram similarity >= 0.3, through the trigram index). Shorter words have too many neighbours.
_TERMS = """
SELECT
    t.term,
    to_tsvector('english', t.term) = ''::tsvector,
    CASE WHEN t.term ~ '^[[:alpha:]]{4,}$'
        AND NOT EXISTS (SELECT 1 FROM helpcenter_search_word w WHERE w.word LIKE t.term || '%%')
    THEN (
        SELECT w.word FROM helpcenter_search_word w
        WHERE w.word %% t.term
        ORDER BY similarity(w.word, t.term) DESC, w.word
        LIMIT 1
    ) END
FROM unnest(%s::text[]) WITH ORDINALITY AS t(term, n)
ORDER BY t.n
"""


class SearchTerm(NamedTuple):
    text: str
    stop_word: bool
    correction: str | None  # "recieve" -> "receive"


def search_terms(terms: list[str]) -> list[SearchTerm]:
    with connection.cursor() as cursor:
        cursor.execute(_TERMS, [terms])
        return [SearchTerm(*row) for row in cursor.fetchall()]
