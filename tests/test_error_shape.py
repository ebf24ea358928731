"""Every URL pattern answers errors in the one shape (DESIGN.md section 5): 404, 405 and bad input."""

from __future__ import annotations

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db

SAMPLE = {"uuid": str(uuid.uuid4()), "int": "1", "str": "x", "slug": "x", "path": "x"}
METHODS = ["get", "post", "put", "patch", "delete"]


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def _concrete(route: str) -> str:
    import re

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE[m.group(1) or "str"], route)


def api_routes() -> list[tuple[str, object]]:
    return [
        (_concrete(route), pattern) for route, pattern in _walk(get_resolver().url_patterns) if route.startswith("api/")
    ]


def allowed_methods(pattern) -> set[str]:
    view_class = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    return {m for m in METHODS if view_class is not None and hasattr(view_class, m)}


def test_the_walk_finds_the_api():
    paths = {path for path, _ in api_routes()}
    for expected in ["/api/auth/wallet-connect", "/api/auth/me", "/api/notifications", "/api/health/"]:
        assert expected in paths


@pytest.mark.parametrize(("path", "pattern"), api_routes(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_api_url_answers_errors_in_the_error_shape(
    path, pattern, alice, api_client_for, api_client, throttle_rates, settings
):
    # This test sends many requests to one endpoint; throttling has its own tests.
    throttle_rates(**dict.fromkeys(["auth_ip", "nonce", "password_reset", "login_account", "kyc_submit"], "1000/min"))
    # Webhooks check signatures (an unset secret is an honest 503, tested with each webhook).
    settings.SUMSUB_WEBHOOK_SECRET = "error-shape-test-secret"
    settings.WEBHOOK_SOURCES = {
        "error-shape-test": {"secret": "error-shape-test-secret", "topics": ["blockchain", "prices", "defi"]}
    }
    client = api_client_for(alice)
    allowed = allowed_methods(pattern)
    for method in set(METHODS) - allowed:
        response = getattr(client, method)(path, {}, format="json")
        assert_error_shape(response, 405, "method_not_allowed")
    for method in allowed - {"get"}:
        for body in ({"unexpected": ["shape"]}, "not json at all"):
            response = getattr(client, method)(path, body, content_type="application/json")
            if response.status_code >= 400:
                assert_error_shape(response)
            assert response.status_code < 500, (method, path, response.content)
        malformed = getattr(client, method)(path, "{broken", content_type="application/json")
        assert malformed.status_code < 500, (method, path, malformed.content)
        if malformed.status_code >= 400:  # endpoints that take no body never parse it
            assert_error_shape(malformed)
    for method in allowed:
        response = getattr(api_client, method)(path, {}, format="json")  # no token at all
        if response.status_code >= 400:
            assert_error_shape(response)
    missing = client.get(path.rstrip("/") + "/does-not-exist/")
    assert_error_shape(missing, 404, "not_found")


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/api/auth/nope/", "/static/nope.js"])
def test_unknown_paths_are_404_in_the_error_shape(api_client, path):
    assert_error_shape(api_client.get(path), 404, "not_found")


def test_an_unsupported_media_type_is_415_in_the_error_shape(api_client):
    response = api_client.post("/api/auth/login", "email=a", content_type="application/x-www-form-urlencoded")
    assert_error_shape(response, 415, "unsupported_media_type")
