"""Parse a request body with an input serializer; errors become the one error shape via the handler."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def validated(serializer_class: type[serializers.Serializer], data: Any, **context: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case code for programs.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    details = serializers.DictField(help_text="Field errors or context.")


class ErrorSerializer(serializers.Serializer):
    """The one error shape (DESIGN.md section 5)."""

    error = ErrorDetailSerializer()


def upload_item_field(*, noun: str, example: str) -> type[serializers.Field]:
    """A field for one uploaded file: a base64 string (plain or a ``data:`` URL, e.g. ``example``) or a multipart
    file part. Only the shape is checked here; the content is checked by the service (engipay.uploads)."""

    @extend_schema_field(
        {
            "oneOf": [
                {"type": "string", "description": f"base64, or a data URL: {example}"},
                {"type": "string", "format": "binary", "description": "multipart/form-data: a file part"},
            ]
        }
    )
    class UploadItemField(serializers.Field):
        default_error_messages = {"invalid": f"Each {noun} must be a base64 string or an uploaded file."}

        def to_internal_value(self, data: Any) -> Any:
            if isinstance(data, (str, UploadedFile)):
                return data
            self.fail("invalid")
            return None

        def to_representation(self, value: Any) -> Any:  # pragma: no cover - input only
            return None

    return UploadItemField
