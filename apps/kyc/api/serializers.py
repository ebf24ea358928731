from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.kyc.models import KycSubmission, Level


class PersonalInfoInput(serializers.Serializer):
    full_name = serializers.CharField(min_length=2, max_length=200)
    date_of_birth = serializers.DateField()
    address = serializers.CharField(min_length=5, max_length=500)


class _DocumentField(serializers.Field):
    """Base64 or a ``data:`` URL in JSON, a file part in multipart; the content is checked by the service."""

    default_error_messages = {"invalid": "Send the document as base64 text (JSON) or as a file (multipart)."}

    def to_internal_value(self, data):
        if isinstance(data, UploadedFile) or (isinstance(data, str) and data.strip()):
            return data
        self.fail("invalid")

    def to_representation(self, value):  # pragma: no cover - input only
        return None


@extend_schema_field({"type": "string", "format": "byte"})
class DocumentInputField(_DocumentField):
    pass


class KycSubmitInput(serializers.Serializer):
    document_type = serializers.ChoiceField(choices=KycSubmission.DocumentType.choices)
    document_image = DocumentInputField(help_text="The identity document (JPEG, PNG, WebP or PDF).")
    selfie_image = DocumentInputField(help_text="A photo of your face (JPEG, PNG or WebP).")
    proof_of_address = DocumentInputField(
        required=False, help_text="Utility bill or bank statement less than 3 months old: asks for tier_2."
    )
    personal_info = PersonalInfoInput()


class KycSubmitOutput(serializers.Serializer):
    kyc_id = serializers.CharField()
    status = serializers.ChoiceField(choices=KycSubmission.Status.choices)
    estimated_completion = serializers.DateTimeField()
    required_documents = serializers.ListField(child=serializers.CharField())
    requested_level = serializers.ChoiceField(choices=Level.choices)


class LimitsOutput(serializers.Serializer):
    daily_transaction = serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=False)
    monthly_transaction = serializers.DecimalField(max_digits=20, decimal_places=2, coerce_to_string=False)


class RemainingOutput(LimitsOutput):
    pass


class ReasonOutput(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class KycStatusOutput(serializers.Serializer):
    kyc_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=[("not_started", "Not started"), *KycSubmission.Status.choices])
    verification_level = serializers.ChoiceField(choices=Level.choices)
    limits = LimitsOutput()
    remaining = RemainingOutput(help_text="What is left of each limit now (rolling 24 h and 30 days).")
    verified_at = serializers.DateTimeField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    reasons = ReasonOutput(many=True, help_text="Why a submission was rejected or must be redone.")
    reviewer_message = serializers.CharField(allow_blank=True)
    can_submit = serializers.BooleanField(help_text="Whether POST /api/users/kyc/submit is open to the user now.")
