"""POST /api/users/kyc/submit and GET /api/users/kyc/status: guide shapes, every status transition (and the illegal
ones), resubmission, limits per tier, the error shape."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.kyc.models import KycAuditEvent, KycDocument, KycSubmission, Verification
from apps.kyc.services import review
from apps.notifications.models import Notification
from engipay.api.errors import Forbidden, InvalidInput, StateConflict

from .conftest import image_b64, submission_body

pytestmark = pytest.mark.django_db


def status_of(api_client_for, user) -> dict:
    response = api_client_for(user).get("/api/users/kyc/status")
    assert response.status_code == 200, response.content
    return response.json()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]


def test_status_before_any_submission_is_not_started_with_tier_0_limits(alice, api_client_for, settings):
    body = status_of(api_client_for, alice)
    assert body["kyc_id"] is None
    assert body["status"] == "not_started"
    assert body["verification_level"] == "tier_0"
    assert body["limits"] == {
        "daily_transaction": int(settings.KYC_LIMITS["tier_0"]["daily"]),
        "monthly_transaction": int(settings.KYC_LIMITS["tier_0"]["monthly"]),
    }
    assert body["verified_at"] is None
    assert body["can_submit"] is True


def test_submit_returns_the_guide_shape_and_stores_encrypted_documents(alice, submit, api_client_for):
    response = submit(alice)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {"kyc_id", "status", "estimated_completion", "required_documents"}
    assert body["kyc_id"].startswith("kyc_")
    assert len(body["kyc_id"]) > 12
    assert body["status"] == "pending"
    assert body["required_documents"] == ["passport", "selfie"]
    assert body["requested_level"] == "tier_1"
    submission = KycSubmission.objects.get(pk=body["kyc_id"])
    assert submission.user == alice
    assert submission.personal_info == {
        "full_name": "Ada Lovelace",
        "date_of_birth": "1990-01-01",
        "address": "12 Main St, London",
    }
    assert sorted(submission.documents.values_list("kind", flat=True)) == ["document", "selfie"]
    assert KycAuditEvent.objects.filter(submission=submission, action="submitted", actor=alice).exists()
    status = status_of(api_client_for, alice)
    assert status["kyc_id"] == body["kyc_id"]
    assert status["status"] == "pending"
    assert status["can_submit"] is False
    alice.refresh_from_db()
    assert alice.kyc_status == "pending"


def test_personal_info_is_not_stored_in_clear(alice, submit):
    from django.db import connection

    kyc_id = submit(alice).json()["kyc_id"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT personal_info FROM kyc_kycsubmission WHERE id = %s", [kyc_id])
        stored = cursor.fetchone()[0]
    assert "Lovelace" not in stored
    assert "Main St" not in stored
    assert "1990" not in stored


def test_proof_of_address_asks_for_tier_2(alice, submit):
    response = submit(alice, submission_body(proof_of_address=image_b64(800, 1100)))
    assert response.status_code == 201, response.content
    assert response.json()["required_documents"] == ["passport", "selfie", "proof_of_address"]
    assert response.json()["requested_level"] == "tier_2"
    assert KycSubmission.objects.get(pk=response.json()["kyc_id"]).needs_second_review is True


def test_multipart_submission(alice, api_client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .conftest import image_bytes

    response = api_client_for(alice).post(
        "/api/users/kyc/submit",
        {
            "document_type": "national_id",
            "document_image": SimpleUploadedFile("id.png", image_bytes(), content_type="image/png"),
            "selfie_image": SimpleUploadedFile("me.jpg", image_bytes(480, 640, "JPEG"), content_type="image/jpeg"),
            "personal_info": '{"full_name": "Ada Lovelace", "date_of_birth": "1990-01-01", "address": "1 High St"}',
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["required_documents"] == ["national_id", "selfie"]


def test_multipart_with_flat_personal_info_fields(alice, api_client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .conftest import image_bytes

    response = api_client_for(alice).post(
        "/api/users/kyc/submit",
        {
            "document_type": "passport",
            "document_image": SimpleUploadedFile("id.png", image_bytes(), content_type="image/png"),
            "selfie_image": SimpleUploadedFile("me.png", image_bytes(480, 640), content_type="image/png"),
            "full_name": "Ada Lovelace",
            "date_of_birth": "1990-01-01",
            "address": "1 High St, London",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"document_type": "library_card"}, "invalid", "document_type"),
        ({"document_image": ""}, "invalid", "document_image"),
        ({"selfie_image": None}, "invalid", "selfie_image"),
        ({"personal_info": {"full_name": "A", "date_of_birth": "1990-01-01", "address": "1 High St"}}, None, None),
        ({"personal_info": {"full_name": "Ada L", "date_of_birth": "01/01/1990", "address": "1 High St"}}, None, None),
    ],
)
def test_bad_input_is_400_and_stores_nothing(alice, submit, change, code, field, kyc_private_root):
    response = submit(alice, submission_body(**change))
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    if field:
        assert field in str(body["details"])
    assert not KycSubmission.objects.exists()
    assert not KycDocument.objects.exists()
    assert not kyc_private_root.exists() or not any(p.is_file() for p in kyc_private_root.rglob("*"))


def test_missing_personal_info_is_400(alice, submit):
    body = submission_body()
    del body["personal_info"]
    assert submit(alice, body).status_code == 400


def test_underage_and_future_birth_dates_are_refused(alice, submit):
    young = (timezone.now().date() - timedelta(days=365 * 17)).isoformat()
    info = {"full_name": "Young One", "date_of_birth": young, "address": "1 High St"}
    assert_error(submit(alice, submission_body(personal_info=info)), 400, "underage")
    future = (timezone.now().date() + timedelta(days=3)).isoformat()
    info = {"full_name": "Not Born", "date_of_birth": future, "address": "1 High St"}
    assert_error(submit(alice, submission_body(personal_info=info)), 400, "invalid_date_of_birth")
    assert not KycSubmission.objects.exists()


def test_a_bad_document_is_refused_with_the_error_shape(alice, submit):
    response = submit(alice, submission_body(document_image="aGVsbG8gd29ybGQ="))  # "hello world"
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"].startswith("document_"), error
    assert error["details"].get("field") == "document_image"
    assert not KycSubmission.objects.exists()


def test_unauthenticated_is_401(api_client):
    assert_error(api_client.get("/api/users/kyc/status"), 401, "not_authenticated")
    assert api_client.post("/api/users/kyc/submit", submission_body(), format="json").status_code == 401


def test_one_open_submission_per_user(alice, submit):
    first = submit(alice)
    assert first.status_code == 201
    error = assert_error(submit(alice), 409, "submission_open")
    assert error["details"]["kyc_id"] == first.json()["kyc_id"]
    assert KycSubmission.objects.filter(user=alice).count() == 1


def test_oversized_body_is_413(alice, submit, settings):
    settings.KYC_REQUEST_MAX_BYTES = 64 * 1024
    import base64
    import io
    import os

    from PIL import Image

    noise = io.BytesIO()
    Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3)).save(noise, format="PNG")  # incompressible
    body = submission_body(document_image=base64.b64encode(noise.getvalue()).decode())
    assert_error(submit(alice, body), 413, "payload_too_large")
    assert not KycSubmission.objects.exists()


# --- transitions -------------------------------------------------------------------------------------------------


@pytest.fixture
def reviewer(db):
    from apps.accounts.models import User

    return User.objects.create_user(email="reviewer@engipay.local", password="x", is_staff=True)


@pytest.fixture
def second_reviewer(db):
    from apps.accounts.models import User

    return User.objects.create_user(email="reviewer2@engipay.local", password="x", is_staff=True)


def test_pending_to_in_review_to_verified(alice, make_submission, reviewer, api_client_for, settings):
    submission = make_submission(alice)
    submission = review.kyc_review_start(submission=submission, reviewer=reviewer)
    assert submission.status == "in_review"
    assert status_of(api_client_for, alice)["status"] == "in_review"
    review.kyc_submission_approve(submission=submission, reviewer=reviewer)
    body = status_of(api_client_for, alice)
    assert body["status"] == "verified"
    assert body["verification_level"] == "tier_1"
    assert body["limits"]["daily_transaction"] == int(settings.KYC_LIMITS["tier_1"]["daily"])
    assert body["verified_at"] is not None
    assert body["can_submit"] is True  # tier_2 is still open to them
    notification = Notification.objects.get(user=alice, kind="kyc_verified")
    assert notification.data["verification_level"] == "tier_1"
    actions = list(KycAuditEvent.objects.filter(submission=submission).values_list("action", flat=True))
    assert {"submitted", "review_started", "approved"} <= set(actions)


def test_approving_a_pending_submission_starts_its_review(alice, make_submission, reviewer):
    submission = review.kyc_submission_approve(submission=make_submission(alice), reviewer=reviewer)
    assert submission.status == "verified"
    assert KycAuditEvent.objects.filter(submission=submission, action="review_started").exists()


@pytest.mark.parametrize("final", ["verified", "rejected", "resubmission_required"])
@pytest.mark.parametrize("doing", ["start", "approve", "reject", "resubmit"])
def test_decided_submissions_cannot_move_again(alice, make_submission, reviewer, final, doing):
    submission = make_submission(alice)
    if final == "verified":
        review.kyc_submission_approve(submission=submission, reviewer=reviewer)
    elif final == "rejected":
        review.kyc_submission_reject(submission=submission, reviewer=reviewer, reasons=["document_expired"])
    else:
        review.kyc_submission_request_resubmission(
            submission=submission, reviewer=reviewer, reasons=["selfie_mismatch"]
        )
    calls = {
        "start": lambda: review.kyc_review_start(submission=submission, reviewer=reviewer),
        "approve": lambda: review.kyc_submission_approve(submission=submission, reviewer=reviewer),
        "reject": lambda: review.kyc_submission_reject(
            submission=submission, reviewer=reviewer, reasons=["document_expired"]
        ),
        "resubmit": lambda: review.kyc_submission_request_resubmission(
            submission=submission, reviewer=reviewer, reasons=["document_unreadable"]
        ),
    }
    with pytest.raises(StateConflict) as refused:
        calls[doing]()
    assert refused.value.status_code == 409
    assert refused.value.code == ("illegal_transition")
    submission.refresh_from_db()
    assert submission.status == final


def test_in_review_cannot_be_started_again(alice, make_submission, reviewer):
    submission = review.kyc_review_start(submission=make_submission(alice), reviewer=reviewer)
    with pytest.raises(StateConflict):
        review.kyc_review_start(submission=submission, reviewer=reviewer)


def test_reject_needs_a_known_reason(alice, make_submission, reviewer):
    submission = make_submission(alice)
    with pytest.raises(InvalidInput) as missing:
        review.kyc_submission_reject(submission=submission, reviewer=reviewer, reasons=[])
    assert missing.value.code == "reason_required"
    with pytest.raises(InvalidInput) as unknown:
        review.kyc_submission_reject(submission=submission, reviewer=reviewer, reasons=["looks_odd"])
    assert unknown.value.code == "unknown_reason"
    with pytest.raises(InvalidInput) as unexplained:
        review.kyc_submission_reject(submission=submission, reviewer=reviewer, reasons=["other"], message=" ")
    assert unexplained.value.code == "message_required"
    submission.refresh_from_db()
    assert submission.status == "pending"


def test_rejection_shows_actionable_reasons_but_not_the_internal_note(alice, make_submission, reviewer, api_client_for):
    submission = make_submission(alice)
    review.kyc_submission_reject(
        submission=submission,
        reviewer=reviewer,
        reasons=["document_expired"],
        message="Your passport expired in 2019.",
        note="Checked against the MRZ; clearly expired.",
    )
    body = status_of(api_client_for, alice)
    assert body["status"] == "rejected"
    assert body["verification_level"] == "tier_0"
    assert body["reasons"] == [
        {"code": "document_expired", "message": review.REJECT_REASONS["document_expired"]["message"]}
    ]
    assert body["reviewer_message"] == "Your passport expired in 2019."
    assert "MRZ" not in str(body)
    assert body["can_submit"] is True
    assert Notification.objects.filter(user=alice, kind="kyc_rejected").exists()


def test_resubmission_after_a_request_and_after_a_rejection(alice, make_submission, reviewer, submit, api_client_for):
    first = make_submission(alice)
    review.kyc_submission_request_resubmission(submission=first, reviewer=reviewer, reasons=["document_unreadable"])
    assert Notification.objects.filter(user=alice, kind="kyc_resubmission_required").exists()
    assert status_of(api_client_for, alice)["status"] == "resubmission_required"
    second = submit(alice)
    assert second.status_code == 201, second.content
    assert status_of(api_client_for, alice)["status"] == "pending"
    review.kyc_submission_reject(
        submission=KycSubmission.objects.get(pk=second.json()["kyc_id"]), reviewer=reviewer, reasons=["selfie_mismatch"]
    )
    third = submit(alice)
    assert third.status_code == 201, third.content
    assert KycSubmission.objects.filter(user=alice).count() == 3


def test_a_final_rejection_allows_no_resubmission(alice, make_submission, reviewer, submit, api_client_for):
    review.kyc_submission_reject(submission=make_submission(alice), reviewer=reviewer, reasons=["suspected_fraud"])
    assert status_of(api_client_for, alice)["can_submit"] is False
    assert_error(submit(alice), 409, "resubmission_not_allowed")


def test_verified_at_tier_1_may_ask_for_tier_2_but_not_tier_1_again(alice, make_submission, reviewer, submit):
    review.kyc_submission_approve(submission=make_submission(alice), reviewer=reviewer)
    assert_error(submit(alice), 409, "already_verified")
    upgrade = submit(alice, submission_body(proof_of_address=image_b64(800, 1100)))
    assert upgrade.status_code == 201, upgrade.content


def test_four_eyes_for_tier_2(alice, make_submission, reviewer, second_reviewer, api_client_for, settings):
    submission = make_submission(alice, proof_of_address=True)
    submission = review.kyc_submission_approve(submission=submission, reviewer=reviewer)
    assert submission.status == "in_review"
    assert submission.first_approved_by == reviewer
    assert status_of(api_client_for, alice)["verification_level"] == "tier_0"
    with pytest.raises(Forbidden) as same:
        review.kyc_submission_approve(submission=submission, reviewer=reviewer)
    assert same.value.code == "four_eyes"
    submission = review.kyc_submission_approve(submission=submission, reviewer=second_reviewer)
    assert submission.status == "verified"
    body = status_of(api_client_for, alice)
    assert body["verification_level"] == "tier_2"
    assert body["limits"]["monthly_transaction"] == int(settings.KYC_LIMITS["tier_2"]["monthly"])
    assert KycAuditEvent.objects.filter(submission=submission, action="first_approval", actor=reviewer).exists()
    assert KycAuditEvent.objects.filter(submission=submission, action="approved", actor=second_reviewer).exists()


def test_four_eyes_can_be_switched_off(alice, make_submission, reviewer, settings):
    settings.KYC_FOUR_EYES_TIER_2 = False
    submission = review.kyc_submission_approve(
        submission=make_submission(alice, proof_of_address=True), reviewer=reviewer
    )
    assert submission.status == "verified"


def test_a_rejected_tier_2_upgrade_keeps_tier_1(alice, make_submission, reviewer, api_client_for):
    review.kyc_submission_approve(submission=make_submission(alice), reviewer=reviewer)
    upgrade = make_submission(alice, proof_of_address=True)
    review.kyc_submission_reject(submission=upgrade, reviewer=reviewer, reasons=["proof_of_address_invalid"])
    body = status_of(api_client_for, alice)
    assert body["status"] == "rejected"
    assert body["verification_level"] == "tier_1"
    assert Verification.objects.get(user=alice).level == "tier_1"


def test_another_users_status_is_their_own(alice, bob, make_submission, reviewer, api_client_for):
    review.kyc_submission_approve(submission=make_submission(alice), reviewer=reviewer)
    assert status_of(api_client_for, bob)["status"] == "not_started"
    assert status_of(api_client_for, bob)["kyc_id"] is None


# --- limits ------------------------------------------------------------------------------------------------------


def test_limits_per_tier_and_remaining_allowance(alice, make_submission, reviewer, api_client_for, settings):
    from apps.kyc.services.limits import check_limit, limit_record, limit_release

    settings.KYC_LIMITS = {
        "tier_0": {"daily": "100", "monthly": "150"},
        "tier_1": {"daily": "1000", "monthly": "5000"},
        "tier_2": {"daily": "10000", "monthly": "100000"},
    }
    check_limit(alice, Decimal("100"))
    with pytest.raises(Forbidden) as over:
        check_limit(alice, Decimal("100.01"))
    assert over.value.code == "kyc_limit_exceeded"
    assert over.value.details["daily_remaining"] == Decimal("100")
    assert over.value.details["verification_level"] == "tier_0"
    assert limit_record(user=alice, usd_amount=Decimal("60"), reference="tx:a", kind="transaction")[1] is True
    again = limit_record(user=alice, usd_amount=Decimal("60"), reference="tx:a", kind="transaction")  # idempotent
    assert again[1] is False
    body = status_of(api_client_for, alice)
    assert body["remaining"] == {"daily_transaction": 40, "monthly_transaction": 90}
    with pytest.raises(Forbidden):
        limit_record(user=alice, usd_amount=Decimal("40.01"), reference="tx:b", kind="transaction")
    # Older usage leaves the daily window but stays in the monthly one.
    from apps.kyc.models import LimitUsage

    LimitUsage.objects.filter(reference="tx:a").update(created_at=timezone.now() - timedelta(days=2))
    with pytest.raises(Forbidden) as monthly:
        check_limit(alice, Decimal("95"))
    assert "monthly" in monthly.value.message
    check_limit(alice, Decimal("90"))
    assert limit_release(reference="tx:a") is True
    assert limit_release(reference="tx:a") is False
    check_limit(alice, Decimal("100"))
    # A released usage counts again (and is checked again) when the same reference comes back.
    with pytest.raises(Forbidden):
        limit_record(user=alice, usd_amount=Decimal("151"), reference="tx:a", kind="transaction")
    assert limit_record(user=alice, usd_amount=Decimal("60"), reference="tx:a", kind="transaction")[1] is True
    assert LimitUsage.objects.get(reference="tx:a").released_at is None
    limit_release(reference="tx:a")
    review.kyc_submission_approve(submission=make_submission(alice), reviewer=reviewer)
    check_limit(alice, Decimal("1000"))
    with pytest.raises(Forbidden):
        check_limit(alice, Decimal("1000.01"))


def test_limit_amounts_must_be_decimals(alice):
    from apps.kyc.services.limits import check_limit

    with pytest.raises(InvalidInput):
        check_limit(alice, Decimal("-1"))
    with pytest.raises(InvalidInput):
        check_limit(alice, Decimal("NaN"))
    with pytest.raises(InvalidInput):
        check_limit(alice, 10.5)  # type: ignore[arg-type]


def test_a_verification_can_be_revoked_and_the_level_falls_back(alice, make_submission, reviewer, api_client_for):
    tier_1 = review.kyc_submission_approve(submission=make_submission(alice), reviewer=reviewer)
    with pytest.raises(StateConflict):  # only a verified submission can be revoked
        review.kyc_verification_revoke(
            submission=make_submission(alice, proof_of_address=True), reviewer=reviewer, reasons=["suspected_fraud"]
        )
    review.kyc_verification_revoke(submission=tier_1, reviewer=reviewer, reasons=["suspected_fraud"])
    body = status_of(api_client_for, alice)
    assert body["verification_level"] == "tier_0"
    assert body["verified_at"] is None
    assert Notification.objects.filter(user=alice, kind="kyc_rejected", data__revoked=True).exists()


def test_deeply_nested_json_is_400_not_500(alice, api_client_for):
    deep = '{"personal_info": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api_client_for(alice).post("/api/users/kyc/submit", deep, content_type="application/json")
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}
    multipart = api_client_for(alice).post(
        "/api/users/kyc/submit", {"document_type": "passport", "personal_info": "[" * 100_000}, format="multipart"
    )
    assert multipart.status_code == 400, multipart.content


def test_an_implausibly_old_birth_date_is_refused(alice, submit):
    info = {"full_name": "Very Old", "date_of_birth": "0001-01-01", "address": "1 High St, London"}
    response = submit(alice, submission_body(personal_info=info))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_date_of_birth"


def test_a_reviewer_cannot_decide_their_own_submission(make_submission, reviewer):
    own = make_submission(reviewer)
    for call in (
        lambda: review.kyc_review_start(submission=own, reviewer=reviewer),
        lambda: review.kyc_submission_approve(submission=own, reviewer=reviewer),
        lambda: review.kyc_submission_reject(submission=own, reviewer=reviewer, reasons=["document_expired"]),
        lambda: review.kyc_submission_request_resubmission(
            submission=own, reviewer=reviewer, reasons=["document_expired"]
        ),
    ):
        with pytest.raises(Forbidden) as refused:
            call()
        assert refused.value.code == "own_submission"
    own.refresh_from_db()
    assert own.status == "pending"
