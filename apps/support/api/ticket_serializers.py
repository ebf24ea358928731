from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.support.models import Attachment, Priority, Ticket, TicketMessage
from apps.support.selectors.tickets import agent_display_name
from engipay.api.validation import upload_item_field


def _choice(choices: list[tuple[str, str]], name: str, **kwargs: Any) -> serializers.ChoiceField:
    allowed = ", ".join(value for value, _ in choices)
    return serializers.ChoiceField(
        choices=choices,
        error_messages={"invalid_choice": f'Unknown {name} "{{input}}". Allowed: {allowed}.'},
        **kwargs,
    )


AttachmentItemField = upload_item_field(noun="attachment", example="data:image/png;base64,iVBOR…")


ATTACHMENTS_HELP = (
    "Up to SUPPORT_ATTACHMENTS_PER_MESSAGE (5) files of at most SUPPORT_ATTACHMENT_MAX_BYTES (5 MiB) each: PNG, "
    "JPEG, WebP, PDF or plain UTF-8 text, recognised from the content. JSON: base64 strings or data URLs; "
    "multipart/form-data: file parts named `attachments`."
)


class TicketCreateInput(serializers.Serializer):
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000)
    category = _choice(Ticket.Category.choices, "category")
    priority = _choice(Priority.choices, "priority", default=Priority.MEDIUM)
    attachments = serializers.ListField(child=AttachmentItemField(), default=list, help_text=ATTACHMENTS_HELP)
    user_agent = serializers.CharField(max_length=500, allow_blank=True, default="")
    wallet_address = serializers.CharField(max_length=100, allow_blank=True, default="")


class TicketMessageInput(serializers.Serializer):
    message = serializers.CharField(max_length=10_000)
    attachments = serializers.ListField(child=AttachmentItemField(), default=list, help_text=ATTACHMENTS_HELP)


class TicketCreatedOutput(serializers.ModelSerializer):
    ticket_id = serializers.CharField(source="id")
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "ticket_id",
            "status",
            "priority",
            "estimated_response_time",
            "created_at",
            "requested_priority",
            "category",
            "team",
            "first_response_due_at",
        ]


class TicketListItemOutput(serializers.ModelSerializer):
    ticket_id = serializers.CharField(source="id")
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    message_count = serializers.IntegerField(help_text="Messages in the thread after the description.")
    last_message_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        model = Ticket
        fields = [
            "ticket_id",
            "subject",
            "category",
            "priority",
            "status",
            "team",
            "estimated_response_time",
            "created_at",
            "updated_at",
            "last_message_at",
            "message_count",
        ]


class TicketPageOutput(serializers.Serializer):
    tickets = TicketListItemOutput(many=True)
    total_count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField()


class AttachmentOutput(serializers.ModelSerializer):
    filename = serializers.CharField(source="original_name")
    message_id = serializers.IntegerField(allow_null=True, help_text="null: sent with the ticket itself")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "message_id",
            "filename",
            "content_type",
            "size",
            "width",
            "height",
            "sha256",
            "download_url",
            "created_at",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, attachment: Attachment) -> str:
        path = reverse("support-ticket-attachment", args=[attachment.ticket_id, attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class TicketMessageOutput(serializers.ModelSerializer):
    author_role = serializers.CharField(source="role")
    author_name = serializers.SerializerMethodField(help_text="The agent's display name; null for the user's own.")
    message = serializers.CharField(source="body")
    attachments = AttachmentOutput(many=True, read_only=True)

    class Meta:
        model = TicketMessage
        fields = ["id", "author_role", "author_name", "message", "attachments", "created_at"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_author_name(self, message: TicketMessage) -> str | None:
        return agent_display_name(message.author) if message.role == TicketMessage.Role.AGENT else None


class TicketDetailOutput(serializers.ModelSerializer):
    ticket_id = serializers.CharField(source="id")
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    messages = TicketMessageOutput(many=True, source="public_messages")
    attachments = AttachmentOutput(many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "ticket_id",
            "subject",
            "description",
            "category",
            "priority",
            "requested_priority",
            "status",
            "team",
            "estimated_response_time",
            "first_response_due_at",
            "user_agent",
            "wallet_address",
            "created_at",
            "updated_at",
            "resolved_at",
            "closed_at",
            "messages",
            "attachments",
        ]
