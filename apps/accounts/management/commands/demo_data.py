"""Demo data for `make run`: a back-office admin and wallet users for anvil's well-known development accounts.

The demo wallets sign in exactly as a person would: a nonce, an EIP-4361 message and a signature made with the
(public) development key, verified by the same service the API uses. Safe to run again.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from eth_account import Account
from eth_account.messages import encode_defunct

from apps.accounts import services
from apps.accounts.models import User
from apps.notifications.services import notify

DEV_MNEMONIC = "test test test test test test test test test test test junk"
STAFF = [
    ("editor@engipay.local", "Help editors"),
    ("agent@engipay.local", "Support agents"),
    # Two reviewers: a tier_2 approval needs a second one (four-eyes).
    ("reviewer@engipay.local", "KYC reviewers"),
    ("reviewer2@engipay.local", "KYC reviewers"),
]
ADMIN_EMAIL = "admin@engipay.local"
DEMO_DOMAIN = "demo.engipay.local"


def _siwe_message(*, address: str, nonce: str, chain_id: int) -> str:
    issued = datetime.now(tz=UTC)
    return "\n".join(
        [
            f"{DEMO_DOMAIN} wants you to sign in with your Ethereum account:",
            address,
            "",
            "Sign in to EngiPay (demo data)",
            "",
            f"URI: http://{DEMO_DOMAIN}",
            "Version: 1",
            f"Chain ID: {chain_id}",
            f"Nonce: {nonce}",
            f"Issued At: {issued:%Y-%m-%dT%H:%M:%SZ}",
            f"Expiration Time: {issued + timedelta(minutes=5):%Y-%m-%dT%H:%M:%SZ}",
        ]
    )


class Command(BaseCommand):
    help = "Create the demo admin (credentials printed) and demo wallet users for the local anvil accounts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--wallets", type=int, default=2, help="How many anvil dev accounts (from #1).")

    def handle(self, *args, wallets: int, **options) -> None:
        password = self._admin_password()
        with transaction.atomic():
            admin = User.objects.filter(email=ADMIN_EMAIL).first() or User.objects.create_superuser(
                email=ADMIN_EMAIL, password=password
            )
            admin.set_password(password)
            admin.is_staff = admin.is_superuser = admin.is_email_verified = True
            admin.save()
            admin.groups.set(Group.objects.filter(name__in=["KYC reviewers", "Support agents", "Help editors"]))
            # One member per back-office group, to see each group's least-privilege view of the admin.
            for email, group in STAFF:
                member = User.objects.filter(email=email).first() or User.objects.create_user(email=email)
                member.set_password(password)
                member.is_staff = member.is_email_verified = True
                member.save()
                member.groups.set(Group.objects.filter(name=group))
        self.stdout.write(self.style.SUCCESS(f"Demo admin: {ADMIN_EMAIL} / {password}"))
        for email, group in STAFF:
            self.stdout.write(f"Demo {group.lower()}: {email} / (same password)")
        self._demo_wallets(wallets)

    def _admin_password(self) -> str:
        path = settings.VAR_DIR / "demo-admin-password"
        if path.exists():
            return path.read_text().strip()
        password = secrets.token_urlsafe(12)
        path.write_text(password)
        path.chmod(0o600)
        return password

    def _demo_wallets(self, count: int) -> None:
        chain_ids = [int(c["chain_id"]) for c in settings.CHAINS.values() if c.get("kind") == "evm"]
        if 31337 not in chain_ids:
            self.stdout.write("No local chain (31337) configured: no demo wallets.")
            return
        Account.enable_unaudited_hdwallet_features()
        for index in range(1, count + 1):
            account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
            nonce = services.sign_in_nonce_issue().nonce
            message = _siwe_message(address=account.address, nonce=nonce, chain_id=31337)
            signature = account.sign_message(encode_defunct(text=message)).signature.hex()
            with transaction.atomic():
                user, created = services.wallet_sign_in(
                    wallet_address=account.address,
                    wallet_type="metamask",
                    message=message,
                    signature=signature,
                    request_host=DEMO_DOMAIN,
                )
                if created:
                    notify(
                        user=user,
                        kind="welcome",
                        title="Welcome to EngiPay",
                        message="Your wallet is connected. This is a demo account on the local chain.",
                        data={"wallet_address": account.address},
                    )
            self.stdout.write(f"Demo wallet user #{index}: {account.address} (anvil dev account {index})")
