"""Web push end to end: ``notify()`` plans a delivery, the delivery loop (the Celery task's body) sends it with
pywebpush to a local push service (tests/doubles/push_service.py) that verifies the VAPID JWT and decrypts the
message as the browser would; its answers drive sent / retry / failed / bounced."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone
from py_vapid import Vapid02
from rest_framework.test import APIClient

from apps.notifications import deliveries, preferences, services, vapid
from apps.notifications.models import Channel, Delivery, PushSubscription
from tests.doubles.push_service import Answer, PushServiceDouble
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db

SUBJECT = "mailto:ops@engipay.test"


def raw_key(key: ec.EllipticCurvePrivateKey) -> str:
    return base64.urlsafe_b64encode(key.private_numbers().private_value.to_bytes(32, "big")).rstrip(b"=").decode()


def public_of(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


@pytest.fixture
def push_service(settings):
    with PushServiceDouble() as double:
        settings.WEB_PUSH_ALLOW_HTTP = True
        settings.WEB_PUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
        settings.WEB_PUSH_VAPID_PRIVATE_KEY = raw_key(ec.generate_private_key(ec.SECP256R1()))
        settings.WEB_PUSH_VAPID_SUBJECT = SUBJECT
        settings.WEB_PUSH_TTL_SECONDS = 3600
        settings.FRONTEND_URL = "https://app.engipay.test"
        yield double


def subscribe(user, push_service: PushServiceDouble, key: str | None = None) -> PushSubscription:
    """A browser of the push service subscribes with our VAPID key and turns web push on for every topic."""
    browser = push_service.subscribe(application_server_key=key or vapid.public_key())
    preferences.notifications_subscribe(user=user, channels=["web_push"], push_subscription=browser)
    return PushSubscription.objects.get(endpoint=browser["endpoint"])


@pytest.fixture
def subscription(alice, push_service) -> PushSubscription:
    return subscribe(alice, push_service)


def push_delivery(user, *, kind: str = "escrow_created", title: str = "Escrow created", message: str = "", data=None):
    notification = services.notify(user=user, kind=kind, title=title, message=message, data=data)
    return Delivery.objects.get(notification=notification, channel=Channel.WEB_PUSH)


def attempt(delivery: Delivery) -> Delivery:
    deliveries.delivery_attempt(delivery_id=str(delivery.pk))
    return Delivery.objects.get(pk=delivery.pk)


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_notification_reaches_the_browser_encrypted_and_signed(alice, push_service, subscription):
    delivery = push_delivery(
        alice,
        kind="transaction_failed",
        title="Transaction failed",
        message="Your transfer of 0.5 ETH was dropped.",
        data={"tx_hash": "0xab", "amount": "0.5"},
    )
    assert (delivery.status, delivery.target) == (Delivery.Status.QUEUED, str(subscription.pk))

    delivery = attempt(delivery)

    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 1
    [message] = push_service.messages_to(subscription.endpoint)
    assert delivery.provider_message_id == f"{push_service.url}/m/{message.message_id}"
    assert message.json == {
        "id": str(delivery.notification_id),
        "type": "transaction_failed",
        "title": "Transaction failed",
        "message": "Your transfer of 0.5 ETH was dropped.",
        "data": {"tx_hash": "0xab", "amount": "0.5"},
        "url": "https://app.engipay.test",
    }
    assert (message.ttl, message.urgency) == (3600, "high")
    assert message.claims["aud"] == push_service.url
    assert message.claims["sub"] == SUBJECT
    assert time.time() < message.claims["exp"] <= time.time() + 24 * 3600
    assert message.vapid_key == vapid.public_key()
    assert PushSubscription.objects.get(pk=subscription.pk).last_success_at is not None


def test_the_served_key_is_the_one_the_push_service_accepts(alice, bob, push_service):
    response = APIClient().get("/api/notifications/web-push/key", HTTP_AUTHORIZATION="Bearer stale-token")
    assert response.status_code == 200
    key = response.json()["public_key"]
    assert response.json() == {"public_key": key}
    point = base64.urlsafe_b64decode(key + "=")
    assert (len(key), len(point), point[0]) == (87, 65, 4)

    good = subscribe(alice, push_service, key=key)
    assert attempt(push_delivery(alice)).status == Delivery.Status.SENT
    assert push_service.messages_to(good.endpoint)[0].vapid_key == key

    other = subscribe(bob, push_service, key=public_of(ec.generate_private_key(ec.SECP256R1())))
    refused = attempt(push_delivery(bob))
    assert refused.status == Delivery.Status.FAILED  # 403: not the subscription's key; retrying will not help
    assert "403" in refused.last_error
    assert "does not match" in refused.last_error
    assert PushSubscription.objects.filter(pk=other.pk).exists()
    assert push_service.messages_to(other.endpoint) == []


def test_a_server_error_is_retried_later_then_sent(alice, push_service, subscription):
    push_service.plan(subscription.endpoint, 500, 201)
    delivery = push_delivery(alice)
    before = timezone.now()

    delivery = attempt(delivery)

    assert (delivery.status, delivery.attempts) == (Delivery.Status.QUEUED, 1)
    assert delivery.next_attempt_at > before
    assert "500" in delivery.last_error
    assert push_service.messages == []
    assert attempt(delivery).attempts == 1  # not due yet: a duplicate task changes nothing

    make_due(delivery)
    delivery = attempt(delivery)

    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 2)
    assert len(push_service.messages_to(subscription.endpoint)) == 1


def test_it_gives_up_after_the_last_attempt(settings, alice, push_service, subscription):
    settings.NOTIFY_DELIVERY_MAX_ATTEMPTS = 3
    push_service.plan(subscription.endpoint, 500, 503, 502)
    delivery = push_delivery(alice)
    for _ in range(2):
        delivery = attempt(delivery)
        assert delivery.status == Delivery.Status.QUEUED
        make_due(delivery)

    delivery = attempt(delivery)

    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 3)
    assert delivery.last_error.startswith("Gave up after 3 attempts")
    assert "502" in delivery.last_error
    assert [r["status"] for r in push_service.requests] == [500, 503, 502]
    assert PushSubscription.objects.filter(pk=subscription.pk).exists()


@pytest.mark.parametrize("gone", ["unsubscribed_410", "unknown_404"])
def test_a_gone_subscription_bounces_and_is_deleted(alice, push_service, subscription, gone):
    if gone == "unsubscribed_410":
        push_service.unsubscribe(subscription.endpoint)
    else:
        push_service.plan(subscription.endpoint, 404)
    delivery = attempt(push_delivery(alice))

    assert delivery.status == Delivery.Status.BOUNCED
    assert gone[-3:] in delivery.last_error
    assert not PushSubscription.objects.filter(pk=subscription.pk).exists()
    assert delivery.push_subscription_id is None
    later = services.notify(user=alice, kind="escrow_created", title="Another")
    assert not later.deliveries.filter(channel=Channel.WEB_PUSH).exists()


@pytest.mark.parametrize(
    "retry_after",
    [lambda: "600", lambda: format_datetime(timezone.now() + timedelta(seconds=600), usegmt=True)],
    ids=["seconds", "http_date"],
)
def test_rate_limiting_waits_as_long_as_the_push_service_asks(settings, alice, push_service, subscription, retry_after):
    settings.NOTIFY_RETRY_BASE_SECONDS = 1
    push_service.plan(subscription.endpoint, Answer(429, {"Retry-After": retry_after()}))
    delivery = push_delivery(alice)
    before = timezone.now()

    delivery = attempt(delivery)

    after = timezone.now()
    assert delivery.status == Delivery.Status.QUEUED
    assert "429" in delivery.last_error
    assert before + timedelta(seconds=598) <= delivery.next_attempt_at <= after + timedelta(seconds=601)
    assert delivery.enqueued_at is None  # too far for a countdown: the sweep queues it when due


@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_message_fails_without_retry_and_keeps_the_subscription(alice, push_service, subscription, status):
    push_service.plan(subscription.endpoint, status)
    delivery = attempt(push_delivery(alice))

    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 1)
    assert f"answered {status}" in delivery.last_error
    assert "planned by the test" in delivery.last_error  # the push service's own reason is kept
    assert PushSubscription.objects.filter(pk=subscription.pk).exists()


def test_a_slow_push_service_is_retried(settings, alice, push_service, subscription):
    settings.WEB_PUSH_TIMEOUT_SECONDS = 1
    push_service.plan(subscription.endpoint, Answer(201, delay=1.5))
    delivery = attempt(push_delivery(alice))

    assert (delivery.status, delivery.attempts) == (Delivery.Status.QUEUED, 1)
    assert "did not answer within 1s" in delivery.last_error


def test_an_unreachable_push_service_is_retried(alice, push_service, subscription):
    push_service.stop()
    delivery = attempt(push_delivery(alice))

    assert (delivery.status, delivery.attempts) == (Delivery.Status.QUEUED, 1)
    assert "unreachable" in delivery.last_error
    assert PushSubscription.objects.filter(pk=subscription.pk).exists()  # down is not withdrawn


def test_a_big_notification_is_cut_to_fit_a_push_message(alice, push_service, subscription):
    long_message = 'Ünïcödé and "quotes"\n' * 400
    delivery = attempt(push_delivery(alice, title="Big", message=long_message, data={"blob": "x" * 5000}))

    assert delivery.status == Delivery.Status.SENT
    [message] = push_service.messages_to(subscription.endpoint)
    assert len(message.payload) <= 3000
    body = message.json
    assert (body["title"], body["data"]) == ("Big", {})
    assert body["message"].endswith("…")
    assert long_message.startswith(body["message"].removesuffix("…"))
    assert len(body["message"]) > 1000  # trimmed only as much as needed


def test_a_big_data_object_is_dropped_before_the_message_is_cut(alice, push_service, subscription):
    attempt(push_delivery(alice, title="Data", message="Kept whole.", data={"blob": "x" * 4000}))

    [message] = push_service.messages_to(subscription.endpoint)
    assert (message.json["message"], message.json["data"]) == ("Kept whole.", {})


def test_a_bad_vapid_key_fails_clearly_and_the_key_endpoint_says_so(settings, alice, push_service, subscription):
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = "bm90IGEga2V5"
    delivery = attempt(push_delivery(alice))

    assert delivery.status == Delivery.Status.FAILED
    assert "WEB_PUSH_VAPID_PRIVATE_KEY is not a VAPID private key" in delivery.last_error
    assert "bm90IGEga2V5" not in delivery.last_error
    assert push_service.requests == []
    response = APIClient().get("/api/notifications/web-push/key")
    assert_error_shape(response, 503, "web_push_unavailable")


@pytest.mark.parametrize(
    "der_format", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_a_der_private_key_is_accepted(settings, push_service, der_format):
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, der_format, serialization.NoEncryption())
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = base64.urlsafe_b64encode(der).rstrip(b"=").decode()

    response = APIClient().get("/api/notifications/web-push/key")

    assert response.json() == {"public_key": public_of(key)}


def test_a_development_machine_makes_one_key_and_keeps_it(settings, tmp_path, alice, push_service):
    key_file = tmp_path / "vapid_private_key"
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = ""
    settings.WEB_PUSH_VAPID_KEY_FILE = str(key_file)

    served = APIClient().get("/api/notifications/web-push/key").json()["public_key"]

    assert os.stat(key_file).st_mode & 0o777 == 0o600
    stored = vapid.parse_private_key(key_file.read_text(), source="test")
    assert public_of(stored) == served
    assert APIClient().get("/api/notifications/web-push/key").json()["public_key"] == served
    subscribe(alice, push_service, key=served)
    assert attempt(push_delivery(alice)).status == Delivery.Status.SENT


def _forged(claims_change: dict, *, sign_with: ec.EllipticCurvePrivateKey | None = None) -> str:
    signer = Vapid02(ec.generate_private_key(ec.SECP256R1()))
    header = signer.sign({"sub": SUBJECT, "exp": int(time.time()) + 3600, **claims_change})["Authorization"]
    if sign_with is not None:  # keep the token, claim another key
        header = header.split(",k=")[0] + ",k=" + public_of(sign_with)
    return header


@pytest.mark.parametrize(
    ("make_headers", "status"),
    [
        (lambda aud: {"Authorization": _forged({"aud": aud}, sign_with=ec.generate_private_key(ec.SECP256R1()))}, 401),
        (lambda aud: {"Authorization": _forged({"aud": "https://push.example.com"})}, 401),
        (lambda aud: {"Authorization": _forged({"aud": aud, "exp": int(time.time()) + 25 * 3600})}, 401),
        (lambda aud: {}, 401),
        (lambda aud: {"Authorization": _forged({"aud": aud}), "TTL": "x"}, 400),
    ],
    ids=["signature_by_another_key", "wrong_audience", "exp_beyond_24h", "no_vapid", "bad_ttl"],
)
def test_the_push_service_double_refuses_what_a_real_one_refuses(push_service, make_headers, status):
    endpoint = push_service.subscribe()["endpoint"]
    headers = {"TTL": "60", "Content-Encoding": "aes128gcm", **make_headers(push_service.url)}

    response = httpx.post(endpoint, content=b"", headers=headers)

    assert response.status_code == status
    assert set(json.loads(response.content)) == {"code", "error", "message"}
    assert push_service.messages == []


def test_an_endpoint_outside_the_allowed_hosts_is_not_posted_to(settings, alice, push_service, subscription):
    settings.WEB_PUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com"]
    delivery = attempt(push_delivery(alice))

    assert delivery.status == Delivery.Status.FAILED
    assert "not an allowed push service" in delivery.last_error
    assert push_service.requests == []
    assert PushSubscription.objects.filter(pk=subscription.pk).exists()


def test_a_subscription_with_unusable_keys_bounces(alice, push_service, subscription):
    bad_point = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()  # not on the curve
    PushSubscription.objects.filter(pk=subscription.pk).update(p256dh=bad_point)
    delivery = attempt(push_delivery(alice))

    assert delivery.status == Delivery.Status.BOUNCED
    assert "keys are not a valid P-256 key" in delivery.last_error
    assert push_service.requests == []


def test_a_redirect_is_not_followed(alice, push_service, subscription):
    elsewhere = push_service.subscribe()["endpoint"]
    push_service.plan(subscription.endpoint, Answer(307, {"Location": elsewhere}))
    delivery = attempt(push_delivery(alice))

    assert delivery.status == Delivery.Status.FAILED
    assert "redirect" in delivery.last_error
    assert [r["status"] for r in push_service.requests] == [307]  # the VAPID token went nowhere else
