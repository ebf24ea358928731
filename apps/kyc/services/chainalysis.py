"""A Chainalysis-style sanctions screening API (the free "sanctions screening" API):
``GET {CHAINALYSIS_API_URL}/api/v1/address/{address}`` with ``X-API-Key``, answering
``{"identifications": [{"category": "sanctions", "name", "description", "url"}]}`` (empty = not sanctioned)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings


class ChainalysisUnavailable(Exception):
    """The API did not answer, refused the key or answered something that is not its documented shape."""


def chainalysis_configured() -> bool:
    return bool(settings.CHAINALYSIS_API_URL and settings.CHAINALYSIS_API_KEY)


def chainalysis_identifications(*, address: str) -> list[dict[str, Any]]:
    """The API's identifications of ``address`` (empty: not sanctioned). Precondition: it is configured."""
    url = f"{settings.CHAINALYSIS_API_URL.rstrip('/')}/api/v1/address/{quote(address.strip(), safe='')}"
    try:
        response = httpx.get(
            url,
            headers={"X-API-Key": settings.CHAINALYSIS_API_KEY, "Accept": "application/json"},
            timeout=settings.CHAINALYSIS_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ChainalysisUnavailable(f"{type(exc).__name__}: {exc}") from exc
    identifications = body.get("identifications") if isinstance(body, dict) else None
    if not isinstance(identifications, list) or not all(isinstance(item, dict) for item in identifications):
        raise ChainalysisUnavailable("The answer has no identifications list.")
    return identifications
