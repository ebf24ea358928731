"""DeFi webhooks are verified and kept as unhandled (no app handles them yet); the delivery log in the admin is read
only, and staff allowed to can process accepted deliveries again (e.g. once an app handles their topic)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from apps.webhooks.models import WebhookDelivery
from apps.webhooks.registry import WebhookEvent, webhook_handler_register, webhook_handler_unregister
from apps.webhooks.tasks import delivery_process
from tests.helpers import assert_error_shape, logged_in_client, staff_user

from .conftest import DEFI, PRICES, event_id, post, post_signed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("senders")]

CHANGELIST = reverse("admin:webhooks_webhookdelivery_changelist")
POSITION = {
    "protocol": "vesu",
    "network": "starknet",
    "wallet_address": "0x04a3b1c2d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80",
    "position_id": "vesu-pool-1:0x04a3",
    "event": "position.updated",
}


def test_a_defi_delivery_is_verified_deduplicated_and_kept_unhandled(django_capture_on_commit_callbacks):
    body = {"id": event_id("defi"), **POSITION}
    with django_capture_on_commit_callbacks() as queued:
        response = post_signed(DEFI, body)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "unhandled"
    assert queued == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.verdict, delivery.status, delivery.event_id) == ("accepted", "unhandled", body["id"])
    assert delivery.payload == body
    assert delivery_process(str(delivery.pk)) == "unhandled"  # a stray task does nothing either
    again = post_signed(DEFI, body).json()
    assert (again["duplicate"], again["delivery_id"], again["status"]) == (True, str(delivery.pk), "unhandled")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"protocol": "aave"}, "protocol"),
        ({"wallet_address": "not-an-address"}, "wallet_address"),
        ({"network": 1}, "network"),
        ({"position_id": "x" * 129}, "position_id"),
    ],
)
def test_a_defi_delivery_of_the_wrong_shape_is_refused(change, field):
    error = assert_error_shape(post_signed(DEFI, {"id": event_id(), **POSITION, **change}), 400, "invalid_payload")
    assert field in error["details"]


@pytest.fixture
def defi_app():
    """A DeFi app that handles the topic (none exists yet): records the events it is given."""
    seen: list[WebhookEvent] = []

    def handle(event: WebhookEvent) -> str:
        seen.append(event)
        return f"position {event.payload['position_id']} re-read"

    webhook_handler_register("defi", handle)
    yield seen
    webhook_handler_unregister("defi", handle)


@pytest.fixture
def operator():
    return logged_in_client(staff_user("ops@example.com", is_superuser=True))


@pytest.fixture
def viewer():
    user = staff_user("viewer@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    return logged_in_client(user)


def test_staff_can_process_kept_deliveries_again_once_an_app_handles_their_topic(operator, defi_app):
    accepted = post_signed(DEFI, {"id": event_id("defi"), **POSITION}).json()
    refused = post(DEFI, {"id": "x"}, headers={"X-EngiPay-Source": "oracle"})
    assert refused.status_code == 400
    refused_id = WebhookDelivery.objects.exclude(pk=accepted["delivery_id"]).get().pk
    response = operator.post(
        CHANGELIST,
        {"action": "process_again", "_selected_action": [accepted["delivery_id"], str(refused_id)]},
        follow=True,
    )
    notes = [str(m) for m in response.context["messages"]]
    assert notes == ["1 delivery(ies) queued for processing.", "1 refused or duplicate delivery(ies) skipped."]
    assert WebhookDelivery.objects.get(pk=accepted["delivery_id"]).status == "queued"

    assert delivery_process(accepted["delivery_id"]) == "processed"
    delivery = WebhookDelivery.objects.get(pk=accepted["delivery_id"])
    assert (delivery.result, delivery.attempts) == ("position vesu-pool-1:0x04a3 re-read", 1)
    assert [(e.topic, e.source, e.event_id) for e in defi_app] == [("defi", "oracle", delivery.event_id)]
    assert WebhookDelivery.objects.get(pk=refused_id).status == "ignored"


def listed(client, **query) -> set[tuple[str, str]]:
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    return {(d.event_id, d.verdict) for d in response.context["cl"].result_list}


def test_the_log_lists_filters_searches_and_shows_a_delivery(viewer):
    body = {"id": "prc_findme", "prices": [{"symbol": "ETH", "price_usd": "1", "observed_at": "2024-01-01T00:00:00Z"}]}
    accepted = post_signed(PRICES, body).json()
    post(PRICES, b"{junk", headers={"X-EngiPay-Source": "nobody"})

    assert listed(viewer) == {("prc_findme", "accepted"), ("", "unknown_source")}
    assert listed(viewer, verdict__exact="unknown_source") == {("", "unknown_source")}
    assert listed(viewer, q="prc_findme") == {("prc_findme", "accepted")}
    assert listed(viewer, topic__exact="prices", status__exact="queued") == {("prc_findme", "accepted")}
    assert listed(viewer, topic__exact="defi") == set()

    detail = viewer.get(reverse("admin:webhooks_webhookdelivery_change", args=[accepted["delivery_id"]]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert "&quot;symbol&quot;: &quot;ETH&quot;" in html  # the body, pretty-printed and escaped
    assert "X-Engipay-Signature" in html  # the headers, as Django spells them
    assert 'name="_save"' not in html


def test_nobody_adds_edits_or_deletes_deliveries_by_hand(operator, viewer):
    accepted = post_signed(PRICES, {"id": event_id(), "prices": []})
    assert accepted.status_code == 400
    delivery = WebhookDelivery.objects.get()
    change = reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
    for client in (operator, viewer):
        assert client.get(reverse("admin:webhooks_webhookdelivery_add")).status_code == 403
        assert client.get(reverse("admin:webhooks_webhookdelivery_delete", args=[delivery.pk])).status_code == 403
        client.post(change, {"verdict": "accepted", "status": "queued"})
    delivery.refresh_from_db()
    assert (delivery.verdict, delivery.status) == ("invalid_payload", "ignored")


def test_staff_without_the_permission_cannot_process_again(viewer):
    accepted = post_signed(DEFI, {"id": event_id("defi"), **POSITION}).json()
    page = viewer.get(CHANGELIST).content.decode()
    assert "process_again" not in page
    viewer.post(CHANGELIST, {"action": "process_again", "_selected_action": [accepted["delivery_id"]]})
    assert WebhookDelivery.objects.get(pk=accepted["delivery_id"]).status == "unhandled"
