"""PostgreSQL search, faster and typo tolerant in every field (PostgreSQL only; nothing happens on SQLite).

- ``helpcenter_article.search_vector``: 0002's weighted search vector, stored (a generated column) with a GIN
  index, and ``search_title_vector``, the title's alone. Matching and ranking read them instead of parsing every
  article again, and rows up to 8 kB now stay whole (``toast_tuple_target``), so the vectors are read in place.
  On 2,000 articles a search took 0.7 to 1.4 s; now 2 to 10 ms. They replace 0002's expression index and its
  title trigram index.
- ``helpcenter_search_word``: every word (3+ letters) of the published articles, with a trigram index; a
  misspelt search term is replaced by the nearest word ("recieve" -> "receive"). A trigger adds the words of an
  article saved published (sorted, so two saves never deadlock). Words are never removed: an old word only costs
  a correction that then matches nothing.

Like 0002, all of it lives outside the model state, so SQLite and ``makemigrations --check`` are unaffected.
"""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

from apps.helpcenter.pg_operations import RemovePostgresIndex, RunPostgresSQL
from apps.helpcenter.search import ARTICLE_SEARCH_VECTOR

OLD_SEARCH_INDEX = GinIndex(ARTICLE_SEARCH_VECTOR, name="helpcenter_article_search")
OLD_TITLE_TRGM_INDEX = GinIndex(fields=["title"], opclasses=["gin_trgm_ops"], name="helpcenter_article_title_trgm")

STORED_VECTOR = [
    # Keep rows up to 8 kB whole (the default moves any field out of the row past 2 kB): filtering and ranking then
    # read the vector in place instead of fetching it from the TOAST table for every article (3x faster).
    # Set first, so that the rewrite below already applies it.
    "ALTER TABLE helpcenter_article SET (toast_tuple_target = 8160)",
    """
    ALTER TABLE helpcenter_article ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, COALESCE(description, '')), 'B')
        || setweight(to_tsvector('english'::regconfig, COALESCE(body, '')), 'C')
    ) STORED
    """,
    "CREATE INDEX helpcenter_article_search_vector ON helpcenter_article USING gin (search_vector)",
    """
    ALTER TABLE helpcenter_article ADD COLUMN search_title_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('english'::regconfig, COALESCE(title, ''))
    ) STORED
    """,
]
DROP_STORED_VECTOR = [  # the index goes with its column
    "ALTER TABLE helpcenter_article DROP COLUMN search_title_vector",
    "ALTER TABLE helpcenter_article DROP COLUMN search_vector",
    "ALTER TABLE helpcenter_article RESET (toast_tuple_target)",
]

WORDS = [
    "CREATE TABLE helpcenter_search_word (word text PRIMARY KEY)",
    "CREATE INDEX helpcenter_search_word_trgm ON helpcenter_search_word USING gin (word gin_trgm_ops)",
    """
    CREATE FUNCTION helpcenter_search_word_collect() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO helpcenter_search_word (word)
        SELECT lexeme FROM unnest(to_tsvector('simple', concat_ws(' ', NEW.title, NEW.description, NEW.body)))
        WHERE lexeme ~ '^[[:alpha:]]{3,}$'
        ORDER BY lexeme
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER helpcenter_search_word_collect
        AFTER INSERT OR UPDATE OF title, description, body, status ON helpcenter_article
        FOR EACH ROW WHEN (NEW.status = 'published') EXECUTE FUNCTION helpcenter_search_word_collect()
    """,
    """
    INSERT INTO helpcenter_search_word (word)
    SELECT DISTINCT lexeme
    FROM helpcenter_article, unnest(to_tsvector('simple', concat_ws(' ', title, description, body)))
    WHERE status = 'published' AND lexeme ~ '^[[:alpha:]]{3,}$'
    """,
]
DROP_WORDS = [
    "DROP TRIGGER helpcenter_search_word_collect ON helpcenter_article",
    "DROP FUNCTION helpcenter_search_word_collect()",
    "DROP TABLE helpcenter_search_word",
]


class Migration(migrations.Migration):
    dependencies = [
        ("helpcenter", "0004_help_editors_permissions"),
    ]

    operations = [
        RunPostgresSQL(STORED_VECTOR, DROP_STORED_VECTOR),
        RemovePostgresIndex("article", OLD_SEARCH_INDEX),
        RemovePostgresIndex("article", OLD_TITLE_TRGM_INDEX),
        RunPostgresSQL(WORDS, DROP_WORDS),
    ]
