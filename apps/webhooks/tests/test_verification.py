"""Receiving a webhook: who signed it, is it fresh, is it the right size and shape, was it delivered before. Every
request is stored in the delivery log, refused ones included; only an accepted one is handed to the worker."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.webhooks.models import WebhookDelivery
from apps.webhooks.tasks import delivery_process
from tests.helpers import assert_error_shape

from .conftest import (
    BLOCKCHAIN,
    DEFI,
    ORACLE_SECRET,
    PRICES,
    WATCHER_SECRET,
    encode,
    event_id,
    hmac_hex,
    model,
    post,
    post_signed,
    price_store,
    signed_headers,
)

pytestmark = pytest.mark.django_db


def price_event(price: str = "2500.12", **extra) -> dict:
    moment = (timezone.now() - timedelta(seconds=5)).isoformat()
    return {"id": event_id("prc"), "prices": [{"symbol": "ETH", "price_usd": price, "observed_at": moment}], **extra}


def webhook_prices() -> list:
    return list(model("prices.AssetPrice").objects.filter(source__startswith="webhook:"))


def reference_price() -> None:
    """A price of our own for pushed ETH prices to be checked against (without one they are refused)."""
    price_store("ETH", "2500", ago=timedelta(hours=1))


def test_a_signed_delivery_is_accepted_queued_after_commit_and_processed_once(
    senders, django_capture_on_commit_callbacks
):
    reference_price()
    body = price_event()
    with django_capture_on_commit_callbacks() as queued:
        response = post_signed(PRICES, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer == {"received": True, "duplicate": False, "delivery_id": answer["delivery_id"], "status": "queued"}
    assert len(queued) == 1  # the processing task is sent once the delivery is committed
    delivery = WebhookDelivery.objects.get(pk=answer["delivery_id"])
    assert (delivery.topic, delivery.source, delivery.event_id, delivery.verdict, delivery.status) == (
        "prices",
        "oracle",
        body["id"],
        "accepted",
        "queued",
    )
    assert json.loads(delivery.body) == body
    assert delivery.payload["prices"][0] == {**body["prices"][0], "price_usd": "2500.12"}
    assert webhook_prices() == []  # nothing happens before the worker runs

    assert delivery_process(answer["delivery_id"]) == "processed"
    assert delivery_process(answer["delivery_id"]) == "processed"  # a repeated task changes nothing
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("processed", 1)
    assert delivery.processed_at is not None
    assert "1 price(s) stored" in delivery.result
    assert [(p.token.symbol, p.price_usd) for p in webhook_prices()] == [("ETH", Decimal("2500.12"))]


def test_the_same_event_again_is_a_duplicate_with_no_second_effect(senders, django_capture_on_commit_callbacks):
    reference_price()
    body = price_event()
    first = post_signed(PRICES, body).json()
    delivery_process(first["delivery_id"])
    # The sender retries the same event (its own retry, or an attacker replaying a captured request in time).
    with django_capture_on_commit_callbacks() as queued:
        again = post_signed(PRICES, body)
    assert again.status_code == 200
    assert again.json() == {
        "received": True,
        "duplicate": True,
        "delivery_id": first["delivery_id"],
        "status": "processed",
    }
    assert queued == []
    assert len(webhook_prices()) == 1
    duplicate = WebhookDelivery.objects.get(verdict="duplicate")
    assert (duplicate.event_id, duplicate.status, str(duplicate.duplicate_of_id)) == (
        body["id"],
        "ignored",
        first["delivery_id"],
    )
    assert WebhookDelivery.objects.filter(verdict="accepted").count() == 1


def test_an_event_id_is_unique_per_sender_not_across_senders(senders):
    body = {"id": event_id(), "type": "transaction.updated", "network": "local", "tx_hash": "0x" + "ab" * 32}
    assert post_signed(BLOCKCHAIN, body).json()["duplicate"] is False
    other = post_signed(BLOCKCHAIN, body, source="watcher", secret=WATCHER_SECRET).json()
    assert other["duplicate"] is False
    assert WebhookDelivery.objects.filter(verdict="accepted", event_id=body["id"]).count() == 2


def test_an_event_id_is_unique_per_topic_not_across_topics(senders):
    """A sender numbering its events per topic: "42" on prices, later "42" on blockchain, are two events."""
    number = event_id("42")
    prices = price_event()
    prices["id"] = number
    first = post_signed(PRICES, prices).json()
    assert (first["duplicate"], first["status"]) == (False, "queued")
    claim = {"id": number, "type": "transaction.updated", "network": "local", "tx_hash": "0x" + "ab" * 32}
    other_topic = post_signed(BLOCKCHAIN, claim).json()
    assert other_topic["duplicate"] is False
    assert other_topic["delivery_id"] != first["delivery_id"]
    again = post_signed(BLOCKCHAIN, claim).json()  # the same topic again: that one is a replay
    assert (again["duplicate"], again["delivery_id"]) == (True, other_topic["delivery_id"])
    accepted = WebhookDelivery.objects.filter(verdict="accepted", event_id=number)
    assert sorted(accepted.values_list("topic", flat=True)) == ["blockchain", "prices"]
    assert WebhookDelivery.objects.get(verdict="duplicate").duplicate_of_id == accepted.get(topic="blockchain").pk


def test_only_one_accepted_delivery_per_event_can_exist(senders):
    """The replay guard is a constraint in the database, so two requests racing past the look-up cannot both win."""
    first = post_signed(PRICES, price_event()).json()
    accepted = WebhookDelivery.objects.get(pk=first["delivery_id"])
    WebhookDelivery.objects.create(topic="prices", source="oracle", event_id=accepted.event_id, verdict="duplicate")
    WebhookDelivery.objects.create(topic="defi", source="oracle", event_id=accepted.event_id, verdict="accepted")
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(topic="prices", source="oracle", event_id=accepted.event_id, verdict="accepted")


def _bad_signature(raw: bytes) -> dict:
    return signed_headers(raw, secret="not-the-secret")


def _no_signature(raw: bytes) -> dict:
    headers = signed_headers(raw)
    del headers["X-EngiPay-Signature"]
    return headers


def _no_timestamp(raw: bytes) -> dict:
    headers = signed_headers(raw)
    del headers["X-EngiPay-Timestamp"]
    return headers


def _timestamp_not_a_number(raw: bytes) -> dict:
    return {**signed_headers(raw), "X-EngiPay-Timestamp": "2024-01-01T00:00:00Z"}


# A minute past the 300 s tolerance: the stamp is whole seconds, and the request takes time after it is made.
def _old(raw: bytes) -> dict:
    return signed_headers(raw, timestamp=int(time.time()) - 360)


def _future(raw: bytes) -> dict:
    return signed_headers(raw, timestamp=int(time.time()) + 360)


def _other_timestamp_than_signed(raw: bytes) -> dict:
    headers = signed_headers(raw, timestamp=int(time.time()) - 10)
    return {**headers, "X-EngiPay-Timestamp": str(int(time.time()))}


def _signed_over_other_bytes(raw: bytes) -> dict:
    return signed_headers(raw + b" ")


def _unknown_source(raw: bytes) -> dict:
    return signed_headers(raw, source="mallory", secret=ORACLE_SECRET)


def _no_headers(raw: bytes) -> dict:
    return {}


def _no_v1_value(raw: bytes) -> dict:
    headers = signed_headers(raw)
    return {**headers, "X-EngiPay-Signature": headers["X-EngiPay-Signature"].replace("v1=", "v0=")}


@pytest.mark.parametrize(
    ("headers_for", "status", "code", "source"),
    [
        (_bad_signature, 401, "invalid_signature", "oracle"),
        (_signed_over_other_bytes, 401, "invalid_signature", "oracle"),
        (_other_timestamp_than_signed, 401, "invalid_signature", "oracle"),
        (_no_v1_value, 401, "invalid_signature", "oracle"),
        (_no_signature, 400, "missing_signature", "oracle"),
        (_no_headers, 400, "missing_signature", ""),
        (_no_timestamp, 400, "missing_timestamp", "oracle"),
        (_timestamp_not_a_number, 400, "invalid_timestamp", "oracle"),
        (_old, 401, "stale_timestamp", "oracle"),
        (_future, 401, "stale_timestamp", "oracle"),
        (_unknown_source, 401, "unknown_source", ""),
    ],
)
def test_a_delivery_that_is_not_signed_right_now_is_refused_and_logged(senders, headers_for, status, code, source):
    body = price_event()
    raw = encode(body)
    response = post(PRICES, raw, headers=headers_for(raw))
    assert_error_shape(response, status, code)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.topic, delivery.source, delivery.verdict, delivery.status) == ("prices", source, code, "ignored")
    assert delivery.body == raw.decode()
    assert delivery.result
    assert webhook_prices() == []


def test_a_sender_posting_a_topic_it_is_not_configured_for_is_refused(senders):
    raw = encode(price_event())
    response = post(PRICES, raw, headers=signed_headers(raw, source="watcher", secret=WATCHER_SECRET))
    assert_error_shape(response, 403, "topic_not_allowed")
    assert WebhookDelivery.objects.get().verdict == "topic_not_allowed"
    assert webhook_prices() == []


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (b"{broken", "malformed_json", None),
        (b'{"id": "x", "prices": [NaN]}', "malformed_json", None),
        (b"\xff\xfe{}", "malformed_json", None),
        (b"[]", "invalid_payload", "non_field_errors"),
        (b'{"prices": []}', "invalid_payload", "id"),
        (
            b'{"id": 42, "prices": [{"symbol": "ETH", "price_usd": "1", "observed_at": "2024-01-01T00:00:00Z"}]}',
            "invalid_payload",
            "id",
        ),
        (json.dumps({"id": "x" * 129, "prices": []}).encode(), "invalid_payload", "id"),
        (
            b'{"id": "a", "prices": [{"symbol": "ETH", "price_usd": 2500.12, "observed_at": "2024-01-01T00:00:00Z"}]}',
            "invalid_payload",
            "prices",
        ),
        (
            b'{"id": "a", "prices": [{"symbol": "ETH", "price_usd": "1e3", "observed_at": "2024-01-01T00:00:00Z"}]}',
            "invalid_payload",
            "prices",
        ),
        (
            b'{"id": "a", "prices": [{"symbol": "ETH", "price_usd": true, "observed_at": "2024-01-01T00:00:00Z"}]}',
            "invalid_payload",
            "prices",
        ),
        (
            b'{"id": "a", "prices": [{"symbol": "ETH", "price_usd": "1", "observed_at": "2024-01-01T00:00:00"}]}',
            "invalid_payload",
            "prices",
        ),
        (
            b'{"id": "a", "prices": [{"symbol": "ETH", "price_usd": "1", "observed_at": "0001-01-01T00:00:00+01:00"}]}',
            "invalid_payload",
            "prices",
        ),
        (b'{"id": "a", "prices": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "malformed_json", None),
        (b'{"id": "a", "prices": [{"symbol": "ETH", "price_usd": ' + b"9" * 5000 + b"}]}", "malformed_json", None),
    ],
)
def test_a_signed_body_that_is_not_json_or_not_the_format_is_refused(senders, raw, code, field):
    response = post_signed(PRICES, raw)
    error = assert_error_shape(response, 400, code)
    if field is not None:
        assert field in error["details"], error
    delivery = WebhookDelivery.objects.get()
    assert (delivery.verdict, delivery.source, delivery.status) == (code, "oracle", "ignored")
    assert webhook_prices() == []


def test_a_float_price_is_refused_with_the_field_named(senders):
    error = assert_error_shape(post_signed(PRICES, price_event(price=2500.12)), 400, "invalid_payload")
    assert list(error["details"]["prices"]["0"]) == ["price_usd"]
    assert "never a float" in error["message"]
    assert WebhookDelivery.objects.get().event_id  # the id of an authentic but invalid event is logged


def test_an_oversized_body_is_refused_and_logged_without_it(senders, settings):
    settings.WEBHOOK_MAX_BYTES = 2048
    raw = encode(price_event(padding="x" * 2048))
    response = post_signed(PRICES, raw)
    error = assert_error_shape(response, 413, "payload_too_large")
    assert error["details"] == {"max": 2048}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.verdict, delivery.body, delivery.body_size) == ("payload_too_large", "", len(raw))


@pytest.mark.parametrize(("declared", "recorded"), [("10000000", 10_000_000), ("9" * 30, 2**63 - 1)])
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(senders, settings, declared, recorded):
    settings.WEBHOOK_MAX_BYTES = 2048
    body = price_event()  # small and well signed: were it read, it would be accepted
    raw = encode(body)
    response = post(PRICES, raw, headers=signed_headers(raw), CONTENT_LENGTH=declared)
    assert_error_shape(response, 413, "payload_too_large")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.body, delivery.body_size) == ("", recorded)


def test_a_body_of_exactly_the_limit_is_read(senders, settings):
    settings.WEBHOOK_MAX_BYTES = 2048
    raw = encode(price_event())
    raw = raw[:-1] + b" " * (2048 - len(raw)) + b"}"
    assert len(raw) == 2048
    assert post_signed(PRICES, raw).status_code == 200


def test_an_unsigned_junk_body_is_logged_cut_short(senders):
    raw = b"A" * 10_000
    assert_error_shape(post(PRICES, raw, headers={"X-EngiPay-Source": "oracle"}), 400, "missing_timestamp")
    delivery = WebhookDelivery.objects.get()
    assert (len(delivery.body), delivery.body_truncated, delivery.body_size) == (4096, True, 10_000)


def test_several_v1_signatures_are_accepted_while_a_secret_is_rotated(senders, settings):
    raw = encode(price_event())
    stamp = str(int(time.time()))
    old = hmac_hex("the-previous-secret", f"{stamp}.".encode() + raw)
    new = hmac_hex(ORACLE_SECRET, f"{stamp}.".encode() + raw)
    headers = {"X-EngiPay-Source": "oracle", "X-EngiPay-Timestamp": stamp, "X-EngiPay-Signature": f"v1={old}, v1={new}"}
    assert post(PRICES, raw, headers=headers).status_code == 200

    # Our side rotating: the source lists both secrets while the sender still signs with the old one.
    settings.WEBHOOK_SOURCES = {"oracle": {"secret": ["a-new-secret", "the-previous-secret"], "topics": ["prices"]}}
    raw = encode(price_event())
    headers = signed_headers(raw, secret="the-previous-secret")
    assert post(PRICES, raw, headers=headers).status_code == 200
    assert WebhookDelivery.objects.filter(verdict="accepted").count() == 2


@pytest.mark.parametrize("path", [BLOCKCHAIN, PRICES, DEFI])
def test_an_endpoint_with_no_secret_configured_answers_503_and_logs_the_attempt(settings, path):
    settings.WEBHOOK_SOURCES = {}
    settings.ALCHEMY_WEBHOOK_SIGNING_KEYS = []
    raw = encode({"id": "x"})
    assert_error_shape(post(path, raw, headers=signed_headers(raw)), 503, "webhook_not_configured")
    assert WebhookDelivery.objects.get().verdict == "webhook_not_configured"


def test_a_topic_no_sender_may_post_is_not_configured_either(settings):
    settings.WEBHOOK_SOURCES = {"watcher": {"secret": WATCHER_SECRET, "topics": ["blockchain"]}}
    settings.ALCHEMY_WEBHOOK_SIGNING_KEYS = []
    raw = encode({"id": "x"})
    headers = signed_headers(raw, source="watcher", secret=WATCHER_SECRET)
    assert_error_shape(post(DEFI, raw, headers=headers), 503, "webhook_not_configured")


def test_the_log_keeps_headers_without_credentials_and_the_client_address(senders):
    raw = encode(price_event())
    headers = {**signed_headers(raw), "Authorization": "Bearer secret-token", "Cookie": "sessionid=abc"}
    post(PRICES, raw, headers=headers, REMOTE_ADDR="203.0.113.9")
    delivery = WebhookDelivery.objects.get()
    names = {name.lower() for name in delivery.headers}
    assert {"x-engipay-source", "x-engipay-signature", "content-type"} <= names
    assert not names & {"authorization", "cookie"}
    assert delivery.remote_addr == "203.0.113.9"


def test_webhooks_are_throttled_per_client_ip_and_throttled_requests_are_not_stored(senders, throttle_rates):
    throttle_rates(webhooks="3/min")
    for _ in range(3):
        assert post_signed(PRICES, price_event(), extra={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200
    response = post_signed(PRICES, price_event(), extra={"REMOTE_ADDR": "198.51.100.7"})
    assert_error_shape(response, 429, "throttled")
    other_client = post_signed(PRICES, price_event(), extra={"REMOTE_ADDR": "198.51.100.8"})
    assert other_client.status_code == 200
    assert WebhookDelivery.objects.count() == 4


def test_settings_that_cannot_work_are_reported_by_the_system_check(settings):
    from apps.webhooks.apps import webhook_settings_check

    settings.WEBHOOK_SOURCES = {
        "alchemy": {"secret": "s", "topics": ["blockchain"]},
        "nosecret": {"topics": ["prices"]},
        "badtopic": {"secret": "s", "topics": ["payments"]},
        "fine": {"secret": "s", "topics": ["prices"]},
    }
    problems = [message.msg for message in webhook_settings_check()]
    assert len(problems) == 3, problems
    assert any('"alchemy"' in problem for problem in problems)
    settings.WEBHOOK_SOURCES = {"fine": {"secret": "s", "topics": ["prices"]}}
    assert webhook_settings_check() == []


async def _asgi_post(path: str, chunks: list[bytes], headers: dict[str, str]) -> tuple[int, dict]:
    """POST through Django's own ASGI handler, the body streamed in chunks with no Content-Length (chunked transfer
    encoding). The project's application refuses such a body before Django (tests/test_body_limit.py); this is the
    view's own check behind it."""
    from django.core.asgi import get_asgi_application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            *[(name.lower().encode(), value.encode()) for name, value in headers.items()],
        ],
        "client": ("192.0.2.10", 40000),
        "server": ("testserver", 80),
    }
    incoming = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    incoming.append({"type": "http.request", "body": b"", "more_body": False})
    sent: list[dict] = []

    async def receive() -> dict:
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()  # the client stays connected (Django listens for a disconnect meanwhile)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await get_asgi_application()(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_chunked_body_with_no_length_is_cut_off_once_past_the_limit(senders, settings):
    from asgiref.sync import sync_to_async

    settings.WEBHOOK_MAX_BYTES = 2048
    raw = encode(price_event(padding="x" * 4000))
    status, body = await _asgi_post(PRICES, [raw[:1000], raw[1000:]], signed_headers(raw))
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    delivery = await sync_to_async(WebhookDelivery.objects.get)()
    assert (delivery.body, delivery.body_size) == ("", 2049)  # read up to one byte past the limit, no further

    small = encode(price_event())
    status, body = await _asgi_post(PRICES, [small[:50], small[50:]], signed_headers(small))
    assert (status, body["status"]) == (200, "queued")
