from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from apps.notifications.models import Notification
from apps.notifications.services import notify
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db


def test_list_has_the_guide_shape_newest_first_and_only_mine(alice, bob, api_client_for):
    first = notify(
        user=alice,
        kind="transaction_confirmed",
        title="Transaction Confirmed",
        message="Your ETH transfer has been confirmed",
        data={"tx_hash": "0xab", "amount": "0.5"},
    )
    second = notify(user=alice, kind="escrow_created", title="Escrow created")
    notify(user=bob, kind="transaction_confirmed", title="Bob's")
    response = api_client_for(alice).get("/api/notifications")
    assert response.status_code == 200
    data = response.json()
    assert [n["id"] for n in data["notifications"]] == [str(second.id), str(first.id)]
    assert data["total_count"] == 2
    assert data["unread_count"] == 2
    item = data["notifications"][1]
    assert item == {
        "id": str(first.id),
        "type": "transaction_confirmed",
        "title": "Transaction Confirmed",
        "message": "Your ETH transfer has been confirmed",
        "data": {"tx_hash": "0xab", "amount": "0.5"},
        "read": False,
        "read_at": None,
        "created_at": item["created_at"],
    }
    assert item["created_at"].endswith("Z")


def test_read_filter_and_mark_read(alice, api_client_for):
    client = api_client_for(alice)
    one = notify(user=alice, kind="a", title="one")
    notify(user=alice, kind="b", title="two")
    marked = client.post(f"/api/notifications/{one.id}/read")
    assert marked.status_code == 200
    assert marked.json()["read"] is True
    assert Notification.objects.get(pk=one.pk).read_at is not None
    assert [n["title"] for n in client.get("/api/notifications?read=true").json()["notifications"]] == ["one"]
    assert [n["title"] for n in client.get("/api/notifications?read=false").json()["notifications"]] == ["two"]
    assert [n["title"] for n in client.get("/api/notifications?type=b").json()["notifications"]] == ["two"]
    all_read = client.post("/api/notifications/read-all")
    assert all_read.json() == {"updated": 1, "unread_count": 0}
    assert client.post("/api/notifications/read-all").json() == {"updated": 0, "unread_count": 0}


def test_pagination(alice, api_client_for):
    for i in range(5):
        notify(user=alice, kind="k", title=f"n{i}")
    page = api_client_for(alice).get("/api/notifications?limit=2&offset=2").json()
    assert [n["title"] for n in page["notifications"]] == ["n2", "n1"]
    assert page["total_count"] == 5
    assert page["has_more"] is True
    assert (page["limit"], page["offset"]) == (2, 2)


def test_another_users_notification_is_404(alice, bob, api_client_for):
    theirs = notify(user=bob, kind="k", title="bob only")
    assert_error_shape(api_client_for(alice).post(f"/api/notifications/{theirs.id}/read"), 404, "not_found")
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert_error_shape(api_client_for(alice).post(f"/api/notifications/{uuid.uuid4()}/read"), 404)


def test_bad_filter_is_400(alice, api_client_for):
    assert_error_shape(api_client_for(alice).get("/api/notifications?read=maybe"), 400, "invalid_filter")


def test_needs_a_token():
    assert_error_shape(APIClient().get("/api/notifications"), 401)
