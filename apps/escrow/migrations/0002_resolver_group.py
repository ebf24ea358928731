"""Escrow resolvers decide disputes (DESIGN.md section 10): they see escrows with their events, transitions, the
parties' statements and evidence, and the decision log; they log decisions and prepare resolutions. Nothing else:
no users, no KYC, no support, and no edits of the rows the chain drives."""

from django.db import migrations

from apps.accounts import group_permissions

GROUP = "Escrow resolvers"
MODELS = {
    "escrow": ["view"],
    "escrowevent": ["view"],
    "escrowaction": ["view"],
    "disputestatement": ["view"],
    "disputeevidence": ["view"],
    "disputedecision": ["view", "add"],
}
# Escrow.Meta.permissions: its codename is not "<action>_<model>", so it is granted by name.
CUSTOM = ["resolve_dispute"]


def _custom(apps):
    return apps.get_model("auth", "Permission").objects.filter(content_type__app_label="escrow", codename__in=CUSTOM)


def forward(apps, schema_editor):
    group_permissions.grant(apps, app_label="escrow", group=GROUP, models=MODELS)  # creates the permissions first
    apps.get_model("auth", "Group").objects.get(name=GROUP).permissions.add(*_custom(apps))


def backward(apps, schema_editor):
    group_permissions.revoke(apps, app_label="escrow", group=GROUP, models=MODELS)
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*_custom(apps))
        if not group.permissions.exists():
            group.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("escrow", "0001_initial"),
        ("accounts", "0002_back_office_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forward, backward)]
