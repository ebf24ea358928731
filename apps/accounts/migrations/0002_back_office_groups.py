"""The back-office groups (DESIGN.md section 10). Their model permissions are added by the migrations of the
apps that own those models (kyc, support, helpcenter)."""

from django.db import migrations

GROUPS = ["KYC reviewers", "Support agents", "Help editors"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in GROUPS:
        Group.objects.get_or_create(name=name)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS, permissions__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_groups, remove_groups)]
