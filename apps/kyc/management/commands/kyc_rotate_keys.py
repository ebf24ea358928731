"""Re-encrypt every stored KYC document and personal info under the first key of KYC_ENCRYPTION_KEYS.

Rotation: put a new key first in KYC_ENCRYPTION_KEYS (keep the old ones after it), run this, then drop the old keys.
Safe to run again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.kyc.services import documents


class Command(BaseCommand):
    help = "Re-encrypt every stored KYC document and personal info under the first key of KYC_ENCRYPTION_KEYS."

    def handle(self, *args, **options) -> None:
        count = documents.kyc_keys_rotate()
        self.stdout.write(f"Re-encrypted {count} items under the current key.")
