"""Demo KYC data for `make run`: the demo sanctions list, and identity submissions of the demo wallet users made
through the same services the API uses — the first demo wallet verified at tier_1 by the demo reviewer, the second
one waiting in the reviewers' queue. The documents are generated SPECIMEN images. Safe to run again."""

from __future__ import annotations

import base64
import io
from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from PIL import Image, ImageDraw

from apps.accounts.models import User
from apps.kyc.models import KycSubmission
from apps.kyc.services.review import kyc_submission_approve
from apps.kyc.services.sanctions import sanctions_list_import
from apps.kyc.services.submissions import kyc_submission_create

REVIEWER_EMAIL = "reviewer@engipay.local"
DEMO_SDN = settings.BASE_DIR / "fixtures" / "sanctions" / "sdn_demo.csv"
PEOPLE = [
    ("Dana Demo", date(1988, 4, 12), "1 Specimen Street, Demo City, Utopia", True),
    ("Sam Sample", date(1995, 9, 30), "22 Example Road, Testville, Utopia", False),
]


def _specimen(title: str, name: str, size: tuple[int, int], color: tuple[int, int, int]) -> str:
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    draw.rectangle([12, 12, size[0] - 12, size[1] - 12], outline=(255, 255, 255), width=4)
    draw.text((40, 40), title, fill=(255, 255, 255))
    draw.text((40, 80), name, fill=(255, 255, 255))
    draw.text((40, size[1] - 60), "SPECIMEN - EngiPay demo data", fill=(255, 220, 120))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


class Command(BaseCommand):
    help = "Load the demo sanctions list and demo identity submissions (run demo_data first)."

    def handle(self, *args: Any, **options: Any) -> None:
        if DEMO_SDN.exists():
            sanctions, created = sanctions_list_import(path=DEMO_SDN)
            self.stdout.write(
                f"Demo sanctions list {sanctions.sha256[:12]}: {sanctions.address_count} addresses "
                f"({'imported' if created else 'already there'})."
            )
        reviewer = User.objects.filter(email=REVIEWER_EMAIL).first()
        wallet_users = list(User.objects.filter(email__isnull=True, wallets__isnull=False).order_by("created_at")[:2])
        for user, (name, born, address, approve) in zip(wallet_users, PEOPLE, strict=False):
            if KycSubmission.objects.filter(user=user).exists():
                continue
            submission = kyc_submission_create(
                user=user,
                document_type="passport",
                personal_info={"full_name": name, "date_of_birth": born, "address": address},
                files={
                    "document_image": _specimen("PASSPORT", name, (900, 600), (30, 60, 120)),
                    "selfie_image": _specimen("SELFIE", name, (480, 640), (90, 90, 90)),
                },
            )
            if approve and reviewer is not None:
                submission = kyc_submission_approve(submission=submission, reviewer=reviewer, note="Demo data.")
            self.stdout.write(f"Demo KYC submission {submission.pk} for {name}: {submission.status}.")
