"""Migration operations that act on PostgreSQL only and leave the model state alone (0002 and 0005): the search
indexes and columns live outside the models, so SQLite and ``makemigrations --check`` never see them."""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations


class AddPostgresIndex(migrations.operations.base.Operation):
    reversible = True
    adds = True

    def __init__(self, model_name: str, index: GinIndex) -> None:
        self.model_name = model_name
        self.index = index

    def state_forwards(self, app_label, state) -> None:
        pass

    def _apply(self, add: bool, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        if add:
            schema_editor.add_index(to_state.apps.get_model(app_label, self.model_name), self.index)
        else:
            schema_editor.remove_index(from_state.apps.get_model(app_label, self.model_name), self.index)

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        self._apply(self.adds, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        self._apply(not self.adds, app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"{'Add' if self.adds else 'Remove'} PostgreSQL index {self.index.name} on {self.model_name}"

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name, "index": self.index}


class RemovePostgresIndex(AddPostgresIndex):
    """Remove an index added outside the state (and add it back on the way back)."""

    adds = False


class RunPostgresSQL(migrations.RunSQL):
    """RunSQL on PostgreSQL only; the state is untouched."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
