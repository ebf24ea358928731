"""PostgreSQL search: pg_trgm (typo-tolerant titles) and a GIN index on the weighted search vector.

Both act on PostgreSQL only; on SQLite (the fresh-machine default) they do nothing. The index lives outside
the model state so SQLite's schema and ``makemigrations --check`` stay unaffected.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from apps.helpcenter.search import ARTICLE_SEARCH_VECTOR

SEARCH_INDEX = GinIndex(ARTICLE_SEARCH_VECTOR, name="helpcenter_article_search")
TITLE_TRGM_INDEX = GinIndex(fields=["title"], opclasses=["gin_trgm_ops"], name="helpcenter_article_title_trgm")


class AddPostgresIndex(migrations.operations.base.Operation):
    """Add an index on PostgreSQL only, without touching the migration state."""

    reversible = True

    def __init__(self, model_name: str, index) -> None:
        self.model_name = model_name
        self.index = index

    def state_forwards(self, app_label, state) -> None:
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(to_state.apps.get_model(app_label, self.model_name), self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(from_state.apps.get_model(app_label, self.model_name), self.index)

    def describe(self) -> str:
        return f"Add PostgreSQL index {self.index.name} on {self.model_name}"

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name, "index": self.index}


class Migration(migrations.Migration):
    dependencies = [("helpcenter", "0001_initial")]

    operations = [
        TrigramExtension(),  # Django's CreateExtension is a no-op on other databases
        AddPostgresIndex("article", SEARCH_INDEX),
        AddPostgresIndex("article", TITLE_TRGM_INDEX),
    ]
