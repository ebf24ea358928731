"""The support teams EngiPay starts with, their routing (ticket categories) and first-response SLAs in minutes.
Editable afterwards in the admin."""

from django.db import migrations

TEAMS = [
    # slug, name, categories, (urgent, high, medium, low)
    ("general", "General support", ["feedback", "other"], (60, 240, 720, 1440)),
    ("technical", "Technical support", ["technical", "wallet"], (60, 240, 480, 1440)),
    ("payments", "Payments and transactions", ["transaction", "payments", "swaps", "defi", "billing"], (30, 120, 480, 1440)),
    ("trust-safety", "Trust and safety", ["security", "funds_at_risk"], (15, 60, 240, 720)),
    ("accounts", "Accounts and verification", ["account", "kyc"], (60, 240, 720, 2880)),
]  # fmt: skip


def create(apps, schema_editor):
    Team = apps.get_model("support", "Team")
    for slug, name, categories, (urgent, high, medium, low) in TEAMS:
        Team.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "categories": categories,
                "sla_urgent_minutes": urgent,
                "sla_high_minutes": high,
                "sla_medium_minutes": medium,
                "sla_low_minutes": low,
            },
        )


def remove(apps, schema_editor):
    apps.get_model("support", "Team").objects.filter(slug__in=[t[0] for t in TEAMS], tickets__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
