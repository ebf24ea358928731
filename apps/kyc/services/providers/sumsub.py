"""Sumsub (reference/external-apis.md section 3): create an applicant, upload its documents, request a check; the
verdict comes back in a signed ``applicantReviewed`` webhook.

Requests are signed with the app token's secret (``X-App-Access-Sig`` = hex HMAC-SHA256 over ``ts + METHOD +
path_with_query + body``); webhooks are signed with the webhook's own secret (``X-Payload-Digest`` over the raw
body, algorithm in ``X-Payload-Digest-Alg``). Webhooks carry no timestamp in their signature, so a delivery is
deduplicated on (applicantId, type, createdAtMs) and a review older than the last applied one is not applied.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction

from apps.kyc.models import KycAuditEvent, KycDocument, KycSubmission, ProviderEvent
from apps.kyc.services import review
from apps.kyc.services.audit import kyc_audit_record
from apps.kyc.services.documents import kyc_document_read
from engipay.api.errors import InvalidInput, StateConflict, UpstreamError, UpstreamUnavailable

from .base import InvalidSignature, ProviderNotConfigured, WebhookOutcome

logger = logging.getLogger(__name__)

NAME = KycSubmission.Provider.SUMSUB.value
# X-Payload-Digest-Alg → hash (docs.sumsub.com/docs/webhook-manager; the names as public receivers map them).
DIGEST_ALGORITHMS = {
    "HMAC_SHA1_HEX": hashlib.sha1,
    "HMAC_SHA256_HEX": hashlib.sha256,
    "HMAC_SHA512_HEX": hashlib.sha512,
}
DOCUMENT_TYPES = {
    KycSubmission.DocumentType.PASSPORT: "PASSPORT",
    KycSubmission.DocumentType.NATIONAL_ID: "ID_CARD",
    KycSubmission.DocumentType.DRIVERS_LICENSE: "DRIVERS",
    KycSubmission.DocumentType.RESIDENCE_PERMIT: "RESIDENCE_PERMIT",
}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}
# Sumsub rejectLabels → our REJECT_REASONS codes (the user reads our messages, never the vendor's labels).
# Sanctions/PEP/criminal labels map to suspected_fraud, whose message only says "contact support": the user is
# not told that a screening list matched. Labels not listed here become "other".
REJECT_LABELS = {
    "document_unreadable": (
        "UNSATISFACTORY_PHOTOS",
        "LOW_QUALITY",
        "SCREENSHOTS",
        "BLACK_AND_WHITE",
        "BAD_PROOF_OF_IDENTITY",
        "DOCUMENT_PAGE_MISSING",
        "FRONT_SIDE_MISSING",
        "BACK_SIDE_MISSING",
        "INCOMPLETE_DOCUMENT",
        "DOCUMENT_DAMAGED",
        "UNFILLED_ID",
    ),
    "document_expired": ("EXPIRATION_DATE", "ID_INVALID"),
    "document_type_unsupported": ("NOT_DOCUMENT", "WRONG_USER_REGION", "FOREIGNER", "INCOMPATIBLE_LANGUAGE"),
    "selfie_mismatch": (
        "SELFIE_MISMATCH",
        "BAD_FACE_MATCHING",
        "BAD_SELFIE",
        "BAD_VIDEO_SELFIE",
        "BAD_AVATAR",
        "SELFIE_WITH_PAPER",
    ),
    "personal_info_mismatch": ("PROBLEMATIC_APPLICANT_DATA", "REQUESTED_DATA_MISMATCH", "INCONSISTENT_PROFILE"),
    "proof_of_address_invalid": ("BAD_PROOF_OF_ADDRESS", "WRONG_ADDRESS"),
    "underage": ("AGE_REQUIREMENT_MISMATCH",),
    "suspected_fraud": (
        "FORGERY",
        "FRAUDULENT_PATTERNS",
        "FRAUDULENT_LIVENESS",
        "GRAPHIC_EDITOR",
        "DOCUMENT_TEMPLATE",
        "DUPLICATE",
        "SPAM",
        "BLACKLIST",
        "BLOCKLIST",
        "SANCTIONS",
        "PEP",
        "CRIMINAL",
        "ADVERSE_MEDIA",
        "COMPROMISED_PERSONS",
        "REGULATIONS_VIOLATIONS",
    ),
}
_LABEL_CODES = {label: code for code, labels in REJECT_LABELS.items() for label in labels}
_FALLBACK_MESSAGE = "Our verification provider could not confirm your identity."
_CREATED_AT_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


def reject_reasons_for(labels: list[str]) -> list[str]:
    """Our reason codes for Sumsub's rejectLabels, in order, without repeats; unknown labels give ``other``."""
    codes = [_LABEL_CODES.get(str(label).upper(), "other") for label in labels or []]
    codes = list(dict.fromkeys(codes)) or ["other"]
    if len(codes) > 1 and "other" in codes:  # a known reason already tells the user what to fix
        codes.remove("other")
    return codes


# --- the API client ------------------------------------------------------------------------------------------


def request_signature(*, secret: str, ts: str, method: str, path_with_query: str, body: bytes) -> str:
    message = ts.encode() + method.upper().encode() + path_with_query.encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SumsubClient:
    """Signed requests to the Sumsub API (the same code talks to tests/doubles/sumsub.py in tests)."""

    def __init__(self, *, base_url: str, app_token: str, secret_key: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_token = app_token
        self.secret_key = secret_key
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> SumsubClient:
        if not settings.SUMSUB_APP_TOKEN or not settings.SUMSUB_SECRET_KEY:
            raise ProviderNotConfigured(
                "provider_not_configured", "Sumsub is not configured (SUMSUB_APP_TOKEN, SUMSUB_SECRET_KEY)."
            )
        return cls(
            base_url=settings.SUMSUB_BASE_URL,
            app_token=settings.SUMSUB_APP_TOKEN,
            secret_key=settings.SUMSUB_SECRET_KEY,
            timeout=settings.SUMSUB_TIMEOUT_SECONDS,
        )

    def request(self, method: str, path: str, *, accept: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        """Send one signed request. 2xx and the ``accept`` statuses are returned; a timeout, a transport error,
        429 or 5xx raise :class:`UpstreamUnavailable` (worth retrying), any other status :class:`UpstreamError`."""
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
            request = client.build_request(method, path, **kwargs)
            body = request.read()  # the exact bytes sent, multipart boundary included
            ts = str(int(time.time()))
            request.headers["X-App-Token"] = self.app_token
            request.headers["X-App-Access-Ts"] = ts
            request.headers["X-App-Access-Sig"] = request_signature(
                secret=self.secret_key, ts=ts, method=method, path_with_query=request.url.raw_path.decode(), body=body
            )
            request.headers["Accept"] = "application/json"
            try:
                response = client.send(request)
            except httpx.TimeoutException as exc:
                raise UpstreamUnavailable("provider_unavailable", "Sumsub did not answer in time.") from exc
            except httpx.TransportError as exc:
                raise UpstreamUnavailable("provider_unavailable", "Sumsub is unreachable.") from exc
        if response.is_success or response.status_code in accept:
            return response
        details = {"status": response.status_code, **_vendor_error(response)}
        if response.status_code == 429 or response.status_code >= 500:
            raise UpstreamUnavailable("provider_unavailable", f"Sumsub answered {response.status_code}.", details)
        raise UpstreamError("provider_error", f"Sumsub refused {method} {path.split('?')[0]}.", details)

    def applicant_create(self, *, level_name: str, body: dict[str, Any]) -> httpx.Response:
        """201/200 with the applicant, or 409 when one exists for the externalUserId."""
        return self.request("POST", "/resources/applicants", params={"levelName": level_name}, json=body, accept=(409,))

    def applicant_by_external_id(self, external_user_id: str) -> dict[str, Any]:
        return _json(self.request("GET", f"/resources/applicants/-;externalUserId={external_user_id}/one"))

    def applicant_get(self, applicant_id: str) -> dict[str, Any]:
        return _json(self.request("GET", f"/resources/applicants/{applicant_id}/one"))

    def document_add(
        self, *, applicant_id: str, metadata: dict[str, Any], content: bytes, filename: str, content_type: str
    ) -> str:
        """Upload one document image; returns Sumsub's image id (``X-Image-Id``)."""
        response = self.request(
            "POST",
            f"/resources/applicants/{applicant_id}/info/idDoc",
            data={"metadata": json.dumps(metadata)},
            files={"content": (filename, content, content_type)},
        )
        return response.headers.get("X-Image-Id", "")

    def level_move(self, *, applicant_id: str, level_name: str) -> None:
        """Move an existing applicant to another level (a tier_1 applicant asking for tier_2): Sumsub's
        ``POST /resources/applicants/{id}/moveToLevel?name=<level>``."""
        self.request("POST", f"/resources/applicants/{applicant_id}/moveToLevel", params={"name": level_name})

    def check_request(self, applicant_id: str) -> httpx.Response:
        """Ask Sumsub to check the applicant (docs.sumsub.com/reference/request-applicant-check): 200 ``{"ok": 1}``,
        409 when documents are missing or the applicant is already pending/queued/prechecked."""
        return self.request("POST", f"/resources/applicants/{applicant_id}/status/pending", accept=(409,))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise UpstreamError("provider_error", "Sumsub answered with something that is not JSON.") from exc
    if not isinstance(body, dict):
        raise UpstreamError("provider_error", "Sumsub answered with an unexpected body.")
    return body


def _vendor_error(response: httpx.Response) -> dict[str, Any]:
    """Sumsub's error body ``{"description", "code", "correlationId"}``, kept for the logs and the admin."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {key: body[key] for key in ("description", "correlationId", "errorCode", "errorName") if key in body}


# --- submit --------------------------------------------------------------------------------------------------


def _fixed_info(personal_info: dict[str, Any] | None) -> dict[str, str]:
    """Sumsub has first and last name fields; we keep one full name. The last word is taken as the last name
    (Sumsub compares it with the document and reports PROBLEMATIC_APPLICANT_DATA on a mismatch). The address
    and the country are not sent: we do not collect the country, and the vendor reads it from the document."""
    info = personal_info or {}
    names = str(info.get("full_name", "")).split()
    fixed: dict[str, str] = {}
    if len(names) > 1:
        fixed["firstName"], fixed["lastName"] = " ".join(names[:-1]), names[-1]
    elif names:
        fixed["firstName"] = names[0]
    if info.get("date_of_birth"):
        fixed["dob"] = str(info["date_of_birth"])
    return fixed


def _progress_save(submission: KycSubmission, **changes: Any) -> None:
    """Merge ``changes`` into provider_result under a row lock (a webhook may be writing the verdict meanwhile).
    Outside a transaction (the submit task) each step commits at once, so a retry resumes where a run stopped."""
    fields = changes.pop("_fields", {})
    with transaction.atomic():
        locked = KycSubmission.objects.select_for_update().get(pk=submission.pk)
        locked.provider_result = {**(locked.provider_result or {}), **changes}
        for field, value in fields.items():
            setattr(locked, field, value)
        locked.save(update_fields=["provider_result", "provider_reference", "updated_at"])
    submission.provider_result = locked.provider_result
    submission.provider_reference = locked.provider_reference


def _id_doc_type(submission: KycSubmission, document: KycDocument) -> str:
    if document.kind == KycDocument.Kind.SELFIE:
        return "SELFIE"
    if document.kind == KycDocument.Kind.PROOF_OF_ADDRESS:
        return "UTILITY_BILL"
    return DOCUMENT_TYPES[submission.document_type]


class SumsubProvider:
    name = NAME

    def submit(self, *, submission: KycSubmission) -> None:
        """Create (or find) the applicant, upload the documents not uploaded yet, request the check. Each step is
        saved as it succeeds: a run after a failure does none of them twice."""
        client = SumsubClient.from_settings()
        if not submission.provider_reference:
            self._applicant_ensure(client, submission)
        applicant_id = submission.provider_reference
        uploaded = dict(submission.provider_result.get("documents") or {})
        for document in submission.documents.order_by("pk"):
            if document.kind in uploaded:
                continue
            id_doc_type = _id_doc_type(submission, document)
            image_id = client.document_add(
                applicant_id=applicant_id,
                metadata={"idDocType": id_doc_type},
                content=kyc_document_read(document=document),
                filename=f"{document.kind}.{EXTENSIONS.get(document.content_type, 'bin')}",
                content_type=document.content_type,
            )
            uploaded[document.kind] = {"idDocType": id_doc_type, "imageId": image_id}
            _progress_save(submission, documents=uploaded)
        if not submission.provider_result.get("check_requested_at"):
            self._check_request(client, submission)

    def _applicant_ensure(self, client: SumsubClient, submission: KycSubmission) -> None:
        level_name = settings.SUMSUB_LEVEL_NAMES.get(submission.requested_level)
        if not level_name:
            raise ProviderNotConfigured(
                "provider_not_configured", f"SUMSUB_LEVEL_NAMES has no level for {submission.requested_level}."
            )
        external_user_id = str(submission.user_id)
        body = {"externalUserId": external_user_id, "type": "individual"}
        fixed = _fixed_info(submission.personal_info)
        if fixed:
            body["fixedInfo"] = fixed
        response = client.applicant_create(level_name=level_name, body=body)
        existing = response.status_code == 409  # one applicant per user: a resubmission goes to the same one
        applicant = client.applicant_by_external_id(external_user_id) if existing else _json(response)
        applicant_id = applicant.get("id")
        if not isinstance(applicant_id, str) or not applicant_id or len(applicant_id) > 64:
            raise UpstreamError("provider_error", "Sumsub answered without an applicant id.")
        if existing and applicant.get("levelName") != level_name:
            # The user's applicant was checked at another level (tier_1): this submission asks for this level.
            client.level_move(applicant_id=applicant_id, level_name=level_name)
        _progress_save(
            submission,
            applicant_id=applicant_id,
            level_name=level_name,
            _fields={"provider_reference": applicant_id},
        )
        kyc_audit_record(
            action=KycAuditEvent.Action.PROVIDER_CREATED,
            submission=submission,
            details={"provider": NAME, "applicant_id": applicant_id, "level_name": level_name, "existing": existing},
        )

    def _check_request(self, client: SumsubClient, submission: KycSubmission) -> None:
        response = client.check_request(submission.provider_reference)
        if response.status_code == 409:
            # Already being checked (a run that died after asking) is fine. Anything else is a real refusal, e.g. an
            # applicant rejected FINAL by Sumsub: the submission stays pending for the reviewers' queue.
            status = (client.applicant_get(submission.provider_reference).get("review") or {}).get("reviewStatus")
            if status not in ("pending", "queued", "prechecked", "onHold"):
                raise UpstreamError("provider_error", "Sumsub refused to check the applicant.", _vendor_error(response))
        _progress_save(submission, check_requested_at=datetime.now(tz=UTC).isoformat())

    # --- webhooks --------------------------------------------------------------------------------------------

    def handle_webhook(self, *, raw_body: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
        payload = parse_webhook(raw_body=raw_body, headers=headers)
        return _webhook_apply(payload)


def webhook_digest_verify(*, raw_body: bytes, headers: Mapping[str, str]) -> None:
    secret = settings.SUMSUB_WEBHOOK_SECRET
    if not secret:
        raise ProviderNotConfigured("provider_not_configured", "Sumsub webhooks are not configured.")
    algorithm = DIGEST_ALGORITHMS.get(headers.get("X-Payload-Digest-Alg") or "")
    digest = (headers.get("X-Payload-Digest") or "").strip().lower()
    if algorithm is None or not digest:
        raise InvalidSignature("invalid_signature", "Missing signature or unknown signature algorithm.")
    expected = hmac.new(secret.encode(), raw_body, algorithm).hexdigest()
    if not hmac.compare_digest(expected.encode(), digest.encode()):
        raise InvalidSignature("invalid_signature", "The payload digest does not match.")


def parse_webhook(*, raw_body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """Verify the digest over the raw bytes, then parse; refuses before anything is stored."""
    webhook_digest_verify(raw_body=raw_body, headers=headers)
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("malformed_payload", "The webhook body is not JSON.") from None
    if not isinstance(payload, dict):
        raise InvalidInput("malformed_payload", "The webhook body is not a JSON object.")
    for field in ("applicantId", "type"):
        value = payload.get(field)
        if not isinstance(value, str) or not value or len(value) > 64:
            raise InvalidInput("malformed_payload", f"The webhook has no valid {field}.", {"field": field})
    return payload


def _created_at(payload: dict[str, Any]) -> datetime | None:
    """``createdAtMs`` is ``yyyy-MM-dd HH:mm:ss.fff`` in UTC (not ISO); ``createdAt`` is its seconds twin."""
    for field, fmt in zip(("createdAtMs", "createdAt"), _CREATED_AT_FORMATS, strict=True):
        value = payload.get(field)
        if isinstance(value, str):
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    return None


def _event_key(payload: dict[str, Any], raw_body: str) -> str:
    stamp = payload.get("createdAtMs") or payload.get("createdAt")
    if not isinstance(stamp, str) or len(stamp) > 40:
        stamp = "sha256:" + hashlib.sha256(raw_body.encode()).hexdigest()
    return f"{payload['applicantId']}:{payload['type']}:{stamp}"


def _webhook_apply(payload: dict[str, Any]) -> WebhookOutcome:
    key = _event_key(payload, json.dumps(payload, sort_keys=True))
    with transaction.atomic():
        # The applicant's latest submission (a resubmission reuses the applicant), locked so that two deliveries
        # for one applicant are applied one after the other.
        submission = (
            KycSubmission.objects.select_for_update()
            .filter(provider=NAME, provider_reference=payload["applicantId"])
            .order_by("-created_at")
            .first()
        )
        try:
            with transaction.atomic():
                event = ProviderEvent.objects.create(
                    provider=NAME,
                    event_key=key,
                    event_type=payload["type"][:64],
                    submission=submission,
                    payload=payload,
                    verdict="received",
                )
        except IntegrityError:
            return WebhookOutcome(event=ProviderEvent.objects.get(provider=NAME, event_key=key), duplicate=True)
        event.verdict = _event_verdict(event, submission, payload)
        event.save(update_fields=["verdict"])
    logger.info("Sumsub %s for %s: %s", payload["type"], payload["applicantId"], event.verdict)
    return WebhookOutcome(event=event, duplicate=False)


def _last_applied_at(applicant_id: str, exclude: int) -> datetime | None:
    applied = ProviderEvent.objects.filter(
        provider=NAME, event_key__startswith=f"{applicant_id}:", verdict="applied"
    ).exclude(pk=exclude)
    stamps = [stamp for stamp in (_created_at(e.payload) for e in applied) if stamp is not None]
    return max(stamps, default=None)


def _event_verdict(event: ProviderEvent, submission: KycSubmission | None, payload: dict[str, Any]) -> str:
    if submission is None:
        return "unknown_applicant"
    created_at = _created_at(payload)
    last = _last_applied_at(payload["applicantId"], exclude=event.pk)
    stale = created_at is not None and last is not None and created_at < last
    if payload["type"] == "applicantReviewed":
        verdict = "out_of_order" if stale else _review_apply(submission, payload)
        kyc_audit_record(
            action=KycAuditEvent.Action.PROVIDER_RESULT,
            submission=submission,
            details={"provider": NAME, "event_key": event.event_key, "verdict": verdict, **_verdict_summary(payload)},
        )
        return verdict
    if payload["type"] == "applicantPending" and not stale and submission.status == KycSubmission.Status.PENDING:
        review.kyc_review_start(submission=submission, reviewer=None)
        return "applied"
    return "out_of_order" if stale else "ignored"


def _text(value: Any, limit: int = 2000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _texts(value: Any) -> list[str]:
    return [_text(item, 100) for item in value if isinstance(item, str)][:50] if isinstance(value, list) else []


def _verdict_summary(payload: dict[str, Any]) -> dict[str, Any]:
    """The vendor's verdict without anything personal (webhooks carry none; this keeps only the review), with
    every field coerced to its documented type: a malformed field is dropped, never a 500."""
    result = payload.get("reviewResult") if isinstance(payload.get("reviewResult"), dict) else {}
    return {
        "applicant_id": _text(payload.get("applicantId")),
        "inspection_id": _text(payload.get("inspectionId")),
        "level_name": _text(payload.get("levelName")),
        "review_status": _text(payload.get("reviewStatus")),
        "created_at_ms": _text(payload.get("createdAtMs")),
        "sandbox_mode": payload.get("sandboxMode") is True,
        "review_answer": _text(result.get("reviewAnswer")),
        "review_reject_type": _text(result.get("reviewRejectType")),
        "reject_labels": _texts(result.get("rejectLabels")),
        "button_ids": _texts(result.get("buttonIds")),
        "moderation_comment": _text(result.get("moderationComment")),
        "client_comment": _text(result.get("clientComment")),
    }


def _review_apply(submission: KycSubmission, payload: dict[str, Any]) -> str:
    """GREEN → verified; RED+RETRY → resubmission_required; other RED → rejected; RED after GREEN → the
    verification is withdrawn. A decision the submission's state does not allow (e.g. GREEN after a rejection) is
    kept for reviewers and not applied."""
    summary = _verdict_summary(payload)
    answer = summary["review_answer"]
    if answer not in ("GREEN", "RED"):
        return "ignored"
    expected_level = settings.SUMSUB_LEVEL_NAMES.get(submission.requested_level)
    if summary["level_name"] and summary["level_name"] != expected_level:
        # A verdict on another level (the user's earlier tier_1 check) says nothing about this submission.
        return "level_mismatch"
    try:
        with transaction.atomic():
            if answer == "GREEN":
                review.kyc_submission_approve(submission=submission, reviewer=None)
            else:
                if submission.status == KycSubmission.Status.VERIFIED:
                    # Sumsub may send a RED after a GREEN (docs: "several final webhooks"): the verification is
                    # withdrawn, whatever the reject type.
                    refuse = review.kyc_verification_revoke
                elif summary["review_reject_type"] == "RETRY":
                    refuse = review.kyc_submission_request_resubmission
                else:
                    refuse = review.kyc_submission_reject
                codes = reject_reasons_for(summary["reject_labels"])
                message = summary["moderation_comment"] or (_FALLBACK_MESSAGE if codes == ["other"] else "")
                refuse(
                    submission=submission, reviewer=None, reasons=codes, message=message, note=summary["client_comment"]
                )
    except StateConflict:
        return "conflict"
    _progress_save(submission, review=summary)
    return "applied"
