"""Model permissions of the back-office groups (DESIGN.md section 10), granted by the migrations of the apps that
own the models. Kept small and stable: historical migrations import it."""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations


def codenames(models: dict[str, list[str]]) -> list[str]:
    """``{"ticket": ["view", "change"]}`` → ``["view_ticket", "change_ticket"]``."""
    return [f"{action}_{model}" for model, actions in models.items() for action in actions]


def _permissions(apps, app_label: str, models: dict[str, list[str]]):
    return apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label=app_label, codename__in=codenames(models)
    )


def grant(apps, *, app_label: str, group: str, models: dict[str, list[str]]) -> None:
    # Permissions are normally created after all migrations (post_migrate); create this app's now.
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    found, _ = apps.get_model("auth", "Group").objects.get_or_create(name=group)
    found.permissions.add(*_permissions(apps, app_label, models))


def revoke(apps, *, app_label: str, group: str, models: dict[str, list[str]]) -> None:
    found = apps.get_model("auth", "Group").objects.filter(name=group).first()
    if found is not None:
        found.permissions.remove(*_permissions(apps, app_label, models))


def run_python(*, app_label: str, group: str, models: dict[str, list[str]]) -> migrations.RunPython:
    """The migration operation that grants ``models``' permissions to ``group`` (and revokes them backwards)."""

    def forward(apps, schema_editor):
        grant(apps, app_label=app_label, group=group, models=models)

    def backward(apps, schema_editor):
        revoke(apps, app_label=app_label, group=group, models=models)

    return migrations.RunPython(forward, backward)
