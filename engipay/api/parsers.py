"""Request bodies with a size cap: a body over the view's limit is refused with 413 before it is parsed.

Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE) is not applied to DRF's JSON bodies, nor to multipart files, and
endpoints that take base64 uploads need a larger cap than the rest, so each such view names its setting."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.throttling import UserRateThrottle


class _BoundedBody:
    limit_setting = ""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        limit = getattr(settings, self.limit_setting)
        meta = parser_context["request"].META if parser_context and "request" in parser_context else {}
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise RequestDataTooBig("Request body too large.")
        if isinstance(self, JSONParser) and stream is not None:  # no length given (chunked): read at most limit
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise RequestDataTooBig("Request body too large.")
            stream = io.BytesIO(body)
        try:
            return super().parse(stream, media_type, parser_context)  # type: ignore[misc]
        except RecursionError:  # e.g. 100,000 nested brackets: well within the size cap, too deep for json
            raise ParseError("JSON nested too deeply.") from None


def bounded_parsers(limit_setting: str) -> list[type]:
    """A JSON and a multipart parser refusing bodies over ``settings.<limit_setting>`` bytes."""
    attrs = {"limit_setting": limit_setting}
    return [
        type(f"BoundedJSONParser[{limit_setting}]", (_BoundedBody, JSONParser), attrs),
        type(f"BoundedMultiPartParser[{limit_setting}]", (_BoundedBody, MultiPartParser), attrs),
    ]


class WriteThrottle(UserRateThrottle):
    """Per-user writes of one scope (set ``scope``); reads are not counted."""

    def allow_request(self, request: Any, view: Any) -> bool:
        return request.method in ("GET", "HEAD", "OPTIONS") or super().allow_request(request, view)
