"""The ticket API of the guide: create, list, detail with the thread, reply; auth, ownership, validation."""

from __future__ import annotations

import itertools
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from apps.support.models import Attachment, Ticket, TicketMessage
from apps.support.services import tickets as services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("support_teams", "support_files")]

VALID = {
    "subject": "Unable to connect wallet",
    "description": "Detailed description of the issue...",
    "category": "technical",
    "priority": "medium",
    "attachments": [],
    "user_agent": "Mozilla/5.0...",
    "wallet_address": "0x1234...abcd",
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def create(client: APIClient, **changes) -> dict:
    response = client.post("/api/support/tickets", {**VALID, **changes}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- auth and ownership -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/support/tickets"),
        ("get", "/api/support/tickets"),
        ("get", "/api/support/tickets/TKT-123456"),
        ("post", "/api/support/tickets/TKT-123456/messages"),
        ("get", "/api/support/tickets/TKT-123456/attachments/1"),
    ],
)
def test_every_endpoint_needs_a_token(method, path):
    response = getattr(APIClient(), method)(path, {}, format="json") if method == "post" else APIClient().get(path)
    assert_error(response, 401, "not_authenticated")


def test_another_users_ticket_is_not_found(api_client_for, alice, bob):
    ticket_id = create(api_client_for(alice))["ticket_id"]
    as_bob = api_client_for(bob)
    assert_error(as_bob.get(f"/api/support/tickets/{ticket_id}"), 404, "not_found")
    assert_error(as_bob.post(f"/api/support/tickets/{ticket_id}/messages", {"message": "hi"}, format="json"), 404)
    assert not TicketMessage.objects.exists()
    assert as_bob.get("/api/support/tickets").json()["tickets"] == []


def test_an_unknown_ticket_is_not_found(api_client_for, alice):
    assert_error(api_client_for(alice).get("/api/support/tickets/TKT-000000"), 404, "not_found")
    assert_error(api_client_for(alice).get("/api/support/tickets/anything"), 404, "not_found")


# --- create --------------------------------------------------------------------------------------------------------


def test_create_returns_the_guides_shape_and_stores_the_ticket(api_client_for, alice):
    body = create(api_client_for(alice))
    assert re.fullmatch(r"TKT-\d{6}", body["ticket_id"])
    assert body["status"] == "open"
    assert body["priority"] == "medium"
    assert body["estimated_response_time"] == "8 hours"  # technical team, medium SLA, nobody waiting
    assert ISO_Z.match(body["created_at"])
    assert (body["category"], body["team"], body["requested_priority"]) == ("technical", "technical", "medium")
    ticket = Ticket.objects.get(pk=body["ticket_id"])
    assert ticket.user == alice
    assert (ticket.subject, ticket.description) == (VALID["subject"], VALID["description"])
    assert (ticket.user_agent, ticket.wallet_address) == (VALID["user_agent"], VALID["wallet_address"])
    assert ticket.estimated_response_time == "8 hours"
    assert ticket.last_user_message_at is not None


def test_ticket_ids_do_not_follow_each_other(api_client_for, alice):
    client = api_client_for(alice)
    numbers = [int(create(client)["ticket_id"][4:]) for _ in range(4)]
    assert len(set(numbers)) == 4
    assert [b - a for a, b in itertools.pairwise(numbers)] != [1, 1, 1]


def test_only_subject_description_and_category_are_required(api_client_for, alice):
    response = api_client_for(alice).post(
        "/api/support/tickets", {"subject": "Hi", "description": "Help", "category": "other"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["priority"] == "medium"


def test_funds_at_risk_is_urgent_whatever_was_asked(api_client_for, alice):
    body = create(api_client_for(alice), category="funds_at_risk", priority="low")
    assert (body["priority"], body["requested_priority"], body["team"]) == ("urgent", "low", "trust-safety")
    assert body["estimated_response_time"] == "15 minutes"


def test_the_estimate_grows_as_tickets_wait(api_client_for, alice, bob):
    for _ in range(3):
        services.ticket_create(user=bob, subject="s", description="d", category="wallet")
    assert create(api_client_for(alice))["estimated_response_time"] == "32 hours"  # 480 * (1 + 3)


LONG = "x" * 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject": None}, "subject"),
        ({"subject": ""}, "subject"),
        ({"subject": LONG}, "subject"),
        ({"description": None}, "description"),
        ({"description": "d" * 10_001}, "description"),
        ({"category": "nft"}, "category"),
        ({"category": None}, "category"),
        ({"priority": "critical"}, "priority"),
        ({"user_agent": "u" * 501}, "user_agent"),
        ({"wallet_address": "0x" + "a" * 99}, "wallet_address"),
        ({"attachments": "iVBORw0KGgo="}, "attachments"),
        ({"attachments": {"a": 1}}, "attachments"),
        ({"attachments": [1]}, "attachments"),
    ],
)
def test_create_rejects_bad_input(api_client_for, alice, changes, field):
    payload = {**VALID, **changes}
    payload = {key: value for key, value in payload.items() if value is not None}
    error = assert_error(api_client_for(alice).post("/api/support/tickets", payload, format="json"), 400)
    assert error["code"] == "invalid_input"
    assert field in error["details"]
    assert not Ticket.objects.exists()


def test_an_unknown_category_lists_the_allowed_ones(api_client_for, alice):
    response = api_client_for(alice).post("/api/support/tickets", {**VALID, "category": "nft"}, format="json")
    message = assert_error(response, 400)["details"]["category"][0]
    assert 'Unknown category "nft"' in message
    assert "funds_at_risk" in message


def test_a_non_json_body_is_the_error_shape(api_client_for, alice):
    response = api_client_for(alice).post("/api/support/tickets", "{oops", content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_a_body_over_the_limit_is_413_and_stores_nothing(api_client_for, alice, settings, support_files):
    settings.SUPPORT_REQUEST_MAX_BYTES = 64 * 1024
    payload = {**VALID, "attachments": ["QUFB" * 20_000]}
    response = api_client_for(alice).post("/api/support/tickets", payload, format="json")
    assert_error(response, 413, "payload_too_large")
    assert not Ticket.objects.exists()
    assert not list(support_files.rglob("*"))


# --- list ----------------------------------------------------------------------------------------------------------


def test_list_shows_only_mine_newest_first_with_thread_counts(api_client_for, alice, bob, make_ticket_agent):
    client = api_client_for(alice)
    first = create(client, subject="First")["ticket_id"]
    second = create(client, subject="Second", category="payments", priority="high")["ticket_id"]
    create(api_client_for(bob))
    ticket = Ticket.objects.get(pk=first)
    reply = services.ticket_agent_reply(ticket=ticket, agent=make_ticket_agent(), body="Hello")
    services.ticket_agent_reply(ticket=ticket, agent=make_ticket_agent(), body="secret", internal=True)

    body = client.get("/api/support/tickets").json()
    assert body["total_count"] == 2
    assert [t["ticket_id"] for t in body["tickets"]] == [second, first]
    item = body["tickets"][1]
    assert set(item) >= {
        "ticket_id",
        "subject",
        "category",
        "priority",
        "status",
        "estimated_response_time",
        "created_at",
        "updated_at",
        "last_message_at",
        "message_count",
    }
    assert (item["status"], item["message_count"]) == ("pending", 1)
    assert item["last_message_at"] == reply.created_at.isoformat().replace("+00:00", "Z")
    assert body["tickets"][0]["message_count"] == 0
    assert body["tickets"][0]["last_message_at"] is None


@pytest.mark.parametrize(
    ("query", "subjects"),
    [
        ("status=open", {"tech", "pay"}),
        ("status=resolved", {"done"}),
        ("category=payments", {"pay"}),
        ("priority=high", {"pay"}),
        ("category=technical&status=open", {"tech"}),
        ("priority=urgent", set()),
    ],
)
def test_list_filters(api_client_for, alice, query, subjects):
    client = api_client_for(alice)
    create(client, subject="tech")
    create(client, subject="pay", category="payments", priority="high")
    done = create(client, subject="done")["ticket_id"]
    Ticket.objects.filter(pk=done).update(status="resolved")
    body = client.get(f"/api/support/tickets?{query}").json()
    assert {t["subject"] for t in body["tickets"]} == subjects


@pytest.mark.parametrize(
    ("query", "field", "allowed"),
    [("status=snoozed", "status", "resolved"), ("category=nft", "category", "kyc"), ("priority=p1", "priority", "low")],
)
def test_an_unknown_filter_value_lists_the_allowed_ones(api_client_for, alice, query, field, allowed):
    error = assert_error(api_client_for(alice).get(f"/api/support/tickets?{query}"), 400, "invalid_filter")
    assert allowed in error["details"][field][0]


def test_list_is_paginated(api_client_for, alice):
    client = api_client_for(alice)
    ids = [create(client)["ticket_id"] for _ in range(3)]
    page = client.get("/api/support/tickets?limit=2&offset=1").json()
    assert [t["ticket_id"] for t in page["tickets"]] == [ids[1], ids[0]]
    assert (page["total_count"], page["limit"], page["offset"], page["has_more"]) == (3, 2, 1, False)
    assert client.get("/api/support/tickets?limit=1").json()["has_more"] is True


# --- detail -------------------------------------------------------------------------------------------------------


def test_detail_shows_the_public_thread_without_internal_notes_or_agent_emails(
    api_client_for, alice, make_ticket_agent
):
    client = api_client_for(alice)
    ticket_id = create(client)["ticket_id"]
    ticket = Ticket.objects.get(pk=ticket_id)
    agent = make_ticket_agent("Sam from Support")
    services.ticket_agent_reply(ticket=ticket, agent=agent, body="VIP customer, check logs", internal=True)
    services.ticket_agent_reply(ticket=ticket, agent=agent, body="Could you send a screenshot?")
    client.post(f"/api/support/tickets/{ticket_id}/messages", {"message": "Here"}, format="json")

    response = client.get(f"/api/support/tickets/{ticket_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["ticket_id"] == ticket_id
    assert body["description"] == VALID["description"]
    assert body["status"] == "open"  # the user's reply reopened it
    assert [(m["author_role"], m["author_name"], m["message"]) for m in body["messages"]] == [
        ("agent", "Sam from Support", "Could you send a screenshot?"),
        ("user", None, "Here"),
    ]
    assert all(
        set(m) >= {"id", "author_role", "author_name", "message", "attachments", "created_at"} for m in body["messages"]
    )
    assert "VIP" not in response.content.decode()
    assert agent.email not in response.content.decode()


def test_an_agent_without_a_display_name_shows_their_first_name(api_client_for, alice, make_ticket_agent):
    client = api_client_for(alice)
    ticket_id = create(client)["ticket_id"]
    services.ticket_agent_reply(ticket=Ticket.objects.get(pk=ticket_id), agent=make_ticket_agent(""), body="Hi")
    assert client.get(f"/api/support/tickets/{ticket_id}").json()["messages"][0]["author_name"] == "Samuel"


# --- reply ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "resolved", "closed"])
def test_a_reply_reopens_the_ticket(api_client_for, alice, status):
    client = api_client_for(alice)
    ticket_id = create(client)["ticket_id"]
    Ticket.objects.filter(pk=ticket_id).update(status=status)
    response = client.post(f"/api/support/tickets/{ticket_id}/messages", {"message": "Still broken"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["author_role"], body["author_name"], body["message"], body["attachments"]) == (
        "user",
        None,
        "Still broken",
        [],
    )
    assert ISO_Z.match(body["created_at"])
    ticket = Ticket.objects.get(pk=ticket_id)
    message = TicketMessage.objects.get(pk=body["id"])
    assert (ticket.status, ticket.last_user_message_at) == ("open", message.created_at)
    assert (message.author, message.role, message.internal) == (alice, "user", False)


@pytest.mark.parametrize(
    "payload",
    [{}, {"message": ""}, {"message": "m" * 10_001}, {"message": "hi", "attachments": "abc"}, {"message": ["a"]}],
)
def test_reply_rejects_bad_input(api_client_for, alice, payload):
    client = api_client_for(alice)
    ticket_id = create(client)["ticket_id"]
    response = client.post(f"/api/support/tickets/{ticket_id}/messages", payload, format="json")
    assert_error(response, 400, "invalid_input")
    assert not TicketMessage.objects.exists()


# --- the agent's reply reaches the user's notification socket ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_an_agent_reply_is_pushed_to_the_users_notification_socket(alice, bob, make_ticket_agent):
    from engipay.asgi import application

    ticket = await database_sync_to_async(services.ticket_create)(
        user=alice, subject="Help", description="Please", category="technical"
    )
    agent = await database_sync_to_async(make_ticket_agent)()
    sockets = {}
    for user in (alice, bob):
        socket = WebsocketCommunicator(
            application, f"/ws/notifications/?token={user.auth['token']}", headers=[(b"host", b"testserver")]
        )
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from(timeout=5))["type"] == "authenticated"
        sockets[user.pk] = socket
    try:
        await database_sync_to_async(services.ticket_agent_reply)(ticket=ticket, agent=agent, body="We are on it")
        event = await sockets[alice.pk].receive_json_from(timeout=5)
        assert event["type"] == "notification"
        assert event["notification"]["type"] == "support_reply"
        assert event["notification"]["data"] == {"ticket_id": ticket.id}
        assert event["notification"]["message"] == "We are on it"
        assert await sockets[bob.pk].receive_nothing(timeout=0.5)
    finally:
        for socket in sockets.values():
            await socket.disconnect()


def test_nothing_about_attachments_is_stored_for_a_plain_ticket(api_client_for, alice, support_files):
    create(api_client_for(alice))
    assert not Attachment.objects.exists()
    assert not list(support_files.rglob("*"))


def test_new_tickets_and_replies_are_throttled_per_user_but_reads_are_not(api_client_for, alice, bob, throttle_rates):
    throttle_rates(support_write="2/min")
    client = api_client_for(alice)
    ticket_id = create(client)["ticket_id"]
    assert client.post(f"/api/support/tickets/{ticket_id}/messages", {"message": "1"}, format="json").status_code == 201
    assert_error(client.post("/api/support/tickets", VALID, format="json"), 429, "throttled")
    assert client.get("/api/support/tickets").status_code == 200
    assert client.get(f"/api/support/tickets/{ticket_id}").status_code == 200
    assert api_client_for(bob).post("/api/support/tickets", VALID, format="json").status_code == 201
    assert Ticket.objects.count() == 2
