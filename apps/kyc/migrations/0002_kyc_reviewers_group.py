"""KYC reviewers (DESIGN.md section 10) get the KYC models they work with and nothing else: no users' accounts,
no support, no help center. The audit trail is view-only for everyone (the admin refuses edits and deletes)."""

from django.db import migrations

from apps.accounts import group_permissions

GROUP = "KYC reviewers"
MODELS = {
    "kycsubmission": ["view", "change", "view_documents", "decide"],  # the last two: KycSubmission.Meta
    "kycdocument": ["view"],
    "kycauditevent": ["view"],
    "verification": ["view"],
    "amlcase": ["view", "change"],
    "sanctionslist": ["view"],
    "sanctionedaddress": ["view"],
    "providerevent": ["view"],
}



class Migration(migrations.Migration):
    dependencies = [
        ("kyc", "0001_initial"),
        ("accounts", "0002_back_office_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [group_permissions.run_python(app_label="kyc", group=GROUP, models=MODELS)]
