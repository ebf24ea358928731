"""Support agents (DESIGN.md section 10) get the support models they work with and nothing else: no users, no KYC,
no help center. Teams and SLAs are read-only for them (a superuser edits those)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Support agents"
MODELS = {
    "ticket": ["view", "change"],
    "ticketmessage": ["add", "view"],
    "attachment": ["view"],
    "macro": ["add", "change", "delete", "view"],
    "team": ["view"],
    "agentprofile": ["view", "change"],
    "chatsession": ["view", "change"],
    "chatmessage": ["view"],
}


def _codenames() -> list[str]:
    return [f"{action}_{model}" for model, actions in MODELS.items() for action in actions]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); create this app's now.
    app_config = apps.get_app_config("support")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="support", codename__in=_codenames()))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="support", codename__in=_codenames())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0002_default_teams"),
        ("accounts", "0002_back_office_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
