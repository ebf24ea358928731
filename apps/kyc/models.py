"""KYC/AML: identity submissions and their encrypted documents, reviewers' audit trail, verification levels and
limit usage, sanctions lists and AML cases (API guide section 7, DESIGN.md section 10)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.deconstruct import deconstructible

from engipay.storage import PrivateFileSystemStorage

from . import crypto


@deconstructible
class PrivateKycStorage(PrivateFileSystemStorage):
    """Encrypted document files under KYC_PRIVATE_ROOT, outside every public root, with no URL: the bytes are
    only ever decrypted and streamed by the reviewers' permission-checked, audited view."""

    root_setting = "KYC_PRIVATE_ROOT"
    what = "Identity documents"


private_storage = PrivateKycStorage()


def new_submission_id() -> str:
    return "kyc_" + secrets.token_hex(10)


class Level(models.TextChoices):
    TIER_0 = "tier_0", "Tier 0 (wallet only)"
    TIER_1 = "tier_1", "Tier 1 (ID + selfie)"
    TIER_2 = "tier_2", "Tier 2 (ID + selfie + proof of address)"


class EncryptedJSONField(models.TextField):
    """A JSON value stored as a Fernet token (personal info). Not searchable or filterable, by design."""

    description = "JSON encrypted at rest"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None
        return crypto.decrypt_json(value)

    def to_python(self, value):
        if value is None or not isinstance(value, str):
            return value
        try:
            return crypto.decrypt_json(value)
        except crypto.InvalidToken:
            return value

    def get_prep_value(self, value):
        if value is None:
            return None
        return crypto.encrypt_json(value)


class KycSubmission(models.Model):
    """One attempt at verification. ``not_started`` is a user without submissions; one open (pending or in
    review) submission per user; a new one may follow a rejection or a resubmission request."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_REVIEW = "in_review", "In review"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"
        RESUBMISSION_REQUIRED = "resubmission_required", "Resubmission required"

    OPEN = (Status.PENDING, Status.IN_REVIEW)
    FINAL = (Status.VERIFIED, Status.REJECTED, Status.RESUBMISSION_REQUIRED)

    class DocumentType(models.TextChoices):
        PASSPORT = "passport", "Passport"
        NATIONAL_ID = "national_id", "National ID card"
        DRIVERS_LICENSE = "drivers_license", "Driver's licence"
        RESIDENCE_PERMIT = "residence_permit", "Residence permit"

    class Provider(models.TextChoices):
        MANUAL = "manual", "Manual review"
        SUMSUB = "sumsub", "Sumsub"

    id = models.CharField(primary_key=True, max_length=32, default=new_submission_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kyc_submissions")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_level = models.CharField(max_length=8, choices=Level.choices, default=Level.TIER_1)
    document_type = models.CharField(max_length=20, choices=DocumentType.choices)
    personal_info = EncryptedJSONField(
        blank=True, null=True, help_text="full_name, date_of_birth, address (encrypted; null once purged)."
    )
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.MANUAL)
    provider_reference = models.CharField(max_length=64, blank=True, help_text="The vendor's applicant id.")
    provider_result = models.JSONField(default=dict, blank=True, help_text="The vendor's verdict (no personal data).")
    # What the user may read (reasons they can act on) and what only reviewers read.
    reject_reasons = models.JSONField(default=list, blank=True)
    reviewer_message = models.TextField(blank=True, help_text="Shown to the user.")
    internal_note = models.TextField(blank=True, help_text="Reviewers only.")
    needs_second_review = models.BooleanField(default=False)
    review_started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_started_at = models.DateTimeField(null=True, blank=True)
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True, db_index=True)
    documents_purged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "KYC submission"
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status__in=["pending", "in_review"]), name="kyc_one_open_submission"
            )
        ]
        indexes = [models.Index(fields=["provider", "provider_reference"], name="kyc_provider_ref")]
        permissions = [
            ("view_documents_kycsubmission", "Can view identity documents and personal info"),
            ("decide_kycsubmission", "Can approve, reject or ask for resubmission"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class KycDocument(models.Model):
    """An identity document image/PDF, validated, stripped of metadata and encrypted before it touches disk."""

    class Kind(models.TextChoices):
        DOCUMENT = "document", "Identity document"
        SELFIE = "selfie", "Selfie"
        PROOF_OF_ADDRESS = "proof_of_address", "Proof of address"

    submission = models.ForeignKey(KycSubmission, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    file = models.FileField(storage=private_storage, upload_to="documents/%Y/%m/", max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField(help_text="Bytes of the plaintext.")
    sha256 = models.CharField(max_length=64, help_text="Of the plaintext.")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["submission", "kind"]
        verbose_name = "KYC document"
        constraints = [models.UniqueConstraint(fields=["submission", "kind"], name="kyc_one_document_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.submission_id}"


class KycAuditEvent(models.Model):
    """Who did what, when, to which submission or AML case. Append-only: nobody edits or deletes it in the admin."""

    class Action(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        REVIEW_STARTED = "review_started", "Review started"
        DOCUMENT_VIEWED = "document_viewed", "Document viewed"
        PERSONAL_INFO_VIEWED = "personal_info_viewed", "Personal info viewed"
        FIRST_APPROVAL = "first_approval", "First approval (awaits a second reviewer)"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        RESUBMISSION_REQUESTED = "resubmission_requested", "Resubmission requested"
        PROVIDER_CREATED = "provider_created", "Sent to the verification provider"
        PROVIDER_RESULT = "provider_result", "Provider result received"
        DOCUMENTS_PURGED = "documents_purged", "Documents deleted (retention)"
        AML_HIT = "aml_hit", "Sanctions hit"
        AML_CLEARED = "aml_cleared", "AML case cleared"
        AML_CONFIRMED = "aml_confirmed", "AML case confirmed"

    submission = models.ForeignKey(
        KycSubmission, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    aml_case = models.ForeignKey(
        "AmlCase", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for the system (provider webhooks, retention, screening).",
    )
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "KYC audit event"

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor or 'system'} at {self.created_at:%Y-%m-%d %H:%M}"


class Verification(models.Model):
    """A user's current verification: the level their limits come from. No row = tier_0, not_started."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="kyc_verification"
    )
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.TIER_0)
    submission = models.ForeignKey(KycSubmission, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.level}"


class LimitUsage(models.Model):
    """USD value a user moved through EngiPay, counted against their tier's rolling daily and monthly limits.
    ``reference`` makes recording idempotent (e.g. ``tx:<network>:<hash>``); a failed transaction is released."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kyc_limit_usage")
    usd_amount = models.DecimalField(max_digits=20, decimal_places=2)
    reference = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=24, help_text="transaction, escrow, merchant_payment, ...")
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="kyc_usage_user_time")]

    def __str__(self) -> str:
        return f"{self.usd_amount} USD {self.reference}"


class SanctionsList(models.Model):
    """One import of a sanctions file. The newest ``is_current`` list is the one screened against."""

    source = models.CharField(max_length=32, default="ofac_sdn")
    sha256 = models.CharField(max_length=64)
    file_name = models.CharField(max_length=255, blank=True)
    entry_count = models.PositiveIntegerField(default=0)
    address_count = models.PositiveIntegerField(default=0)
    is_current = models.BooleanField(default=False)
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-loaded_at"]
        verbose_name = "sanctions list"
        constraints = [models.UniqueConstraint(fields=["source", "sha256"], name="kyc_sanctions_list_once")]

    def __str__(self) -> str:
        return f"{self.source} {self.sha256[:12]} ({self.address_count} addresses)"


class SanctionedAddress(models.Model):
    """A digital currency address of a sanctions list entry (``Digital Currency Address - <TICKER> <address>``)."""

    sanctions_list = models.ForeignKey(SanctionsList, on_delete=models.CASCADE, related_name="addresses")
    ticker = models.CharField(max_length=10)
    address = models.CharField(max_length=128, help_text="As written in the list.")
    normalized = models.CharField(max_length=128, db_index=True, help_text="Lower-case for EVM and bech32.")
    entry_number = models.CharField(max_length=16, blank=True)
    entry_name = models.CharField(max_length=350, blank=True)

    class Meta:
        ordering = ["sanctions_list", "ticker", "normalized"]
        verbose_name_plural = "sanctioned addresses"

    def __str__(self) -> str:
        return f"{self.ticker} {self.address}"


class AmlCase(models.Model):
    """A screening hit: the action was blocked; reviewers clear it (false positive) or confirm it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLEARED = "cleared", "Cleared (false positive)"
        CONFIRMED = "confirmed", "Confirmed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="aml_cases"
    )
    address = models.CharField(max_length=128)
    normalized = models.CharField(max_length=128, db_index=True)
    chain_kind = models.CharField(max_length=16, blank=True)
    context = models.CharField(max_length=32, help_text="wallet_link, wallet_sign_in, transaction_prepare, ...")
    source = models.CharField(max_length=32, help_text="ofac_sdn or chainalysis")
    sanctions_list = models.ForeignKey(SanctionsList, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    match = models.JSONField(default=dict, blank=True, help_text="The list entry or vendor identification.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    resolution_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = "AML case"

    def __str__(self) -> str:
        return f"AML case {self.pk}: {self.address} ({self.get_status_display()})"


class ProviderEvent(models.Model):
    """A verification vendor's webhook delivery: kept whole for the admin, deduplicated on ``event_key``."""

    provider = models.CharField(max_length=16)
    event_key = models.CharField(max_length=200)
    event_type = models.CharField(max_length=64, blank=True)
    submission = models.ForeignKey(KycSubmission, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField(default=dict)
    verdict = models.CharField(max_length=32, help_text="applied, ignored, duplicate, unknown_applicant, ...")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_key"], name="kyc_provider_event_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_key}"
