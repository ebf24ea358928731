"""Subscribe, preferences, confirmation of a new email address, notification delete and unread count."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core import mail

from apps.notifications import tasks
from apps.notifications.models import Delivery, NotificationPreference, PushSubscription
from apps.notifications.services import notify
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


@pytest.fixture
def push_hosts(settings):
    settings.WEB_PUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com", ".push.apple.com"]
    settings.WEB_PUSH_ALLOW_HTTP = False


def _subscription(endpoint="https://fcm.googleapis.com/fcm/send/abc:APA91b-device-1"):
    return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": P256DH, "auth": AUTH}}


@pytest.fixture
def ada_client(ada, api_client):
    api_client.force_authenticate(ada)
    return api_client


def test_defaults_before_any_choice(ada_client):
    body = ada_client.get("/api/notifications/preferences").json()
    assert body["channels"] == ["in_app", "email"]
    assert body["email"] == "ada@example.com"
    assert body["email_verified"] is True
    assert body["types"]["transaction_confirmed"] == ["in_app", "email"]
    assert body["types"]["transaction_pending"] == ["in_app"]
    assert set(body["types"]) >= {"escrow_*", "kyc_*", "support_reply", "price_alert", "defi_*"}
    assert body["quiet_hours"] is None
    assert body["push_subscriptions"] == []
    assert body["updated_at"] is None
    assert not NotificationPreference.objects.exists()  # reading writes nothing


def test_wallet_users_without_email_get_no_email(alice, api_client_for):
    body = api_client_for(alice).get("/api/notifications/preferences").json()
    assert body["email"] is None
    assert body["email_verified"] is False
    assert not Delivery.objects.filter(notification=notify(user=alice, kind="kyc_verified", title="x")).exists()


def test_subscribe_web_push_for_some_types(ada_client, ada, push_hosts):
    response = ada_client.post(
        "/api/notifications/subscribe",
        {"channels": ["web_push"], "types": ["transaction_failed", "escrow"], "push_subscription": _subscription()},
        format="json",
        HTTP_USER_AGENT="Firefox/140",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["channels"] == ["in_app", "email", "web_push"]
    assert body["types"]["transaction_failed"] == ["in_app", "email", "web_push"]
    assert body["types"]["escrow_*"] == ["in_app", "email", "web_push"]
    assert body["types"]["transaction_confirmed"] == ["in_app", "email"]
    [sub] = body["push_subscriptions"]
    assert sub["endpoint_host"] == "fcm.googleapis.com"
    assert sub["user_agent"] == "Firefox/140"
    notification = notify(user=ada, kind="escrow_accepted", title="Escrow accepted")
    assert sorted(Delivery.objects.filter(notification=notification).values_list("channel", flat=True)) == [
        "email",
        "web_push",
    ]
    # The same browser subscribing again updates its keys, it is not a second subscription.
    again = ada_client.post(
        "/api/notifications/subscribe", {"channels": ["web_push"], "push_subscription": _subscription()}, format="json"
    )
    assert again.status_code == 200
    assert len(again.json()["push_subscriptions"]) == 1


def test_a_browser_that_moves_to_another_account_stops_pushing_to_the_first(ada, alice, api_client_for, push_hosts):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(ada)
    client.post(
        "/api/notifications/subscribe", {"channels": ["web_push"], "push_subscription": _subscription()}, format="json"
    )
    api_client_for(alice).post(
        "/api/notifications/subscribe", {"channels": ["web_push"], "push_subscription": _subscription()}, format="json"
    )
    assert list(PushSubscription.objects.values_list("user_id", flat=True)) == [alice.pk]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_channels"),
        ({"channels": ["pigeon"]}, "invalid_channels"),
        ({"channels": "email"}, "invalid_channels"),
        ({"channels": ["email"], "types": ["lottery_win"]}, "invalid_types"),
        ({"channels": ["email"], "email": "not-an-email"}, "invalid_email"),
        ({"channels": ["sms"], "phone": "0049 170 123"}, "invalid_phone"),
        ({"channels": ["sms"]}, "channel_target_missing"),
        ({"channels": ["web_push"]}, "channel_target_missing"),
        (
            {"channels": ["web_push"], "push_subscription": {"endpoint": "https://fcm.googleapis.com/x"}},
            "invalid_push_subscription",
        ),
        (  # the right length, but not a point on P-256
            {
                "channels": ["web_push"],
                "push_subscription": {**_subscription(), "keys": {"p256dh": "B" + "A" * 86, "auth": AUTH}},
            },
            "invalid_push_subscription",
        ),
        (
            {"channels": ["web_push"], "push_subscription": _subscription("https://evil.example/steal")},
            "push_endpoint_not_allowed",
        ),
        (
            {"channels": ["web_push"], "push_subscription": _subscription("http://fcm.googleapis.com/x")},
            "push_endpoint_not_allowed",
        ),
        (
            {"channels": ["web_push"], "push_subscription": _subscription("https://169.254.169.254/latest")},
            "push_endpoint_not_allowed",
        ),
    ],
)
def test_subscribe_refuses_bad_input_with_the_error_shape(ada_client, push_hosts, body, code):
    response = ada_client.post("/api/notifications/subscribe", body, format="json")
    assert_error_shape(response, 400, code)
    assert not NotificationPreference.objects.exists()
    assert not PushSubscription.objects.exists()


def test_subscribe_needs_a_signed_in_user(api_client):
    assert_error_shape(api_client.post("/api/notifications/subscribe", {"channels": ["email"]}, format="json"), 401)
    assert_error_shape(api_client.get("/api/notifications/preferences"), 401)


def test_a_new_email_is_used_only_after_its_link_is_opened(alice, api_client_for, api_client):
    client = api_client_for(alice)
    response = client.post(
        "/api/notifications/subscribe", {"channels": ["email"], "email": "Alice@Example.COM"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "Alice@example.com"
    assert body["email_verified"] is False
    assert body["pending_verification"] == ["email"]
    assert not Delivery.objects.filter(notification=notify(user=alice, kind="kyc_verified", title="x")).exists()

    tasks.email_confirmation_send.apply(kwargs={"user_id": str(alice.pk)})  # what the worker runs after commit
    [message] = mail.outbox
    assert message.to == ["Alice@example.com"]
    token = re.search(r"/api/notifications/email/confirm\?token=(\S+)", message.body).group(1)
    page = api_client.get("/api/notifications/email/confirm", {"token": token}, HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"Confirm this address" in page.content
    assert not NotificationPreference.objects.get(user=alice).email_verified_at  # GET changes nothing
    confirmed = api_client.post(f"/api/notifications/email/confirm?token={token}")
    assert confirmed.json() == {"email": "Alice@example.com", "email_verified": True}
    assert Delivery.objects.filter(notification=notify(user=alice, kind="kyc_verified", title="x")).count() == 1

    # A link for an address that was replaced since does not confirm the new one.
    client.patch("/api/notifications/preferences", {"email": "other@example.com"}, format="json")
    assert_error_shape(api_client.post(f"/api/notifications/email/confirm?token={token}"), 400, "invalid_token")
    assert NotificationPreference.objects.get(user=alice).email_verified_at is None


def test_patch_changes_only_what_is_given(ada_client):
    response = ada_client.patch(
        "/api/notifications/preferences",
        {
            "types": {"price_alert": ["in_app"], "kyc_rejected": ["email"]},
            "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["types"]["price_alert"] == ["in_app"]
    assert body["types"]["kyc_*"] == ["email"]  # a kind names its family
    assert body["types"]["support_reply"] == ["in_app", "email"]
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}
    assert body["channels"] == ["in_app", "email"]
    cleared = ada_client.patch("/api/notifications/preferences", {"quiet_hours": None}, format="json").json()
    assert cleared["quiet_hours"] is None
    assert cleared["types"]["price_alert"] == ["in_app"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"quiet_hours": {"start": "25:00", "end": "07:00", "timezone": "UTC"}}, "invalid_quiet_hours"),
        ({"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}}, "invalid_quiet_hours"),
        ({"quiet_hours": "22-07"}, "invalid_quiet_hours"),
        ({"types": {"transaction_confirmed": ["fax"]}}, "invalid_channels"),
        ({"types": ["email"]}, "invalid_types"),
        ({"volume": 11}, "unknown_fields"),
    ],
)
def test_patch_refuses_bad_input(ada_client, body, code):
    assert_error_shape(ada_client.patch("/api/notifications/preferences", body, format="json"), 400, code)


def test_push_subscriptions_are_removed_only_by_their_owner(ada_client, ada, alice, api_client_for, push_hosts):
    ada_client.post(
        "/api/notifications/subscribe", {"channels": ["web_push"], "push_subscription": _subscription()}, format="json"
    )
    sub = PushSubscription.objects.get(user=ada)
    assert_error_shape(api_client_for(alice).delete(f"/api/notifications/push-subscriptions/{sub.pk}"), 404)
    assert ada_client.delete(f"/api/notifications/push-subscriptions/{sub.pk}").status_code == 204
    assert not PushSubscription.objects.exists()
    assert_error_shape(ada_client.delete(f"/api/notifications/push-subscriptions/{uuid.uuid4()}"), 404)


def test_unread_count_mark_read_and_delete(alice, bob, api_client_for):
    client = api_client_for(alice)
    first = notify(user=alice, kind="transaction_confirmed", title="One")
    second = notify(user=alice, kind="transaction_confirmed", title="Two")
    notify(user=bob, kind="transaction_confirmed", title="Bob's")
    assert client.get("/api/notifications/unread-count").json() == {"unread_count": 2}
    assert client.post(f"/api/notifications/{first.id}/read").json()["read"] is True
    assert client.get("/api/notifications/unread-count").json() == {"unread_count": 1}
    assert client.get(f"/api/notifications/{second.id}").json()["title"] == "Two"

    assert_error_shape(api_client_for(bob).delete(f"/api/notifications/{second.id}"), 404)
    assert client.delete(f"/api/notifications/{second.id}").status_code == 204
    assert client.get("/api/notifications/unread-count").json() == {"unread_count": 0}
    assert [n["id"] for n in client.get("/api/notifications").json()["notifications"]] == [str(first.id)]
    assert_error_shape(client.get(f"/api/notifications/{second.id}"), 404)
    assert_error_shape(client.delete(f"/api/notifications/{second.id}"), 404)


def test_confirmation_emails_and_codes_have_a_daily_budget(ada_client, alice, api_client_for, settings):
    settings.NOTIFY_VERIFICATIONS_PER_USER_PER_DAY = 2
    settings.NOTIFY_VERIFICATIONS_PER_TARGET_PER_DAY = 2
    for number in ("+14155550101", "+14155550102"):
        assert ada_client.patch("/api/notifications/preferences", {"phone": number}, format="json").status_code == 200
    # A third new number today: refused, and the stored number is unchanged.
    refused = ada_client.patch("/api/notifications/preferences", {"phone": "+14155550103"}, format="json")
    assert_error_shape(refused, 429, "verification_limit")
    assert NotificationPreference.objects.get(user__email="ada@example.com").phone == "+14155550102"
    # Email has its own budget; and one address cannot be bombed from many accounts.
    victim = "victim@example.org"
    assert ada_client.patch("/api/notifications/preferences", {"email": victim}, format="json").status_code == 200
    client = api_client_for(alice)
    assert client.patch("/api/notifications/preferences", {"email": victim}, format="json").status_code == 200
    assert_error_shape(
        client.patch("/api/notifications/preferences", {"email": victim.upper()}, format="json"),
        429,
        "verification_limit",
    )


def test_a_push_endpoint_cannot_be_taken_over_by_someone_who_only_knows_its_url(ada, alice, api_client_for, push_hosts):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(ada)
    client.post(
        "/api/notifications/subscribe", {"channels": ["web_push"], "push_subscription": _subscription()}, format="json"
    )
    other_keys = {**_subscription(), "keys": {"p256dh": P256DH, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}
    response = api_client_for(alice).post(
        "/api/notifications/subscribe", {"channels": ["web_push"], "push_subscription": other_keys}, format="json"
    )
    assert_error_shape(response, 409, "push_subscription_in_use")
    assert list(PushSubscription.objects.values_list("user_id", flat=True)) == [ada.pk]


def test_patch_needs_a_json_object(ada_client):
    assert_error_shape(ada_client.patch("/api/notifications/preferences", [], format="json"), 400, "invalid_input")


def test_quiet_hours_without_a_time_zone_keep_the_users_zone(ada_client):
    ada_client.patch(
        "/api/notifications/preferences",
        {"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}},
        format="json",
    )
    body = ada_client.patch(
        "/api/notifications/preferences", {"quiet_hours": {"start": "23:00", "end": "06:00"}}, format="json"
    ).json()
    assert body["quiet_hours"] == {"start": "23:00", "end": "06:00", "timezone": "Europe/Berlin"}
