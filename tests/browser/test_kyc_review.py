"""A KYC reviewer in a real browser against a real ASGI server: a user submits identity documents through the API
with their notifications websocket open; the reviewer opens the queue, opens the pending submission, the document
and the selfie load (decrypted by the audited document view), approves it; the user's status and limits change
and their websocket receives the ``kyc_verified`` notification."""

from __future__ import annotations

import base64
import importlib
import io
import re

import httpx
import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group, Permission
from PIL import Image

from apps.accounts import group_permissions
from apps.accounts.models import User
from apps.kyc.models import KycAuditEvent, KycSubmission
from tests.browser.conftest import _chromium_page
from tests.browser.helpers import UserSocket

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "browser-test-password-1"


def _image_b64(width: int, height: int, fmt: str, color: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def kyc_server(monkeypatch, settings, tmp_path, request) -> str:
    """The ASGI server with its own private document root and encryption key (the server reads its settings
    from the environment, so they are set before it starts; asgi_server is requested only then)."""
    monkeypatch.setenv("KYC_PRIVATE_ROOT", str(tmp_path / "kyc-private"))
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("KYC_ENCRYPTION_KEYS", key)
    settings.KYC_ENCRYPTION_KEYS = [key]  # this process reads the submission the server stored
    monkeypatch.setenv("KYC_PROVIDER", "manual")
    return request.getfixturevalue("asgi_server")


@pytest.fixture
def kyc_reviewer(settings) -> User:
    # A transactional test starts from a flushed database: put back what the migration gave the group (the
    # migration itself is checked in apps/kyc/tests/test_admin.py through the group's behaviour).
    migration = importlib.import_module("apps.kyc.migrations.0002_kyc_reviewers_group")
    group, _ = Group.objects.get_or_create(name=migration.GROUP)
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="kyc", codename__in=group_permissions.codenames(migration.MODELS)
        )
    )
    # The server process only knows the default hashers, not the tests' fast MD5 one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    reviewer = User.objects.create_user(email="reviewer@example.com", password=PASSWORD)
    reviewer.is_staff = True
    reviewer.save()
    reviewer.groups.add(group)
    return reviewer


@pytest.mark.timeout(300)  # a cold uvicorn import and the browser take a while on a busy machine
def test_reviewer_opens_a_pending_submission_views_the_documents_and_approves_it(
    kyc_server, kyc_reviewer, make_user, monkeypatch, settings
):
    base = kyc_server
    alice = make_user()
    bearer = {"Authorization": f"Bearer {alice.auth['token']}"}
    notifications = UserSocket(base, "/ws/notifications/", alice.auth["token"])
    try:
        notifications.wait_for(lambda e: e["type"] == "authenticated", timeout=15)

        # The user submits through the real API.
        body = {
            "document_type": "passport",
            "document_image": _image_b64(640, 400, "PNG", (10, 20, 30)),
            "selfie_image": _image_b64(480, 640, "PNG", (200, 150, 120)),
            "personal_info": {"full_name": "Ada Lovelace", "date_of_birth": "1990-01-01", "address": "12 Main St"},
        }
        submitted = httpx.post(f"{base}/api/users/kyc/submit", json=body, headers=bearer, timeout=30)
        assert submitted.status_code == 201, submitted.text
        kyc_id = submitted.json()["kyc_id"]
        before = httpx.get(f"{base}/api/users/kyc/status", headers=bearer, timeout=10).json()
        assert (before["status"], before["verification_level"]) == ("pending", "tier_0")

        with _chromium_page(monkeypatch) as page:
            # The reviewer signs in and opens the queue, then the pending submission.
            page.goto(f"{base}/admin/login/?next=/admin/")
            page.fill("#id_username", kyc_reviewer.email)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"{base}/admin/")
            page.goto(f"{base}/admin/kyc/kycsubmission/?status__exact=pending")
            row = page.locator("#result_list tbody tr", has_text=kyc_id)
            assert row.locator(".field-status").inner_text() == "Pending"
            row.locator(f"a:text-is('{kyc_id}')").click()
            page.wait_for_url(re.compile(rf"/admin/kyc/kycsubmission/{re.escape(quote(kyc_id))}/change/(\?.*)?$"))

            # Side by side: the document, the selfie (decrypted by the audited view) and the typed info.
            for kind in ("document", "selfie"):
                page.wait_for_function(
                    "id => { const img = document.getElementById(id); return img && img.complete; }",
                    arg=f"kyc-image-{kind}",
                )
                width = page.evaluate(f"document.getElementById('kyc-image-{kind}').naturalWidth")
                assert width > 0, kind
            assert page.evaluate("document.getElementById('kyc-image-document').naturalWidth") == 640
            assert page.evaluate("document.getElementById('kyc-image-selfie').naturalHeight") == 640
            assert page.locator("#kyc-personal-info .pi-full-name").inner_text() == "Ada Lovelace"
            assert page.evaluate("getComputedStyle(document.querySelector('.kyc-viewer')).display") == "grid"

            page.click("#decision-approve")
            page.locator(".messagelist", has_text="Approved: the user is verified at tier_1.").wait_for()
            page.locator("#kyc-audit-trail", has_text="Approved").wait_for()

        # The user's status and limits changed, and their websocket got the notification.
        after = httpx.get(f"{base}/api/users/kyc/status", headers=bearer, timeout=10).json()
        assert (after["kyc_id"], after["status"], after["verification_level"]) == (kyc_id, "verified", "tier_1")
        assert after["limits"] == {
            "daily_transaction": int(settings.KYC_LIMITS["tier_1"]["daily"]),
            "monthly_transaction": int(settings.KYC_LIMITS["tier_1"]["monthly"]),
        }
        pushed = notifications.wait_for(
            lambda e: e["type"] == "notification" and e["notification"]["type"] == "kyc_verified", timeout=15
        )
        assert pushed["notification"]["data"]["kyc_id"] == kyc_id
        assert pushed["notification"]["data"]["verification_level"] == "tier_1"

        # The reviewer's views and decision are in the audit trail.
        submission = KycSubmission.objects.get(pk=kyc_id)
        assert (submission.status, submission.decided_by_id) == ("verified", kyc_reviewer.pk)
        viewed = KycAuditEvent.objects.filter(submission=submission, action=KycAuditEvent.Action.DOCUMENT_VIEWED)
        assert {(e.actor_id, e.details["kind"]) for e in viewed} == {
            (kyc_reviewer.pk, "document"), (kyc_reviewer.pk, "selfie")
        }  # fmt: skip
        actions = set(KycAuditEvent.objects.filter(submission=submission).values_list("action", flat=True))
        assert {"submitted", "personal_info_viewed", "review_started", "approved"} <= actions
    finally:
        notifications.close()
