"""Help editors (DESIGN.md section 10) get the help center's models and nothing else: least privilege."""

from django.db import migrations

from apps.accounts import group_permissions

GROUP = "Help editors"
MODELS = {
    "category": ["add", "change", "delete", "view"],
    "article": ["add", "change", "delete", "view"],
    "video": ["add", "change", "delete", "view"],
    "historicalarticle": ["view"],
}




class Migration(migrations.Migration):
    dependencies = [
        ("helpcenter", "0003_revisions_and_related"),
        ("accounts", "0002_back_office_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [group_permissions.run_python(app_label="helpcenter", group=GROUP, models=MODELS)]
