"""Upstream failures that escape a view map to 502/503 in the error shape (no endpoint calls out yet)."""

from __future__ import annotations

import httpx
import pytest
import requests
from rest_framework.test import APIRequestFactory

from engipay.api.errors import ChainUnavailable, exception_handler


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (httpx.ConnectTimeout("slow"), 503, "provider_unavailable"),
        (httpx.ConnectError("refused"), 503, "provider_unavailable"),
        (requests.ConnectionError("refused"), 503, "provider_unavailable"),
        (
            httpx.HTTPStatusError("bad", request=httpx.Request("GET", "http://x"), response=httpx.Response(500)),
            502,
            "upstream_error",
        ),
        (ChainUnavailable(message="RPC down"), 503, "chain_unavailable"),
        (RuntimeError("bug"), 500, "internal_error"),
    ],
)
def test_upstream_errors_map_to_the_error_shape(exc, status, code):
    request = APIRequestFactory().get("/api/x")
    response = exception_handler(exc, {"request": request, "view": None})
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert set(response.data["error"]) == {"code", "message", "details"}
