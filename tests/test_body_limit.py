"""Body limits in front of Django (engipay/body_limit.py), through the project's real ASGI application: a webhook
body over its limit is refused with 413 before Django reads a byte of it (declared, or streamed in chunks with no
length), nothing of it is stored; a body at the limit is processed as usual, and other paths are not limited."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator

from apps.webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

DEFI = "/api/webhooks/defi/position-update"
SUMSUB = "/api/webhooks/kyc/sumsub"
SECRET = "body-limit-test-secret"
LIMIT = 2048


@pytest.fixture(autouse=True)
def _webhooks(settings) -> None:
    settings.WEBHOOK_SOURCES = {"oracle": {"secret": SECRET, "topics": ["defi"]}}
    settings.WEBHOOK_MAX_BYTES = LIMIT


def position_event(size: int | None = None) -> bytes:
    """A well-formed DeFi position event (accepted and kept: no app handles the topic), padded with spaces to exactly
    ``size`` bytes."""
    event = {"id": f"evt_{time.monotonic_ns():x}", "protocol": "vesu", "network": "starknet", "wallet_address": "0x1"}
    raw = json.dumps(event).encode()
    return raw if size is None else raw[:-1] + b" " * (size - len(raw)) + b"}"


def signed(raw: bytes) -> list[tuple[bytes, bytes]]:
    stamp = str(int(time.time()))
    signature = hmac.new(SECRET.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return [
        (b"x-engipay-source", b"oracle"),
        (b"x-engipay-timestamp", stamp.encode()),
        (b"x-engipay-signature", f"v1={signature}".encode()),
    ]


def http_post(path: str, headers: list[tuple[bytes, bytes]], *, root_path: str = "") -> ApplicationCommunicator:
    from engipay.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("192.0.2.10", 40000),
        "server": ("testserver", 80),
    }
    return ApplicationCommunicator(application, scope)


async def response(communicator: ApplicationCommunicator) -> tuple[int, dict[bytes, bytes], Any]:
    start = await communicator.receive_output(timeout=10)
    assert start["type"] == "http.response.start", start
    body = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return start["status"], dict(start["headers"]), json.loads(body)


async def chunked(communicator: ApplicationCommunicator, raw: bytes, size: int, *, end: bool = True) -> None:
    for at in range(0, len(raw), size):
        await communicator.send_input({"type": "http.request", "body": raw[at : at + size], "more_body": True})
    if end:
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})


def assert_too_large(status: int, headers: dict[bytes, bytes], body: Any, limit: int = LIMIT) -> None:
    assert status == 413
    assert headers[b"content-type"] == b"application/json"
    assert body == {
        "error": {
            "code": "payload_too_large",
            "message": f"Request bodies to this endpoint are at most {limit} bytes.",
            "details": {"max": limit},
        }
    }


async def deliveries() -> list[WebhookDelivery]:
    return await sync_to_async(list)(WebhookDelivery.objects.all())


@pytest.mark.parametrize("root_path", ["", "/engipay"])
async def test_a_declared_length_over_the_limit_is_refused_before_anything_is_read(root_path):
    raw = position_event()  # small and well signed: were it read, it would be accepted
    communicator = http_post(DEFI, [*signed(raw), (b"content-length", b"5000000000")], root_path=root_path)
    # No body is sent at all: the answer comes without a single receive().
    assert_too_large(*await response(communicator))
    await communicator.wait(timeout=5)
    assert await deliveries() == []  # Django never saw it (its own check would log a refusal)


async def test_a_chunked_body_over_the_limit_is_refused_once_past_it_and_not_read_further():
    raw = position_event(size=10 * LIMIT)
    communicator = http_post(DEFI, signed(raw))  # no Content-Length: chunked transfer encoding
    await chunked(communicator, raw[: LIMIT + 1], 700, end=False)  # 2101 bytes in 4 messages, more to come
    assert_too_large(*await response(communicator))
    await communicator.wait(timeout=5)  # done, without waiting for the rest of the body
    assert await deliveries() == []


@pytest.mark.parametrize("declare", [False, True], ids=["chunked", "content-length"])
async def test_a_body_of_exactly_the_limit_is_processed_as_usual(declare):
    raw = position_event(size=LIMIT)
    length = [(b"content-length", str(LIMIT).encode())] if declare else []
    communicator = http_post(DEFI, [*signed(raw), *length])
    await chunked(communicator, raw, 500)
    status, _, body = await response(communicator)
    assert (status, body["duplicate"], body["status"]) == (200, False, "unhandled")
    [delivery] = await deliveries()
    assert (delivery.verdict, delivery.body.encode(), delivery.body_size) == ("accepted", raw, LIMIT)


async def test_other_paths_are_not_limited():
    padding = "x" * (300 * 1024)  # larger than any webhook limit
    raw = json.dumps({"padding": padding, "email": "not-an-email", "password": "secret"}).encode()
    communicator = http_post("/api/auth/login", [(b"content-length", str(len(raw)).encode())])
    await chunked(communicator, raw, 64 * 1024)
    status, _, body = await response(communicator)
    # Django read it all: the fields at its very end were validated.
    assert (status, body["error"]["code"], list(body["error"]["details"])) == (400, "invalid_input", ["email"]), body


async def test_kyc_webhooks_keep_their_own_limit_under_the_webhooks_prefix(settings):
    from apps.kyc.api.webhook_views import WEBHOOK_MAX_BYTES as KYC_LIMIT
    from engipay.asgi import KYC_WEBHOOK_MAX_BYTES

    assert KYC_WEBHOOK_MAX_BYTES == KYC_LIMIT  # the edge's copy of the view's limit
    settings.SUMSUB_WEBHOOK_SECRET = SECRET
    headers = [(b"x-payload-digest", b"0" * 64), (b"x-payload-digest-alg", b"HMAC_SHA256_HEX")]
    # Over WEBHOOK_MAX_BYTES but within the vendor's 64 KB: it reaches the KYC view, which checks the digest.
    communicator = http_post(SUMSUB, headers)
    await chunked(communicator, b'{"pad": "' + b"x" * (2 * LIMIT) + b'"}', 1000)
    status, _, body = await response(communicator)
    assert (status, body["error"]["code"]) == (401, "invalid_signature")

    settings.WEBHOOK_MAX_BYTES = 1024 * 1024  # a larger webhooks limit does not lift the vendor's
    communicator = http_post(SUMSUB, headers)
    await chunked(communicator, b'{"pad": "' + b"x" * KYC_LIMIT + b'"}', 16 * 1024, end=False)
    assert_too_large(*await response(communicator), limit=KYC_LIMIT)
