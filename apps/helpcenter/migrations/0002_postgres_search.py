"""PostgreSQL search: pg_trgm (typo-tolerant titles) and a GIN index on the weighted search vector.

Both act on PostgreSQL only; on SQLite (the fresh-machine default) they do nothing. The index lives outside
the model state so SQLite's schema and ``makemigrations --check`` stay unaffected.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from apps.helpcenter.pg_operations import AddPostgresIndex
from apps.helpcenter.search import ARTICLE_SEARCH_VECTOR

SEARCH_INDEX = GinIndex(ARTICLE_SEARCH_VECTOR, name="helpcenter_article_search")
TITLE_TRGM_INDEX = GinIndex(fields=["title"], opclasses=["gin_trgm_ops"], name="helpcenter_article_title_trgm")


class Migration(migrations.Migration):
    dependencies = [("helpcenter", "0001_initial")]

    operations = [
        TrigramExtension(),  # Django's CreateExtension is a no-op on other databases
        AddPostgresIndex("article", SEARCH_INDEX),
        AddPostgresIndex("article", TITLE_TRGM_INDEX),
    ]
