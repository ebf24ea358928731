"""Who signed a delivery (reference/payments-chains-security.md section 1; Alchemy: reference/external-apis.md
section 2). Secrets come only from settings (the environment); nothing here stores or logs one.

Ours, Stripe-style: ``X-EngiPay-Source: <name>`` (a key of WEBHOOK_SOURCES), ``X-EngiPay-Timestamp: <unix
seconds>``, ``X-EngiPay-Signature: v1=<hex>[, v1=<hex>...]`` where hex = HMAC-SHA256(secret, "<timestamp>." + raw
body). A sender rotating its secret signs with both and sends both values; a source may also list several secrets.

Alchemy: ``X-Alchemy-Signature: <hex>`` = HMAC-SHA256(signing key, raw body), any key of
ALCHEMY_WEBHOOK_SIGNING_KEYS. No timestamp header: the signed body's ``createdAt`` is checked instead, which
Alchemy's retries keep, so it may be as old as the retention (the event id guards against replays meanwhile).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from engipay.api.errors import ApplicationError, InvalidInput, UpstreamUnavailable

from .registry import TOPICS

SOURCE_HEADER = "X-EngiPay-Source"
TIMESTAMP_HEADER = "X-EngiPay-Timestamp"
SIGNATURE_HEADER = "X-EngiPay-Signature"
ALCHEMY_SIGNATURE_HEADER = "X-Alchemy-Signature"
ALCHEMY = "alchemy"
ALCHEMY_TOPIC = "blockchain"
# More candidate signatures than this in one header is not key rotation.
MAX_SIGNATURES = 8
SOURCE_NAME_MAX = 48  # stored prices are tagged "webhook:<source>" in a 64-character column
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_SPLIT = re.compile(r"[,\s]+")


class PayloadTooLarge(ApplicationError):
    status_code = 413
    default_code = "payload_too_large"


class WebhookUnauthorized(ApplicationError):
    """Not signed by a sender we know, or not fresh (401)."""

    status_code = 401
    default_code = "invalid_signature"


class TopicNotAllowed(ApplicationError):
    status_code = 403
    default_code = "topic_not_allowed"


class WebhookNotConfigured(UpstreamUnavailable):
    """No secret at all is configured for this endpoint on this machine (503)."""

    default_code = "webhook_not_configured"


@dataclass(frozen=True)
class Source:
    name: str
    secrets: tuple[str, ...]
    topics: frozenset[str]


def _secrets(value: object) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(secret for secret in values if isinstance(secret, str) and secret)


def sources() -> dict[str, Source]:
    """The well-formed entries of WEBHOOK_SOURCES (the system check reports the others)."""
    configured = settings.WEBHOOK_SOURCES if isinstance(settings.WEBHOOK_SOURCES, dict) else {}
    found = {}
    for name, entry in configured.items():
        if not isinstance(entry, dict) or name == ALCHEMY or not 0 < len(name) <= SOURCE_NAME_MAX:
            continue
        secrets = _secrets(entry.get("secret"))
        topics = entry.get("topics")
        if secrets and isinstance(topics, list):
            found[name] = Source(name=name, secrets=secrets, topics=frozenset(t for t in topics if t in TOPICS))
    return found


def alchemy_keys() -> tuple[str, ...]:
    return tuple(key for key in settings.ALCHEMY_WEBHOOK_SIGNING_KEYS if key)


def configuration_problems() -> list[str]:
    """What is wrong in WEBHOOK_SOURCES / ALCHEMY_NETWORKS (for the system check)."""
    problems = []
    configured = settings.WEBHOOK_SOURCES
    if not isinstance(configured, dict):
        return ['WEBHOOK_SOURCES must be a JSON object {"<source>": {"secret": ..., "topics": [...]}}.']
    for name, entry in configured.items():
        if name == ALCHEMY:
            problems.append('WEBHOOK_SOURCES may not name a source "alchemy" (Alchemy has its own signing keys).')
        elif not 0 < len(name) <= SOURCE_NAME_MAX:
            problems.append(f"WEBHOOK_SOURCES: source names are 1 to {SOURCE_NAME_MAX} characters ({name!r}).")
        elif not isinstance(entry, dict) or not _secrets(entry.get("secret")):
            problems.append(f"WEBHOOK_SOURCES[{name!r}] needs a non-empty secret (a string or a list of strings).")
        elif not isinstance(entry.get("topics"), list) or not set(entry["topics"]) <= set(TOPICS):
            problems.append(f"WEBHOOK_SOURCES[{name!r}].topics must be a list drawn from {', '.join(TOPICS)}.")
    networks = settings.ALCHEMY_NETWORKS
    if not isinstance(networks, dict) or not all(isinstance(v, str) for v in networks.values()):
        problems.append('ALCHEMY_NETWORKS must be a JSON object {"ETH_MAINNET": "<chain key>", ...}.')
    return problems


def endpoint_configured(topic: str) -> bool:
    if any(topic in source.topics for source in sources().values()):
        return True
    return topic == ALCHEMY_TOPIC and bool(alchemy_keys())


def _hmac_hex(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest().encode()


def _matches(expected: Iterable[bytes], candidates: list[bytes]) -> bool:
    # Every pair is compared (no early exit on a mismatch), each in constant time.
    matched = False
    for digest in expected:
        for candidate in candidates:
            matched |= hmac.compare_digest(digest, candidate)
    return matched


# --- ours ------------------------------------------------------------------------------------------------------


def engipay_source(headers: Mapping[str, str]) -> Source:
    source = sources().get((headers.get(SOURCE_HEADER) or "").strip())
    if source is None:
        raise WebhookUnauthorized("unknown_source", f"{SOURCE_HEADER} names no sender configured here.")
    return source


def engipay_timestamp(headers: Mapping[str, str]) -> int:
    raw = (headers.get(TIMESTAMP_HEADER) or "").strip()
    if not raw:
        raise InvalidInput("missing_timestamp", f"{TIMESTAMP_HEADER} (unix seconds) is required.")
    if not _TIMESTAMP.match(raw):
        raise InvalidInput("invalid_timestamp", f"{TIMESTAMP_HEADER} must be unix seconds.")
    return int(raw)


def engipay_signature_verify(*, source: Source, headers: Mapping[str, str], timestamp: int, body: bytes) -> None:
    header = (headers.get(SIGNATURE_HEADER) or "").strip()
    if not header:
        raise InvalidInput("missing_signature", f"{SIGNATURE_HEADER} (v1=<hex>) is required.")
    candidates = [part[3:].lower().encode() for part in _SPLIT.split(header) if part.startswith("v1=")]
    if not candidates or len(candidates) > MAX_SIGNATURES:
        raise WebhookUnauthorized("invalid_signature", f"{SIGNATURE_HEADER} has no usable v1= signature.")
    signed = f"{timestamp}.".encode() + body
    if not _matches([_hmac_hex(secret, signed) for secret in source.secrets], candidates):
        raise WebhookUnauthorized("invalid_signature", "The signature does not match the body and timestamp.")


def freshness_check(*, signed_at: float, now: float, max_age: int | None = None) -> None:
    """Refuse a signed time more than WEBHOOK_TOLERANCE_SECONDS ahead of our clock, or older than ``max_age``
    (default: that tolerance too)."""
    ahead = settings.WEBHOOK_TOLERANCE_SECONDS
    max_age = ahead if max_age is None else max_age
    if now - signed_at > max_age:
        raise WebhookUnauthorized(
            "stale_timestamp",
            f"The signed timestamp is more than {max_age} s older than our clock.",
            {"tolerance_seconds": max_age},
        )
    if signed_at - now > ahead:
        raise WebhookUnauthorized(
            "stale_timestamp",
            f"The signed timestamp is more than {ahead} s ahead of our clock.",
            {"tolerance_seconds": ahead},
        )


# --- Alchemy -------------------------------------------------------------------------------------------------


def alchemy_source() -> str:
    if not alchemy_keys():
        raise WebhookUnauthorized("unknown_source", "Alchemy deliveries are not configured here.")
    return ALCHEMY


def alchemy_signature_verify(*, headers: Mapping[str, str], body: bytes) -> None:
    keys = alchemy_keys()
    signature = (headers.get(ALCHEMY_SIGNATURE_HEADER) or "").strip().lower()
    if not signature:
        raise InvalidInput("missing_signature", f"{ALCHEMY_SIGNATURE_HEADER} is empty.")
    if not _matches([_hmac_hex(key, body) for key in keys], [signature.encode()]):
        raise WebhookUnauthorized("invalid_signature", "The signature does not match the body.")


def retention_seconds() -> int:
    return settings.WEBHOOK_RETENTION_DAYS * 86400


def alchemy_max_age() -> int:
    """How old an Alchemy ``createdAt`` may be: ALCHEMY_WEBHOOK_TOLERANCE_SECONDS, cut to the retention. Alchemy's
    retries keep the original ``createdAt`` (an outage here must not lose them), and its replay guard is the event
    id, which is kept for the retention: anything older than that is refused by time, anything younger by id."""
    return max(1, min(settings.ALCHEMY_WEBHOOK_TOLERANCE_SECONDS, retention_seconds()))


def tolerance_problems() -> list[str]:
    """Settings that are cut at run time (for the system check's warnings)."""
    tolerance, retention = settings.ALCHEMY_WEBHOOK_TOLERANCE_SECONDS, retention_seconds()
    if tolerance > retention:
        return [
            f"ALCHEMY_WEBHOOK_TOLERANCE_SECONDS ({tolerance}) exceeds the retention (WEBHOOK_RETENTION_DAYS = "
            f"{settings.WEBHOOK_RETENTION_DAYS} days, {retention} s): replays older than the stored event ids could "
            f"not be told apart, so {retention} s is used."
        ]
    return []


def alchemy_signed_at(created_at: datetime | None) -> float:
    if created_at is None:
        raise InvalidInput("missing_timestamp", "The Alchemy envelope has no valid createdAt (ISO-8601 with a zone).")
    return created_at.timestamp()
