"""Parse a request body with an input serializer; errors become the one error shape via the handler."""

from __future__ import annotations

from typing import Any

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
