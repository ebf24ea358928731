"""Help editors (DESIGN.md section 10) get the help center's models and nothing else: least privilege."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Help editors"
MODELS = {
    "category": ["add", "change", "delete", "view"],
    "article": ["add", "change", "delete", "view"],
    "video": ["add", "change", "delete", "view"],
    "historicalarticle": ["view"],
}


def _codenames() -> list[str]:
    return [f"{action}_{model}" for model, actions in MODELS.items() for action in actions]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); create this app's now.
    app_config = apps.get_app_config("helpcenter")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="helpcenter", codename__in=_codenames()))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="helpcenter", codename__in=_codenames())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("helpcenter", "0003_revisions_and_related"),
        ("accounts", "0002_back_office_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
