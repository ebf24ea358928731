"""Dispute statements and evidence: request and response shapes."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.escrow.models import DisputeEvidence, DisputeStatement
from engipay.api.validation import upload_item_field

FILES_HELP = (
    "Up to ESCROW_EVIDENCE_PER_STATEMENT (5) files of at most ESCROW_EVIDENCE_MAX_BYTES (5 MiB) each: PNG, JPEG, "
    "WebP, PDF or plain UTF-8 text, recognised from the content (images are re-encoded without metadata, PDFs "
    "lose their metadata; files that are also another format are refused). JSON: base64 strings or data URLs; "
    "multipart/form-data: file parts named `files`."
)


EvidenceItemField = upload_item_field(noun="evidence file", example="data:application/pdf;base64,JVBERi0…")


class StatementInput(serializers.Serializer):
    text = serializers.CharField(
        allow_blank=True, help_text="Your account of the dispute: required, at most 5,000 characters."
    )
    files = serializers.ListField(child=EvidenceItemField(), default=list, help_text=FILES_HELP)


class EvidenceOutput(serializers.ModelSerializer):
    filename = serializers.CharField(source="original_name")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DisputeEvidence
        fields = ["id", "filename", "content_type", "size", "sha256", "download_url", "created_at"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, evidence: DisputeEvidence) -> str:
        path = reverse(
            "escrow-dispute-evidence",
            kwargs={"escrow_id": evidence.statement.escrow_id, "evidence_id": evidence.pk},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class StatementOutput(serializers.ModelSerializer):
    mine = serializers.SerializerMethodField(help_text="true: you wrote it.")
    evidence = EvidenceOutput(many=True, read_only=True)

    class Meta:
        model = DisputeStatement
        fields = ["id", "role", "mine", "text", "evidence", "created_at"]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_mine(self, statement: DisputeStatement) -> bool:
        request = self.context.get("request")
        return request is not None and statement.author_id == request.user.pk


class StatementListOutput(serializers.Serializer):
    escrow_id = serializers.UUIDField()
    status = serializers.CharField(help_text="The escrow's status (disputed while the resolver decides).")
    statements = StatementOutput(many=True, help_text="Both parties' statements, oldest first.")
