"""Verification providers: the Sumsub flow against a local Sumsub double (signed requests, applicants, documents),
its signed webhook (verdicts, refusals, duplicates, ordering), a vendor outage, and the manual provider."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from celery.signals import task_retry
from django.urls import include, path

from apps.kyc.models import KycAuditEvent, KycDocument, KycSubmission, ProviderEvent, Verification
from apps.kyc.services.providers import kyc_provider_submit
from apps.kyc.services.providers.sumsub import reject_reasons_for
from apps.kyc.tasks_provider import provider_submit
from apps.notifications.models import Notification
from engipay import urls as project_urls
from engipay.api.errors import UpstreamError, UpstreamUnavailable
from tests.doubles.sumsub import SumsubDouble, later

from .conftest import image_b64, submission_body

WEBHOOK = "/api/webhooks/kyc/sumsub"

# The webhook route as engipay/urls.py mounts it (kept here too, so these tests do not depend on that line).
urlpatterns = [path("api/webhooks/kyc/", include("apps.kyc.api.webhook_urls")), *project_urls.urlpatterns]
handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture
def sumsub(settings):
    """A started Sumsub double, with the project configured to use it."""
    with SumsubDouble() as double:
        settings.KYC_PROVIDER = "sumsub"
        settings.SUMSUB_BASE_URL = double.url
        settings.SUMSUB_APP_TOKEN = double.state.app_token
        settings.SUMSUB_SECRET_KEY = double.state.secret_key
        settings.SUMSUB_WEBHOOK_SECRET = double.webhook_secret
        settings.SUMSUB_LEVEL_NAMES = {"tier_1": "basic-kyc-level", "tier_2": "full-kyc-level"}
        yield double


@pytest.fixture
def sent(alice, submit, sumsub, django_capture_on_commit_callbacks):
    """Alice's submission through the API, sent to Sumsub by the task."""
    with django_capture_on_commit_callbacks(execute=False):
        response = submit(alice)
    assert response.status_code == 201, response.content
    result = provider_submit.apply(args=[response.json()["kyc_id"]])
    assert result.successful(), result.result
    return KycSubmission.objects.get(pk=response.json()["kyc_id"])


def deliver(client, body: bytes, headers: dict[str, str]):
    extra = {
        "HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items() if name != "Content-Type"
    }
    return client.generic("POST", WEBHOOK, body, content_type="application/json", **extra)


def review(client, sumsub, submission, created_at_ms=None, **result):
    body, headers = sumsub.review(submission.provider_reference, result, created_at_ms=created_at_ms)
    response = deliver(client, body, headers)
    assert response.status_code == 200, response.content
    return response.json()


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code


# --- submit ------------------------------------------------------------------------------------------------


def test_a_submission_creates_a_signed_applicant_and_uploads_the_decrypted_documents(alice, sent, sumsub):
    applicant = sumsub.applicant(sent.provider_reference)
    assert applicant.external_user_id == str(alice.pk)
    assert applicant.level_name == "basic-kyc-level"
    assert applicant.fixed_info == {"firstName": "Ada", "lastName": "Lovelace", "dob": "1990-01-01"}
    stored = {d.kind: d for d in KycDocument.objects.filter(submission=sent)}
    uploaded = {d.metadata["idDocType"]: d for d in applicant.documents}
    assert set(uploaded) == {"PASSPORT", "SELFIE"}
    assert hashlib.sha256(uploaded["PASSPORT"].content).hexdigest() == stored["document"].sha256
    assert hashlib.sha256(uploaded["SELFIE"].content).hexdigest() == stored["selfie"].sha256
    assert uploaded["PASSPORT"].content.startswith(b"\x89PNG")  # the plaintext, not the encrypted file
    assert applicant.review_status == "pending"  # the check was requested
    assert all(r["status"] < 400 for r in sumsub.state.requests), sumsub.state.requests
    assert sent.status == KycSubmission.Status.PENDING
    assert sent.provider == "sumsub"
    assert sent.provider_result["documents"]["document"]["imageId"] == uploaded["PASSPORT"].image_id
    created = KycAuditEvent.objects.get(submission=sent, action=KycAuditEvent.Action.PROVIDER_CREATED)
    assert created.actor is None
    assert created.details["applicant_id"] == sent.provider_reference


def test_tier_2_uses_its_level_and_sends_the_proof_of_address_as_a_utility_bill(alice, sumsub, make_submission):
    submission = make_submission(alice, proof_of_address=True)
    assert provider_submit.apply(args=[submission.pk]).successful()
    submission.refresh_from_db()
    applicant = sumsub.applicant(submission.provider_reference)
    assert applicant.level_name == "full-kyc-level"
    assert sorted(d.metadata["idDocType"] for d in applicant.documents) == ["PASSPORT", "SELFIE", "UTILITY_BILL"]


def test_running_the_task_again_creates_and_uploads_nothing_twice(sent, sumsub):
    assert provider_submit.apply(args=[sent.pk]).successful()
    assert len(sumsub.state.applicants) == 1
    assert len(sumsub.applicant(sent.provider_reference).documents) == 2
    assert [r["method"] + " " + r["path"].split("?")[0] for r in sumsub.state.requests].count(
        "POST /resources/applicants"
    ) == 1


def test_an_existing_applicant_of_the_user_is_looked_up_instead_of_created(alice, sumsub, make_submission):
    submission = make_submission(alice)
    applicant_id = _create_applicant_elsewhere(sumsub, str(alice.pk))
    assert provider_submit.apply(args=[submission.pk]).successful()
    submission.refresh_from_db()
    assert submission.provider_reference == applicant_id
    assert len(sumsub.state.applicants) == 1
    assert any(r["status"] == 409 for r in sumsub.state.requests)
    created = KycAuditEvent.objects.get(submission=submission, action=KycAuditEvent.Action.PROVIDER_CREATED)
    assert created.details["existing"] is True


def _create_applicant_elsewhere(sumsub, external_user_id: str) -> str:
    """An applicant made for the user before (an earlier run that died before saving the id)."""
    from apps.kyc.services.providers.sumsub import SumsubClient

    client = SumsubClient.from_settings()
    response = client.applicant_create(level_name="basic-kyc-level", body={"externalUserId": external_user_id})
    return response.json()["id"]


def test_a_vendor_that_is_down_is_retried_and_the_submission_stays_pending(alice, sumsub, make_submission):
    submission = make_submission(alice)
    sumsub.stop()
    retries = []

    def count(sender=None, **kwargs):
        retries.append(kwargs.get("reason"))

    task_retry.connect(count, weak=False)
    try:
        result = provider_submit.apply(args=[submission.pk])
    finally:
        task_retry.disconnect(count)
    assert result.failed()
    assert isinstance(result.result, UpstreamUnavailable)
    assert len(retries) == provider_submit.max_retries
    submission.refresh_from_db()
    assert submission.status == KycSubmission.Status.PENDING
    assert submission.provider_reference == ""
    sumsub.start()  # back up: the next run (or the sweep) finishes the job
    assert provider_submit.apply(args=[submission.pk]).successful()
    submission.refresh_from_db()
    assert len(sumsub.applicant(submission.provider_reference).documents) == 2


def test_a_wrongly_signed_request_is_refused_by_the_vendor_and_not_retried(alice, sumsub, make_submission, settings):
    submission = make_submission(alice)
    settings.SUMSUB_SECRET_KEY = "not-the-secret"
    result = provider_submit.apply(args=[submission.pk])
    assert isinstance(result.result, UpstreamError)
    assert not isinstance(result.result, UpstreamUnavailable)
    assert result.result.details["status"] == 401
    assert result.result.details["description"] == "Request signature mismatch"
    assert sumsub.state.applicants == {}
    assert len(sumsub.state.requests) == 1


def test_the_manual_provider_makes_no_http_call(alice, submit, sumsub, settings, django_capture_on_commit_callbacks):
    settings.KYC_PROVIDER = "manual"
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(alice)
    assert response.status_code == 201, response.content
    submission = KycSubmission.objects.get(pk=response.json()["kyc_id"])
    assert submission.provider == "manual"
    kyc_provider_submit(submission_id=submission.pk)
    assert sumsub.state.requests == []
    assert submission.provider_reference == ""


# --- webhook: verdicts ---------------------------------------------------------------------------------------


def test_green_verifies_and_notifies(alice, sent, sumsub, api_client, api_client_for):
    assert review(api_client, sumsub, sent, reviewAnswer="GREEN") == {
        "received": True,
        "duplicate": False,
        "verdict": "applied",
    }
    sent.refresh_from_db()
    assert sent.status == KycSubmission.Status.VERIFIED
    assert sent.decided_by is None
    assert sent.provider_result["review"]["review_answer"] == "GREEN"
    assert Verification.objects.get(user=alice).level == "tier_1"
    assert Notification.objects.filter(user=alice, kind="kyc_verified").count() == 1
    assert KycAuditEvent.objects.filter(submission=sent, action=KycAuditEvent.Action.PROVIDER_RESULT).count() == 1
    status = api_client_for(alice).get("/api/users/kyc/status").json()
    assert status["status"] == "verified"
    assert status["verification_level"] == "tier_1"


def test_red_retry_asks_for_resubmission_showing_the_moderation_comment_only(
    alice, sent, sumsub, api_client, api_client_for
):
    review(
        api_client,
        sumsub,
        sent,
        reviewAnswer="RED",
        reviewRejectType="RETRY",
        rejectLabels=["UNSATISFACTORY_PHOTOS", "SELFIE_MISMATCH"],
        moderationComment="Your passport photo is blurred.",
        clientComment="Glare over the MRZ; selfie looks like a print.",
    )
    sent.refresh_from_db()
    assert sent.status == KycSubmission.Status.RESUBMISSION_REQUIRED
    assert sent.reject_reasons == ["document_unreadable", "selfie_mismatch"]
    assert sent.internal_note == "Glare over the MRZ; selfie looks like a print."
    response = api_client_for(alice).get("/api/users/kyc/status")
    body = response.json()
    assert body["status"] == "resubmission_required"
    assert body["reviewer_message"] == "Your passport photo is blurred."
    assert [r["code"] for r in body["reasons"]] == ["document_unreadable", "selfie_mismatch"]
    assert body["can_submit"] is True
    assert b"Glare" not in response.content
    assert b"MRZ" not in response.content
    assert Notification.objects.filter(user=alice, kind="kyc_resubmission_required").count() == 1


def test_red_final_rejects(alice, sent, sumsub, api_client, api_client_for):
    review(api_client, sumsub, sent, reviewAnswer="RED", reviewRejectType="FINAL", rejectLabels=["FORGERY"])
    sent.refresh_from_db()
    assert sent.status == KycSubmission.Status.REJECTED
    assert sent.reject_reasons == ["suspected_fraud"]
    body = api_client_for(alice).get("/api/users/kyc/status").json()
    assert body["status"] == "rejected"
    assert body["can_submit"] is False


def test_applicant_pending_starts_the_review(sent, sumsub, api_client):
    body, headers = sumsub.webhook(sent.provider_reference, type="applicantPending")
    assert deliver(api_client, body, headers).json()["verdict"] == "applied"
    sent.refresh_from_db()
    assert sent.status == KycSubmission.Status.IN_REVIEW
    assert sent.review_started_by is None


def test_a_resubmission_goes_to_the_same_applicant_and_its_verdict_to_the_new_submission(
    alice, sent, sumsub, submit, api_client, django_capture_on_commit_callbacks
):
    first = review(api_client, sumsub, sent, reviewAnswer="RED", reviewRejectType="RETRY", rejectLabels=["SCREENSHOTS"])
    assert first["verdict"] == "applied"
    with django_capture_on_commit_callbacks(execute=False):
        response = submit(alice, submission_body(document_image=image_b64(800, 600, color=(90, 90, 90))))
    assert response.status_code == 201, response.content
    assert provider_submit.apply(args=[response.json()["kyc_id"]]).successful()
    second = KycSubmission.objects.get(pk=response.json()["kyc_id"])
    assert second.provider_reference == sent.provider_reference
    assert len(sumsub.applicant(sent.provider_reference).documents) == 4
    review(api_client, sumsub, second, reviewAnswer="GREEN")
    second.refresh_from_db()
    sent.refresh_from_db()
    assert second.status == KycSubmission.Status.VERIFIED
    assert sent.status == KycSubmission.Status.RESUBMISSION_REQUIRED


# --- webhook: refusals, duplicates, ordering -----------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h: {**h, "X-Payload-Digest": "0" * 64}, id="bad-digest"),
        pytest.param(lambda h: {k: v for k, v in h.items() if k != "X-Payload-Digest"}, id="no-digest"),
        pytest.param(lambda h: {k: v for k, v in h.items() if k != "X-Payload-Digest-Alg"}, id="no-alg"),
        pytest.param(lambda h: {**h, "X-Payload-Digest-Alg": "HMAC_MD5_HEX"}, id="unknown-alg"),
        pytest.param(lambda h: {**h, "X-Payload-Digest-Alg": "HMAC_SHA512_HEX"}, id="alg-mismatch"),
    ],
)
def test_a_webhook_without_a_valid_digest_is_refused_and_changes_nothing(sent, sumsub, api_client, tamper):
    body, headers = sumsub.webhook(sent.provider_reference, review_result={"reviewAnswer": "GREEN"})
    assert_error(deliver(api_client, body, tamper(headers)), 401, "invalid_signature")
    sent.refresh_from_db()
    assert sent.status == KycSubmission.Status.PENDING
    assert not ProviderEvent.objects.exists()


def test_a_webhook_signed_with_another_secret_is_refused(sent, sumsub, api_client):
    body, headers = sumsub.webhook(sent.provider_reference, review_result={"reviewAnswer": "GREEN"}, secret="other")
    assert_error(deliver(api_client, body, headers), 401, "invalid_signature")
    assert not ProviderEvent.objects.exists()


@pytest.mark.parametrize("alg", ["HMAC_SHA1_HEX", "HMAC_SHA512_HEX"])
def test_every_documented_digest_algorithm_is_accepted(sent, sumsub, api_client, alg):
    body, headers = sumsub.webhook(sent.provider_reference, review_result={"reviewAnswer": "GREEN"}, alg=alg)
    assert deliver(api_client, body, headers).status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", json.dumps({"type": "applicantReviewed"}).encode(), b"\xff\xfe"],
    ids=["not-json", "not-an-object", "no-applicant-id", "not-utf8"],
)
def test_a_malformed_webhook_is_400_and_changes_nothing(sent, sumsub, api_client, body):
    assert_error(deliver(api_client, *sumsub.sign(body)), 400, "malformed_payload")
    assert not ProviderEvent.objects.exists()


def test_an_oversized_webhook_is_413(sent, sumsub, api_client):
    body = json.dumps({"applicantId": sent.provider_reference, "type": "applicantReviewed", "pad": "x" * 70_000})
    assert_error(deliver(api_client, *sumsub.sign(body.encode())), 413, "payload_too_large")
    assert not ProviderEvent.objects.exists()


def test_without_a_webhook_secret_the_endpoint_is_503(sent, sumsub, api_client, settings):
    body, headers = sumsub.webhook(sent.provider_reference, review_result={"reviewAnswer": "GREEN"})
    settings.SUMSUB_WEBHOOK_SECRET = None
    assert_error(deliver(api_client, body, headers), 503, "provider_not_configured")
    assert not ProviderEvent.objects.exists()


def test_the_same_delivery_twice_is_applied_once(alice, sent, sumsub, api_client):
    body, headers = sumsub.webhook(sent.provider_reference, review_result={"reviewAnswer": "GREEN"})
    assert deliver(api_client, body, headers).json()["duplicate"] is False
    again = deliver(api_client, body, headers)
    assert again.status_code == 200
    assert again.json() == {"received": True, "duplicate": True, "verdict": "applied"}
    assert ProviderEvent.objects.count() == 1
    assert Notification.objects.filter(user=alice, kind="kyc_verified").count() == 1
    assert KycAuditEvent.objects.filter(submission=sent, action=KycAuditEvent.Action.APPROVED).count() == 1


def test_an_older_review_after_a_newer_one_is_stored_but_not_applied(alice, sent, sumsub, api_client):
    newer = "2026-01-02 10:00:00.500"
    review(api_client, sumsub, sent, created_at_ms=newer, reviewAnswer="GREEN")
    older = review(
        api_client,
        sumsub,
        sent,
        created_at_ms=later(newer, -60),
        reviewAnswer="RED",
        reviewRejectType="FINAL",
        rejectLabels=["FORGERY"],
    )
    assert older == {"received": True, "duplicate": False, "verdict": "out_of_order"}
    sent.refresh_from_db()
    assert sent.status == KycSubmission.Status.VERIFIED
    assert ProviderEvent.objects.filter(submission=sent).count() == 2
    assert not Notification.objects.filter(user=alice, kind="kyc_rejected").exists()


def test_a_newer_red_after_green_withdraws_the_verification(alice, sent, sumsub, api_client, api_client_for):
    first = "2026-01-02 10:00:00.500"
    review(api_client, sumsub, sent, created_at_ms=first, reviewAnswer="GREEN")
    assert api_client_for(alice).get("/api/users/kyc/status").json()["verification_level"] == "tier_1"
    after = review(
        api_client,
        sumsub,
        sent,
        created_at_ms=later(first, 60),
        reviewAnswer="RED",
        reviewRejectType="RETRY",
        rejectLabels=["FORGERY"],
    )
    assert after["verdict"] == "applied"
    sent.refresh_from_db()
    assert sent.status == KycSubmission.Status.REJECTED
    status = api_client_for(alice).get("/api/users/kyc/status").json()
    assert (status["status"], status["verification_level"]) == ("rejected", "tier_0")
    assert Notification.objects.filter(user=alice, kind="kyc_rejected", data__revoked=True).exists()
    revoked = KycAuditEvent.objects.get(submission=sent, action=KycAuditEvent.Action.REJECTED)
    assert revoked.details["revoked"] is True


def test_an_event_for_an_unknown_applicant_is_stored_and_acknowledged(sent, sumsub, api_client):
    other = _create_applicant_elsewhere(sumsub, "someone-else")
    body, headers = sumsub.webhook(other, review_result={"reviewAnswer": "GREEN"})
    response = deliver(api_client, body, headers)
    assert response.json() == {"received": True, "duplicate": False, "verdict": "unknown_applicant"}
    assert ProviderEvent.objects.get().submission is None
    sent.refresh_from_db()
    assert sent.status == KycSubmission.Status.PENDING


def test_the_webhook_needs_no_user_authentication_but_only_takes_post(sent, sumsub, api_client):
    assert_error(api_client.get(WEBHOOK), 405, "method_not_allowed")


def test_vendor_labels_map_to_our_reasons():
    assert reject_reasons_for(["BAD_FACE_MATCHING", "SELFIE_MISMATCH"]) == ["selfie_mismatch"]
    assert reject_reasons_for(["PROBLEMATIC_APPLICANT_DATA"]) == ["personal_info_mismatch"]
    assert reject_reasons_for(["FRAUDULENT_PATTERNS"]) == ["suspected_fraud"]
    assert reject_reasons_for(["SOMETHING_NEW"]) == ["other"]
    assert reject_reasons_for(["SOMETHING_NEW", "EXPIRATION_DATE"]) == ["document_expired"]
    assert reject_reasons_for([]) == ["other"]


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_review_is_delivered_by_the_vendor_to_the_live_webhook(alice, sumsub, make_submission, live_server):
    """End to end: the double completes the review (sandbox testCompleted, a signed request) and POSTs the signed
    applicantReviewed to our running server, as Sumsub does."""
    from apps.kyc.services.providers.sumsub import SumsubClient

    submission = make_submission(alice)
    assert provider_submit.apply(args=[submission.pk]).successful()
    submission.refresh_from_db()
    sumsub.webhook_url = live_server.url + WEBHOOK
    SumsubClient.from_settings().request(
        "POST",
        f"/resources/applicants/{submission.provider_reference}/status/testCompleted",
        json={"reviewAnswer": "GREEN", "rejectLabels": []},
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not ProviderEvent.objects.exists():
        time.sleep(0.05)
    submission.refresh_from_db()
    assert submission.status == KycSubmission.Status.VERIFIED
    assert ProviderEvent.objects.get().verdict == "applied"


def test_without_credentials_the_task_fails_at_once_without_retrying(alice, sumsub, make_submission, settings):
    submission = make_submission(alice)
    settings.SUMSUB_APP_TOKEN = None
    retries = []
    task_retry.connect(lambda **kwargs: retries.append(1), weak=False, dispatch_uid="qd-no-creds")
    try:
        result = provider_submit.apply(args=[submission.pk])
    finally:
        task_retry.disconnect(dispatch_uid="qd-no-creds")
    assert result.failed()
    assert result.result.code == "provider_not_configured"
    assert retries == []
    assert sumsub.state.requests == []


def test_no_new_submission_after_a_final_vendor_rejection(alice, sent, sumsub, submit, api_client, api_client_for):
    # FINAL with a label we map to a non-final reason: the vendor's FINAL decides.
    review(api_client, sumsub, sent, reviewAnswer="RED", reviewRejectType="FINAL", rejectLabels=["LOW_QUALITY"])
    assert api_client_for(alice).get("/api/users/kyc/status").json()["can_submit"] is False
    assert_error(submit(alice), 409, "resubmission_not_allowed")
    assert KycSubmission.objects.filter(user=alice).count() == 1


@pytest.mark.parametrize(
    ("review_result", "verdict", "status"),
    [
        (["GREEN"], "ignored", KycSubmission.Status.PENDING),
        ({"reviewAnswer": "MAYBE"}, "ignored", KycSubmission.Status.PENDING),
        (
            {"reviewAnswer": "RED", "reviewRejectType": "RETRY", "rejectLabels": "FORGERY", "moderationComment": 5},
            "applied",
            KycSubmission.Status.RESUBMISSION_REQUIRED,
        ),
    ],
    ids=["result-not-an-object", "unknown-answer", "fields-of-the-wrong-type"],
)
def test_odd_field_types_in_a_signed_review_are_not_a_500(sent, sumsub, api_client, review_result, verdict, status):
    payload = {
        "applicantId": sent.provider_reference,
        "type": "applicantReviewed",
        "createdAtMs": "2026-01-02 10:00:00.000",
        "reviewResult": review_result,
    }
    response = deliver(api_client, *sumsub.sign(json.dumps(payload).encode()))
    assert response.status_code == 200, response.content
    assert response.json()["verdict"] == verdict
    sent.refresh_from_db()
    assert sent.status == status
    if status == KycSubmission.Status.RESUBMISSION_REQUIRED:
        assert sent.reject_reasons == ["other"]
        assert sent.reviewer_message  # "other" always comes with a message for the user


def test_the_sweep_sends_again_what_never_reached_the_vendor(alice, bob, sumsub, make_submission):
    from datetime import timedelta

    from django.utils import timezone

    from apps.kyc.tasks_provider import provider_sweep
    from engipay.celery import app

    stuck = make_submission(alice)  # its queueing was lost
    fresh = make_submission(bob)  # its task may still be on the way
    KycSubmission.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=1))
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True  # .delay runs here, no broker involved
    try:
        assert provider_sweep.apply().result == 1
    finally:
        app.conf.task_always_eager = eager
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.provider_result["check_requested_at"]
    assert fresh.provider_reference == ""
    assert provider_sweep.apply().result == 0


def test_a_tier_2_upgrade_moves_the_applicant_and_the_vendor_is_only_the_first_of_four_eyes(
    alice, sent, sumsub, api_client, api_client_for, make_submission
):
    from apps.accounts.models import User
    from apps.kyc.services.review import kyc_submission_approve

    review(api_client, sumsub, sent, reviewAnswer="GREEN")
    upgrade = make_submission(alice, proof_of_address=True)
    assert provider_submit.apply(args=[upgrade.pk]).successful()
    upgrade.refresh_from_db()
    applicant = sumsub.applicant(upgrade.provider_reference)
    assert upgrade.provider_reference == sent.provider_reference  # one applicant per user
    assert applicant.level_name == "full-kyc-level"  # moved from the tier_1 level
    # A verdict about the old level (e.g. Sumsub repeating the tier_1 GREEN) says nothing about the upgrade.
    applicant.level_name = "basic-kyc-level"
    stale = review(api_client, sumsub, upgrade, reviewAnswer="GREEN")
    applicant.level_name = "full-kyc-level"
    assert stale["verdict"] == "level_mismatch"
    upgrade.refresh_from_db()
    assert upgrade.first_approved_at is None
    assert review(api_client, sumsub, upgrade, reviewAnswer="GREEN")["verdict"] == "applied"
    upgrade.refresh_from_db()
    assert (upgrade.status, upgrade.first_approved_by) == ("in_review", None)
    assert upgrade.first_approved_at is not None
    assert api_client_for(alice).get("/api/users/kyc/status").json()["verification_level"] == "tier_1"
    reviewer = User.objects.create_user(email="second@engipay.local", password="x", is_staff=True)
    kyc_submission_approve(submission=upgrade, reviewer=reviewer)
    assert api_client_for(alice).get("/api/users/kyc/status").json()["verification_level"] == "tier_2"
