"""One error shape for every layer (DESIGN.md section 5).

``{"error": {"code": "snake_case", "message": "for a person", "details": {}}}``

Services raise :class:`ApplicationError` subclasses; DRF's exceptions, Django's 404/403/400/500 views and
upstream transport failures are all mapped here. Views never build error responses themselves.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import requests
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from engipay.api.renderers import ExactJSONRenderer

logger = logging.getLogger("engipay.errors")


class ApplicationError(Exception):
    """A refusal the caller can act on. Subclasses carry their HTTP status."""

    status_code = 400
    default_code = "invalid_input"

    def __init__(self, code: str | None = None, message: str = "", details: dict[str, Any] | None = None):
        self.code = code or self.default_code
        self.message = message or self.code.replace("_", " ").capitalize() + "."
        self.details = details or {}
        super().__init__(self.message)


class InvalidInput(ApplicationError):
    status_code = 400


class Unauthenticated(ApplicationError):
    status_code = 401
    default_code = "not_authenticated"


class Forbidden(ApplicationError):
    status_code = 403
    default_code = "permission_denied"


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"


class StateConflict(ApplicationError):
    status_code = 409
    default_code = "state_conflict"


class UpstreamError(ApplicationError):
    """The chain or provider answered, but with something we cannot use."""

    status_code = 502
    default_code = "upstream_error"


class UpstreamUnavailable(ApplicationError):
    """The chain or provider did not answer in time."""

    status_code = 503
    default_code = "provider_unavailable"


class ChainUnavailable(UpstreamUnavailable):
    default_code = "chain_unavailable"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


_DRF_CODES = {
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "authentication_failed",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "throttled",
    drf.ParseError: "malformed_request",
}


def _validation_details(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def _flatten(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _flatten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_flatten(item) for item in value]
    return str(value)


def _first_message(details: dict[str, Any]) -> str:
    for field, messages in details.items():
        while isinstance(messages, (list, dict)) and messages:
            messages = messages[0] if isinstance(messages, list) else next(iter(messages.values()))
        if isinstance(messages, str):
            return messages if field == "non_field_errors" else f"{field}: {messages}"
    return "The request is not valid."


def _response(status: int, code: str, message: str, details: dict[str, Any] | None = None, **headers: str):
    response = Response(error_body(code, message, details), status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's ``EXCEPTION_HANDLER``: every exception raised in an API view ends here.

    Errors are JSON whatever the view normally renders (YAML schema, HTML docs).
    """
    set_rollback()
    request = context.get("request")
    if request is not None:
        request.accepted_renderer = ExactJSONRenderer()
        request.accepted_media_type = "application/json"
    return _handle(exc, context)


def _handle(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, ApplicationError):
        return _response(exc.status_code, exc.code, exc.message, exc.details)
    if isinstance(exc, drf.ValidationError):
        details = _validation_details(exc.detail)
        return _response(400, "invalid_input", _first_message(details), details)
    if isinstance(exc, DjangoValidationError):
        details = {"non_field_errors": exc.messages}
        return _response(400, "invalid_input", exc.messages[0], details)
    if isinstance(exc, Http404):
        return _response(404, "not_found", "Not found.")
    if isinstance(exc, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        return _response(413, "payload_too_large", "The request body is too large.")
    if isinstance(exc, SuspiciousOperation):
        return _response(400, "bad_request", "The request was refused as unsafe.")
    if isinstance(exc, PermissionDenied):
        return _response(403, "permission_denied", "You do not have permission to do this.")
    if isinstance(exc, drf.APIException):
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), exc.default_code)
        headers = {}
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        details = exc.detail if isinstance(exc.detail, dict) else {}
        message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(exc.default_detail)
        return _response(exc.status_code, code, message, _flatten(details), **headers)
    if isinstance(exc, (httpx.TimeoutException, requests.Timeout)):
        logger.warning("Upstream timeout in %s: %s", context.get("view"), exc)
        return _response(503, "provider_unavailable", "An upstream service did not answer in time.")
    if isinstance(exc, (httpx.TransportError, requests.ConnectionError)):
        logger.warning("Upstream unreachable in %s: %s", context.get("view"), exc)
        return _response(503, "provider_unavailable", "An upstream service is unreachable.")
    if isinstance(exc, httpx.HTTPStatusError):
        logger.warning("Upstream error in %s: %s", context.get("view"), exc)
        return _response(502, "upstream_error", "An upstream service returned an error.")
    logger.exception("Unhandled error in %s", context.get("view"), exc_info=exc)
    return _response(500, "internal_error", "Something went wrong on our side. It has been logged.")


# --- Django's own error views (urls.py handler400/403/404/500): same shape outside DRF views.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        return JsonResponse(error_body("payload_too_large", "The request body is too large."), status=413)
    message = "The request is not valid."
    if isinstance(exception, SuspiciousOperation):
        message = "The request was refused as unsafe."
    return JsonResponse(error_body("bad_request", message), status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/admin/"):  # staff in a browser get a page, not JSON (templates/403.html)
        return defaults.permission_denied(request, exception or PermissionDenied())
    return JsonResponse(error_body("permission_denied", "You do not have permission to do this."), status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    body = error_body("internal_error", "Something went wrong on our side. It has been logged.")
    return JsonResponse(body, status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return JsonResponse(error_body("csrf_failed", "CSRF verification failed.", {"reason": reason}), status=403)
