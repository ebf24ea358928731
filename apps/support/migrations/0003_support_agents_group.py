"""Support agents (DESIGN.md section 10) get the support models they work with and nothing else: no users, no KYC,
no help center. Teams and SLAs are read-only for them (a superuser edits those)."""

from django.db import migrations

from apps.accounts import group_permissions

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




class Migration(migrations.Migration):
    dependencies = [
        ("support", "0002_default_teams"),
        ("accounts", "0002_back_office_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [group_permissions.run_python(app_label="support", group=GROUP, models=MODELS)]
