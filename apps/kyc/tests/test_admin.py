"""The KYC reviewers' back office: the queue (order, SLA, filters), the side-by-side viewer and its audited document
URL, decisions through the admin form (approve, reject, resubmission, four-eyes, illegal transitions), AML cases,
the append-only audit trail and least privilege across every KYC admin URL."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.kyc.models import (
    AmlCase,
    KycAuditEvent,
    KycDocument,
    KycSubmission,
    LimitUsage,
    ProviderEvent,
    SanctionedAddress,
    SanctionsList,
    Verification,
)
from apps.kyc.services import review
from apps.kyc.services.documents import kyc_document_read
from apps.kyc.services.submissions import kyc_submission_create
from apps.notifications.models import Notification
from tests.helpers import logged_in_client, staff_user

from .conftest import image_b64

pytestmark = pytest.mark.django_db

Action = KycAuditEvent.Action


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def reviewer_user() -> User:
    return staff_user("reviewer@example.com", "KYC reviewers")


@pytest.fixture
def reviewer(reviewer_user) -> Client:
    return logged_in_client(reviewer_user)


@pytest.fixture
def second_reviewer_user() -> User:
    return staff_user("reviewer2@example.com", "KYC reviewers")


@pytest.fixture
def agent() -> Client:
    return logged_in_client(staff_user("agent@example.com", "Support agents"))


@pytest.fixture
def editor() -> Client:
    return logged_in_client(staff_user("editor@example.com", "Help editors"))


def _change_url(submission: KycSubmission) -> str:
    return reverse("admin:kyc_kycsubmission_change", args=[quote(submission.pk)])


def _document_url(submission: KycSubmission, kind: str) -> str:
    return reverse("admin:kyc_kycsubmission_document", args=[submission.pk, kind])


def _decide(client: Client, submission: KycSubmission, **data):
    return client.post(reverse("admin:kyc_kycsubmission_decide", args=[submission.pk]), data, follow=True)


def _status(api_client_for, user) -> dict:
    response = api_client_for(user).get("/api/users/kyc/status")
    assert response.status_code == 200, response.content
    return response.json()


def _changelist(client: Client, **query) -> list[str]:
    response = client.get(reverse("admin:kyc_kycsubmission_changelist"), query)
    assert response.status_code == 200
    return [s.pk for s in response.context["cl"].result_list]


def _aml_case(user: User | None = None, address: str = "0x" + "ab" * 20) -> AmlCase:
    case = AmlCase.objects.create(
        user=user, address=address, normalized=address.lower(), chain_kind="evm", context="wallet_link",
        source="ofac_sdn", match={"entry_name": "Some Entity"},
    )  # fmt: skip
    KycAuditEvent.objects.create(action=Action.AML_HIT, aml_case=case, details={"context": "wallet_link"})
    return case


# --- the queue -------------------------------------------------------------------------------------------------


def test_queue_is_oldest_first_with_the_sla_and_its_filter(reviewer, make_user, make_submission, settings):
    settings.KYC_REVIEW_SLA_HOURS = 24
    newest, oldest, middle = (make_submission(make_user()) for _ in range(3))
    now = timezone.now()
    KycSubmission.objects.filter(pk=oldest.pk).update(created_at=now - timedelta(hours=30))
    KycSubmission.objects.filter(pk=middle.pk).update(created_at=now - timedelta(hours=5))
    KycSubmission.objects.filter(pk=newest.pk).update(created_at=now - timedelta(minutes=3))

    assert _changelist(reviewer) == [oldest.pk, middle.pk, newest.pk]
    assert _changelist(reviewer, sla_breached="yes") == [oldest.pk]
    assert _changelist(reviewer, sla_breached="no") == [middle.pk, newest.pk]
    assert _changelist(reviewer, q=middle.pk) == [middle.pk]
    assert _changelist(reviewer, status__exact="pending", requested_level__exact="tier_1") == [
        oldest.pk, middle.pk, newest.pk
    ]  # fmt: skip

    page = reviewer.get(reverse("admin:kyc_kycsubmission_changelist")).content.decode()
    assert page.count('class="sla-breached"') == 1
    breached = re.search(r'<strong class="sla-breached"[^>]*>[^<]*</strong>', page)
    assert "breached" in breached.group(0)
    assert "1d 6h" in page  # the oldest one's age

    # The queue's link (the admin quotes the id's "_") opens the viewer.
    link = re.search(rf'href="([^"]*{quote(middle.pk)}/change/[^"]*)"', page).group(1).replace("&amp;", "&")
    assert 'id="kyc-viewer"' in reviewer.get(link).content.decode()

    # A decided submission leaves the breached set even though it is old.
    review.kyc_submission_approve(submission=oldest, reviewer=None)
    assert _changelist(reviewer, sla_breached="yes") == []


def test_nobody_adds_edits_or_deletes_submissions_in_the_admin(reviewer, make_user, make_submission):
    submission = make_submission(make_user())
    boss = User.objects.create_superuser(email="boss@example.com", password="pw-for-tests-only")
    for client in (reviewer, logged_in_client(boss)):
        assert client.get(reverse("admin:kyc_kycsubmission_add")).status_code == 403
        assert client.get(reverse("admin:kyc_kycsubmission_delete", args=[quote(submission.pk)])).status_code == 403
        assert client.post(_change_url(submission), {"status": "verified"}).status_code == 403
        page = client.get(_change_url(submission))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
    assert KycSubmission.objects.get(pk=submission.pk).status == "pending"
    assert KycDocument not in admin.site._registry  # documents are reached through the viewer only


# --- the viewer and its documents --------------------------------------------------------------------------------


def test_reviewer_sees_the_viewer_and_each_view_is_audited(reviewer, reviewer_user, make_user, make_submission):
    submission = make_submission(make_user(), full_name="Ada <b>Lovelace</b>")
    page = reviewer.get(_change_url(submission))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html
    assert "1990-01-01" in html
    assert "12 Main St, London" in html
    for kind in ("document", "selfie"):
        assert f'src="{_document_url(submission, kind)}"' in html
    assert 'id="decision-form"' in html
    assert "kyc/review.css" in html
    viewed = KycAuditEvent.objects.get(submission=submission, action=Action.PERSONAL_INFO_VIEWED)
    assert (viewed.actor, viewed.ip_address) == (reviewer_user, "127.0.0.1")

    for document in submission.documents.all():
        response = reviewer.get(_document_url(submission, document.kind))
        assert response.status_code == 200
        assert response["Content-Type"] == document.content_type
        assert response["Content-Disposition"].startswith("inline")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"] == "no-store, private"
        assert response["Content-Security-Policy"] == "sandbox"
        assert response.content == kyc_document_read(document=document)
        assert hashlib.sha256(response.content).hexdigest() == document.sha256
        stored = (submission.documents.model.objects.get(pk=document.pk).file.path, document.size)
        with open(stored[0], "rb") as handle:
            assert handle.read() != response.content  # encrypted at rest
    events = KycAuditEvent.objects.filter(submission=submission, action=Action.DOCUMENT_VIEWED).order_by("pk")
    assert [(e.actor, e.details["kind"], e.ip_address) for e in events] == [
        (reviewer_user, "document", "127.0.0.1"), (reviewer_user, "selfie", "127.0.0.1")
    ]  # fmt: skip

    reviewer.get(_document_url(submission, "selfie"))
    assert KycAuditEvent.objects.filter(submission=submission, action=Action.DOCUMENT_VIEWED).count() == 3

    # The page shows the trail (who, what) and writes one more personal-info view each time it is shown.
    again = reviewer.get(_change_url(submission)).content.decode()
    trail = again[again.index('id="kyc-audit-trail"') :]
    assert trail.count("Document viewed") == 3
    assert "reviewer@example.com" in trail
    assert KycAuditEvent.objects.filter(submission=submission, action=Action.PERSONAL_INFO_VIEWED).count() == 2


def test_a_pdf_proof_of_address_is_a_sandboxed_inline_link(reviewer, make_user):
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    pdf = buffer.getvalue()
    submission = kyc_submission_create(
        user=make_user(),
        document_type="national_id",
        personal_info={"full_name": "Ada Lovelace", "date_of_birth": date(1990, 1, 1), "address": "12 Main St"},
        files={
            "document_image": image_b64(),
            "selfie_image": image_b64(480, 640, "JPEG"),
            "proof_of_address": base64.b64encode(pdf).decode(),
        },
    )
    html = reviewer.get(_change_url(submission)).content.decode()
    url = _document_url(submission, "proof_of_address")
    assert re.search(rf'<a href="{re.escape(url)}"[^>]*class="kyc-pdf-link"', html)
    assert f'src="{url}"' not in html
    response = reviewer.get(url)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{submission.pk}-proof_of_address.pdf"'
    assert response["Content-Security-Policy"] == "sandbox"
    assert response.content.startswith(b"%PDF-")
    assert hashlib.sha256(response.content).hexdigest() == submission.documents.get(kind="proof_of_address").sha256


def test_document_url_refuses_unknown_kinds_missing_documents_and_purged_ones(reviewer, make_user, make_submission):
    submission = make_submission(make_user())
    assert reviewer.get(_document_url(submission, "passport")).status_code == 404
    assert reviewer.get(_document_url(submission, "proof_of_address")).status_code == 404
    assert reviewer.get(reverse("admin:kyc_kycsubmission_document", args=["kyc_nope", "selfie"])).status_code == 404
    KycDocument.objects.filter(submission=submission, kind="selfie").update(purged_at=timezone.now())
    assert reviewer.get(_document_url(submission, "selfie")).status_code == 404
    assert not KycAuditEvent.objects.filter(action=Action.DOCUMENT_VIEWED).exists()


def test_viewing_without_the_documents_permission_shows_no_personal_info(make_user, make_submission):
    submission = make_submission(make_user())
    viewer = staff_user("viewer@example.com")
    viewer.user_permissions.add(Permission.objects.get(codename="view_kycsubmission"))
    client = logged_in_client(viewer)
    page = client.get(_change_url(submission))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ada Lovelace" not in html
    assert "/document/" not in html
    assert 'id="decision-form"' not in html
    assert client.get(_document_url(submission, "document")).status_code == 403
    assert _decide(client, submission, decision="approve").status_code == 403
    assert not KycAuditEvent.objects.filter(action__in=[Action.PERSONAL_INFO_VIEWED, Action.DOCUMENT_VIEWED]).exists()
    assert KycSubmission.objects.get(pk=submission.pk).status == "pending"


# --- decisions -------------------------------------------------------------------------------------------------


def test_approve_in_the_admin_verifies_the_user_and_notifies_them(
    reviewer, reviewer_user, alice, make_submission, api_client_for, settings
):
    submission = make_submission(alice)
    response = _decide(reviewer, submission, decision="approve", note="Clear photos.")
    assert response.redirect_chain[-1][0] == _change_url(submission)
    assert "Approved: the user is verified at tier_1." in _messages(response)
    submission.refresh_from_db()
    assert (submission.status, submission.decided_by, submission.internal_note) == (
        "verified", reviewer_user, "Clear photos."
    )  # fmt: skip
    body = _status(api_client_for, alice)
    assert (body["status"], body["verification_level"]) == ("verified", "tier_1")
    assert body["limits"] == {
        "daily_transaction": int(settings.KYC_LIMITS["tier_1"]["daily"]),
        "monthly_transaction": int(settings.KYC_LIMITS["tier_1"]["monthly"]),
    }
    notification = Notification.objects.get(user=alice, kind="kyc_verified")
    assert notification.data["kyc_id"] == submission.pk
    approved = KycAuditEvent.objects.get(submission=submission, action=Action.APPROVED)
    assert (approved.actor, approved.ip_address) == (reviewer_user, "127.0.0.1")
    assert 'id="decision-form"' not in response.content.decode()  # decided: no more decision form


@pytest.mark.parametrize(
    ("decision", "status", "kind"),
    [("reject", "rejected", "kyc_rejected"), ("resubmit", "resubmission_required", "kyc_resubmission_required")],
)
def test_reject_and_resubmission_with_reasons_reach_the_user(
    reviewer, alice, make_submission, api_client_for, decision, status, kind
):
    submission = make_submission(alice)
    response = _decide(
        reviewer,
        submission,
        decision=decision,
        reasons=["document_unreadable", "selfie_mismatch"],
        message="Please retake both photos.",
        note="Glare on the passport.",
    )
    assert [m.level_tag for m in response.context["messages"]] == ["success"]
    submission.refresh_from_db()
    assert submission.status == status
    assert submission.reject_reasons == ["document_unreadable", "selfie_mismatch"]
    assert submission.reviewer_message == "Please retake both photos."
    assert submission.internal_note == "Glare on the passport."
    body = _status(api_client_for, alice)
    assert body["status"] == status
    assert [r["code"] for r in body["reasons"]] == ["document_unreadable", "selfie_mismatch"]
    assert body["reviewer_message"] == "Please retake both photos."
    assert body["verification_level"] == "tier_0"
    notification = Notification.objects.get(user=alice, kind=kind)
    assert "Please retake both photos." in notification.message


@pytest.mark.parametrize("decision", ["reject", "resubmit"])
def test_refusing_without_a_reason_shows_an_error_and_changes_nothing(reviewer, alice, make_submission, decision):
    submission = make_submission(alice)
    response = _decide(reviewer, submission, decision=decision, message="No.")
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [("error", "Give at least one reason.")]
    submission.refresh_from_db()
    assert (submission.status, submission.reject_reasons, submission.reviewer_message) == ("pending", [], "")
    assert not Notification.objects.filter(user=alice, kind__startswith="kyc_").exists()
    assert set(KycAuditEvent.objects.filter(submission=submission).values_list("action", flat=True)) == {
        Action.SUBMITTED, Action.PERSONAL_INFO_VIEWED
    }  # fmt: skip


def test_other_needs_a_message_and_unknown_input_is_refused(reviewer, alice, make_submission):
    submission = make_submission(alice)
    response = _decide(reviewer, submission, decision="reject", reasons=["other"])
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    response = _decide(reviewer, submission, decision="reject", reasons=["made_up"])
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    response = _decide(reviewer, submission, decision="delete")
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert KycSubmission.objects.get(pk=submission.pk).status == "pending"


def test_an_illegal_transition_is_an_error_message_and_changes_nothing(reviewer, alice, make_submission):
    submission = make_submission(alice)
    review.kyc_submission_approve(submission=submission, reviewer=None)
    notifications = Notification.objects.count()
    for data in ({"decision": "approve"}, {"decision": "reject", "reasons": ["document_expired"]}):
        response = _decide(reviewer, submission, **data)
        assert [m.level_tag for m in response.context["messages"]] == ["error"]
        assert "verified" in _messages(response)[0]
    submission.refresh_from_db()
    assert (submission.status, submission.reject_reasons) == ("verified", [])
    assert Notification.objects.count() == notifications


def test_start_review_takes_the_submission_from_the_queue(reviewer, reviewer_user, alice, make_submission):
    submission = make_submission(alice)
    url = reverse("admin:kyc_kycsubmission_start_review", args=[submission.pk])
    assert 'id="start-review-form"' in reviewer.get(_change_url(submission)).content.decode()
    assert "Review started." in _messages(reviewer.post(url, follow=True))
    submission.refresh_from_db()
    assert (submission.status, submission.review_started_by) == ("in_review", reviewer_user)
    assert [m.level_tag for m in reviewer.post(url, follow=True).context["messages"]] == ["error"]
    assert reviewer.get(url).status_code == 405


def test_four_eyes_on_tier_2_needs_a_second_reviewer(
    reviewer, reviewer_user, second_reviewer_user, alice, make_submission, api_client_for, settings
):
    settings.KYC_FOUR_EYES_TIER_2 = True
    submission = make_submission(alice, proof_of_address=True)
    assert (submission.requested_level, submission.needs_second_review) == ("tier_2", True)
    page = reviewer.get(_change_url(submission)).content.decode()
    assert f'src="{_document_url(submission, "proof_of_address")}"' in page

    first = _decide(reviewer, submission, decision="approve", note="Looks right.")
    assert "First approval recorded: a second reviewer must confirm it." in _messages(first)
    submission.refresh_from_db()
    assert (submission.status, submission.first_approved_by) == ("in_review", reviewer_user)
    html = first.content.decode()
    assert "Approved by reviewer@example.com" in html
    assert "awaits a second reviewer" in html
    assert "You gave the first approval" in html
    assert _changelist(reviewer, second_reviewer="awaiting") == [submission.pk]
    assert not Notification.objects.filter(user=alice, kind="kyc_verified").exists()

    again = _decide(reviewer, submission, decision="approve")
    assert [(m.level_tag, str(m)) for m in again.context["messages"]] == [
        ("error", "A second reviewer must confirm this approval.")
    ]
    assert KycSubmission.objects.get(pk=submission.pk).status == "in_review"

    second = logged_in_client(second_reviewer_user)
    assert "You gave the first approval" not in second.get(_change_url(submission)).content.decode()
    confirmed = _decide(second, submission, decision="approve")
    assert "Approved: the user is verified at tier_2." in _messages(confirmed)
    submission.refresh_from_db()
    assert (submission.status, submission.decided_by) == ("verified", second_reviewer_user)
    body = _status(api_client_for, alice)
    assert (body["status"], body["verification_level"]) == ("verified", "tier_2")
    assert body["limits"]["daily_transaction"] == int(Decimal(settings.KYC_LIMITS["tier_2"]["daily"]))
    assert Notification.objects.filter(user=alice, kind="kyc_verified").count() == 1
    assert _changelist(reviewer, second_reviewer="awaiting") == []


def test_decisions_need_post_and_the_csrf_token(reviewer_user, alice, make_submission):
    submission = make_submission(alice)
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer_user)
    url = reverse("admin:kyc_kycsubmission_decide", args=[submission.pk])
    assert client.post(url, {"decision": "approve"}).status_code == 403
    assert client.post(reverse("admin:kyc_kycsubmission_start_review", args=[submission.pk])).status_code == 403
    assert logged_in_client(reviewer_user).get(url).status_code == 405
    assert KycSubmission.objects.get(pk=submission.pk).status == "pending"


# --- AML cases -------------------------------------------------------------------------------------------------


def test_reviewer_clears_and_confirms_aml_cases_with_a_note(reviewer, reviewer_user, alice):
    case = _aml_case(alice)
    page = reviewer.get(reverse("admin:kyc_amlcase_change", args=[case.pk]))
    assert page.status_code == 200
    assert 'id="aml-resolve-form"' in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    resolve = reverse("admin:kyc_amlcase_resolve", args=[case.pk])

    refused = reviewer.post(resolve, {"decision": "clear", "note": "  "}, follow=True)
    assert [m.level_tag for m in refused.context["messages"]] == ["error"]
    assert AmlCase.objects.get(pk=case.pk).status == "open"

    cleared = reviewer.post(resolve, {"decision": "clear", "note": "Different entity."}, follow=True)
    assert [m.level_tag for m in cleared.context["messages"]] == ["success"]
    case.refresh_from_db()
    assert (case.status, case.resolved_by, case.resolution_note) == ("cleared", reviewer_user, "Different entity.")
    assert KycAuditEvent.objects.get(aml_case=case, action=Action.AML_CLEARED).actor == reviewer_user
    again = reviewer.post(resolve, {"decision": "confirm", "note": "Oops."}, follow=True)
    assert [m.level_tag for m in again.context["messages"]] == ["error"]
    assert AmlCase.objects.get(pk=case.pk).status == "cleared"

    # The list action, on several cases at once, with the note from the action bar.
    one, two = _aml_case(alice, "0x" + "cd" * 20), _aml_case(None, "0x" + "ef" * 20)
    listing = reverse("admin:kyc_amlcase_changelist")
    assert logged_in_client(reviewer_user).get(listing, {"status__exact": "open"}).status_code == 200
    response = reviewer.post(
        listing,
        {"action": "confirm_cases", "_selected_action": [one.pk, two.pk, case.pk], "note": "Listed entity."},
        follow=True,
    )
    notes = _messages(response)
    assert "2 case(s) confirmed." in notes
    assert any("1 skipped" in note for note in notes)
    assert dict(AmlCase.objects.values_list("pk", "status")) == {
        case.pk: "cleared", one.pk: "confirmed", two.pk: "confirmed"
    }  # fmt: skip


# --- the audit trail -------------------------------------------------------------------------------------------


def test_audit_events_cannot_be_added_edited_or_deleted_even_by_a_superuser(reviewer, alice, make_submission):
    submission = make_submission(alice)
    event = KycAuditEvent.objects.get(submission=submission, action=Action.SUBMITTED)
    boss = logged_in_client(User.objects.create_superuser(email="boss@example.com", password="pw-for-tests-only"))
    for client in (boss, reviewer):
        listing = client.get(reverse("admin:kyc_kycauditevent_changelist"), {"q": submission.pk})
        assert listing.status_code == 200
        assert [e.pk for e in listing.context["cl"].result_list] == [event.pk]
        assert "delete_selected" not in listing.content.decode()
        change = reverse("admin:kyc_kycauditevent_change", args=[event.pk])
        page = client.get(change)
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.post(change, {"action": "approved", "details": "{}"}).status_code == 403
        assert client.get(reverse("admin:kyc_kycauditevent_add")).status_code == 403
        assert (
            client.post(reverse("admin:kyc_kycauditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
        )
        bulk = client.post(
            reverse("admin:kyc_kycauditevent_changelist"),
            {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
        )
        assert bulk.status_code in (200, 302)
    event.refresh_from_db()
    assert event.action == Action.SUBMITTED
    assert KycAuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_list_filters_by_action_and_actor(reviewer, reviewer_user, alice, make_submission):
    submission = make_submission(alice)
    reviewer.get(_document_url(submission, "document"))
    url = reverse("admin:kyc_kycauditevent_changelist")
    viewed = reviewer.get(url, {"action__exact": "document_viewed"}).context["cl"].result_list
    assert [(e.action, e.actor) for e in viewed] == [("document_viewed", reviewer_user)]
    mine = reviewer.get(url, {"actor__id__exact": reviewer_user.pk}).context["cl"].result_list
    assert {e.action for e in mine} == {"document_viewed"}


# --- least privilege -------------------------------------------------------------------------------------------


def _every_kyc_url(make_user, make_submission) -> tuple[list[str], list[tuple[str, dict]]]:
    """Every KYC admin page (changelists, change pages, add/delete/history) and every POST endpoint."""
    submission = make_submission(make_user(), proof_of_address=True)
    case = _aml_case()
    sanctions = SanctionsList.objects.create(sha256="a" * 64, is_current=True)
    SanctionedAddress.objects.create(sanctions_list=sanctions, ticker="ETH", address="0xabc", normalized="0xabc")
    ProviderEvent.objects.create(provider="sumsub", event_key="k1", payload={}, verdict="applied")
    LimitUsage.objects.create(user=submission.user, usd_amount=Decimal("10"), reference="tx:1", kind="transaction")
    Verification.objects.create(user=make_user(), level="tier_1")
    gets = []
    for model in [m for m in admin.site._registry if m._meta.app_label == "kyc"]:
        name = model._meta.model_name
        gets.append(reverse(f"admin:kyc_{name}_changelist"))
        gets.append(reverse(f"admin:kyc_{name}_add"))
        obj = model.objects.first()
        assert obj is not None, name
        for view in ("change", "delete", "history"):
            gets.append(reverse(f"admin:kyc_{name}_{view}", args=[quote(obj.pk)]))
    gets += [_document_url(submission, kind) for kind in ("document", "selfie", "proof_of_address")]
    posts = [
        (reverse("admin:kyc_kycsubmission_decide", args=[submission.pk]), {"decision": "approve"}),
        (
            reverse("admin:kyc_kycsubmission_decide", args=[submission.pk]),
            {"decision": "reject", "reasons": ["suspected_fraud"]},
        ),
        (reverse("admin:kyc_kycsubmission_start_review", args=[submission.pk]), {}),
        (reverse("admin:kyc_amlcase_resolve", args=[case.pk]), {"decision": "clear", "note": "x"}),
        (
            reverse("admin:kyc_amlcase_changelist"),
            {"action": "clear_cases", "_selected_action": [case.pk], "note": "x"},
        ),
        (_change_url(submission), {"status": "verified"}),
    ]
    return gets, posts


@pytest.mark.parametrize("group", ["Support agents", "Help editors"])
def test_support_agents_and_help_editors_get_403_on_every_kyc_url(group, make_user, make_submission):
    gets, posts = _every_kyc_url(make_user, make_submission)
    client = logged_in_client(staff_user("other@example.com", group))
    assert len(gets) == 8 * 5 + 3  # eight registered KYC models (KycDocument is not one), three documents
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert set(KycSubmission.objects.values_list("status", flat=True)) == {"pending"}
    assert set(AmlCase.objects.values_list("status", flat=True)) == {"open"}
    assert not KycAuditEvent.objects.filter(
        action__in=[Action.DOCUMENT_VIEWED, Action.PERSONAL_INFO_VIEWED, Action.REVIEW_STARTED]
    ).exists()
    index = client.get("/admin/")
    assert "kyc" not in {app["app_label"] for app in index.context["app_list"]}


def test_reviewer_sees_only_kyc_and_gets_403_everywhere_else(reviewer):
    index = reviewer.get("/admin/")
    assert index.status_code == 200
    assert {app["app_label"] for app in index.context["app_list"]} == {"kyc"}
    visible = {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    assert "LimitUsage" not in visible
    assert {"KycSubmission", "KycAuditEvent", "AmlCase"} <= visible
    others = [m for m in admin.site._registry if m._meta.app_label != "kyc"]
    assert {m._meta.app_label for m in others} >= {"accounts", "support", "helpcenter"}
    for model in others:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert reviewer.get(url).status_code == 403, url
    assert reviewer.get(reverse("admin:kyc_limitusage_changelist")).status_code == 403
    assert reviewer.get(reverse("admin:support_console")).status_code == 403


def test_limit_usage_is_for_superusers_only_and_read_only(make_user):
    user = make_user()
    usage = LimitUsage.objects.create(user=user, usd_amount=Decimal("12.50"), reference="tx:x", kind="transaction")
    boss = logged_in_client(User.objects.create_superuser(email="boss@example.com", password="pw-for-tests-only"))
    assert boss.get(reverse("admin:kyc_limitusage_changelist")).status_code == 200
    assert boss.get(reverse("admin:kyc_limitusage_change", args=[usage.pk])).status_code == 200
    assert boss.post(reverse("admin:kyc_limitusage_change", args=[usage.pk]), {"kind": "x"}).status_code == 403
    assert boss.get(reverse("admin:kyc_limitusage_add")).status_code == 403


def test_reviewer_reads_the_reference_data(reviewer, make_user):
    sanctions = SanctionsList.objects.create(sha256="b" * 64, is_current=True, address_count=1)
    SanctionedAddress.objects.create(sanctions_list=sanctions, ticker="XBT", address="bc1qxyz", normalized="bc1qxyz")
    ProviderEvent.objects.create(provider="sumsub", event_key="k2", payload={"type": "x"}, verdict="ignored")
    Verification.objects.create(user=make_user(), level="tier_1")
    for name in ("sanctionslist", "sanctionedaddress", "providerevent", "verification", "kycauditevent", "amlcase"):
        assert reviewer.get(reverse(f"admin:kyc_{name}_changelist")).status_code == 200, name
        assert reviewer.get(reverse(f"admin:kyc_{name}_add")).status_code == 403, name


def test_anonymous_is_sent_to_the_login_page(make_user, make_submission):
    submission = make_submission(make_user())
    response = Client().get(_document_url(submission, "document"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
