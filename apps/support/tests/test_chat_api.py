"""Live chat over HTTP: start (or resume) a session, list, detail, history, end, convert to a ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.support.models import AgentProfile, ChatMessage, ChatSession, Ticket
from apps.support.services import chat as services

pytestmark = pytest.mark.django_db

START = {
    "initial_message": "I need help with cross-chain swaps",
    "user_context": {"current_page": "/payments-swaps", "wallet_connected": True, "last_transaction": "swap_123"},
}


def start(client, body=None):
    return client.post("/api/support/chat/sessions", START if body is None else body, format="json")


def online_agent(make_agent, name="Dana", capacity=1):
    agent = make_agent(name)
    services.agent_set_capacity(agent=agent, capacity=capacity)
    services.agent_set_status(agent=agent, status="online")
    return agent


# --- authentication and ownership ----------------------------------------------------------------------------

ENDPOINTS = [
    ("post", "/api/support/chat/sessions"),
    ("get", "/api/support/chat/sessions"),
    ("get", "/api/support/chat/sessions/{id}"),
    ("get", "/api/support/chat/sessions/{id}/messages"),
    ("post", "/api/support/chat/sessions/{id}/end"),
    ("post", "/api/support/chat/sessions/{id}/ticket"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_needs_a_token(api_client, method, path):
    response = getattr(api_client, method)(path.format(id="chat_x"), format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path"), [e for e in ENDPOINTS if "{id}" in e[1]])
def test_another_users_session_is_404_and_untouched(api_client_for, alice, bob, method, path):
    session_id = start(api_client_for(alice)).json()["session_id"]
    response = getattr(api_client_for(bob), method)(path.format(id=session_id), format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    session = ChatSession.objects.get(pk=session_id)
    assert session.status == "queued"
    assert session.ticket_id is None


@pytest.mark.parametrize(("method", "path"), [e for e in ENDPOINTS if "{id}" in e[1]])
def test_an_unknown_session_is_404(api_client_for, alice, method, path):
    response = getattr(api_client_for(alice), method)(path.format(id="chat_nope"), format="json")
    assert response.status_code == 404


# --- start ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "initial_message"),
        ({"initial_message": ""}, "initial_message"),
        ({"initial_message": "x" * 2001}, "initial_message"),
        ({"initial_message": "hi", "user_context": "page=/x"}, "user_context"),
        ({"initial_message": "hi", "user_context": ["a"]}, "user_context"),
        ({"initial_message": "hi", "user_context": {"nested": {"a": 1}}}, "user_context"),
        ({"initial_message": "hi", "user_context": {"list": [1]}}, "user_context"),
        ({"initial_message": "hi", "user_context": {"ratio": 0.5}}, "user_context"),
        ({"initial_message": "hi", "user_context": {"page": "x" * 201}}, "user_context"),
        ({"initial_message": "hi", "user_context": {"bad key!": 1}}, "user_context"),
        ({"initial_message": "hi", "user_context": {f"k{i}": i for i in range(21)}}, "user_context"),
    ],
)
def test_start_refuses_bad_input_with_the_error_shape(api_client_for, alice, body, field):
    response = start(api_client_for(alice), body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert field in error["details"]
    assert error["message"]
    assert not ChatSession.objects.exists()


def test_start_queues_the_session_when_no_agent_is_online(api_client_for, alice):
    response = start(api_client_for(alice))
    assert response.status_code == 201
    body = response.json()
    assert body["session_id"].startswith("chat_")
    assert body["queue_position"] == 1
    assert body["agent_available"] is False
    assert body["estimated_wait_time"] == "no agents online"
    assert body["status"] == "queued"
    assert body["agent"] is None
    assert body["websocket_url"] == f"/api/support/chat/{body['session_id']}"
    session = ChatSession.objects.get(pk=body["session_id"])
    assert session.user_id == alice.pk
    assert session.user_context == START["user_context"]
    first = session.messages.get()
    assert (first.role, first.body, first.sender_id) == ("user", START["initial_message"], alice.pk)


def test_start_gives_the_chat_to_a_free_agent_at_once(api_client_for, alice, make_agent):
    agent = online_agent(make_agent, "Dana")
    body = start(api_client_for(alice)).json()
    assert body["queue_position"] == 0
    assert body["status"] == "active"
    assert body["agent"] == {"name": "Dana"}
    assert body["estimated_wait_time"] == "0 minutes"
    assert ChatSession.objects.get(pk=body["session_id"]).agent_id == agent.pk


def test_queue_position_and_estimate_follow_the_queue(api_client_for, make_user, make_agent, settings):
    settings.SUPPORT_CHAT_DEFAULT_HANDLING_MINUTES = 6
    online_agent(make_agent, capacity=2)
    bodies = [start(api_client_for(make_user())).json() for _ in range(5)]
    assert [b["queue_position"] for b in bodies] == [0, 0, 1, 2, 3]
    # 2 slots, 6 minutes per chat: the 1st waits 3 minutes, the 3rd 9.
    assert [b["estimated_wait_time"] for b in bodies[2:]] == ["3 minutes", "6 minutes", "9 minutes"]
    assert all(b["agent_available"] is False for b in bodies[2:])


def test_estimate_uses_recent_handling_times(api_client_for, make_user, make_agent):
    agent = online_agent(make_agent, capacity=1)
    now = timezone.now()
    for minutes in (10, 20, 30):  # three chats ended in the last day, 20 minutes on average
        ChatSession.objects.create(
            id=f"chat_done{minutes}",
            user=make_user(),
            agent=agent,
            status="ended",
            initial_message="old",
            waiting_since=now - timedelta(hours=2),
            assigned_at=now - timedelta(minutes=minutes + 5),
            ended_at=now - timedelta(minutes=5),
        )
    start(api_client_for(make_user()))  # takes the only slot
    body = start(api_client_for(make_user())).json()
    assert body["queue_position"] == 1
    assert body["estimated_wait_time"] == "20 minutes"


def test_a_user_with_an_open_session_gets_it_back(api_client_for, alice):
    first = start(api_client_for(alice)).json()
    again = start(api_client_for(alice), {"initial_message": "hello?"})
    assert again.status_code == 200
    assert again.json()["session_id"] == first["session_id"]
    assert ChatSession.objects.filter(user=alice).count() == 1
    assert ChatMessage.objects.filter(session_id=first["session_id"]).count() == 1


def test_after_ending_a_new_session_can_start(api_client_for, alice):
    client = api_client_for(alice)
    first = start(client).json()["session_id"]
    client.post(f"/api/support/chat/sessions/{first}/end")
    second = start(client)
    assert second.status_code == 201
    assert second.json()["session_id"] != first


# --- list, detail, history -----------------------------------------------------------------------------------


def test_list_shows_only_the_callers_sessions_newest_first(api_client_for, alice, bob):
    client = api_client_for(alice)
    old = start(client).json()["session_id"]
    client.post(f"/api/support/chat/sessions/{old}/end")
    new = start(client).json()["session_id"]
    start(api_client_for(bob))
    body = client.get("/api/support/chat/sessions?limit=1").json()
    assert body["total_count"] == 2
    assert body["has_more"] is True
    assert [s["session_id"] for s in body["sessions"]] == [new]
    assert body["sessions"][0]["queue_position"] == 1
    second = client.get("/api/support/chat/sessions?limit=1&offset=1").json()["sessions"][0]
    assert (second["session_id"], second["status"]) == (old, "ended")
    assert second["ended_at"] is not None


def test_detail_shows_status_position_and_agent(api_client_for, alice, bob, make_agent):
    agent = make_agent("Dana")
    bob_session = start(api_client_for(bob)).json()["session_id"]
    alice_session = start(api_client_for(alice)).json()["session_id"]
    body = api_client_for(alice).get(f"/api/support/chat/sessions/{alice_session}").json()
    assert (body["status"], body["queue_position"], body["agent"]) == ("queued", 2, None)
    services.agent_set_status(agent=agent, status="online")  # capacity 3: takes both
    body = api_client_for(alice).get(f"/api/support/chat/sessions/{alice_session}").json()
    assert (body["status"], body["queue_position"], body["agent"]) == ("active", 0, {"name": "Dana"})
    assert body["assigned_at"] is not None
    assert ChatSession.objects.get(pk=bob_session).agent_id == agent.pk


def test_history_is_oldest_first_and_paginated(api_client_for, alice, make_agent):
    agent = online_agent(make_agent, "Dana")
    client = api_client_for(alice)
    session = ChatSession.objects.get(pk=start(client).json()["session_id"])
    services.chat_message_add(session=session, sender=agent, body="Hi, which swap?")
    services.chat_message_add(session=session, sender=alice, body="swap_123")
    body = client.get(f"/api/support/chat/sessions/{session.id}/messages").json()
    assert body["total_count"] == 4
    assert [(m["role"], m["body"]) for m in body["messages"]] == [
        ("user", START["initial_message"]),
        ("system", "Dana joined the chat."),
        ("agent", "Hi, which swap?"),
        ("user", "swap_123"),
    ]
    assert body["messages"][2]["sender"] == "Dana"
    assert "@" not in body["messages"][2]["sender"]
    assert set(body["messages"][0]) == {"id", "role", "sender", "body", "created_at", "read_at"}
    page = client.get(f"/api/support/chat/sessions/{session.id}/messages?limit=2&offset=2").json()
    assert [m["body"] for m in page["messages"]] == ["Hi, which swap?", "swap_123"]
    assert page["has_more"] is False


# --- end -----------------------------------------------------------------------------------------------------


def test_end_ends_the_session_and_frees_the_agent_for_the_next(api_client_for, alice, bob, make_agent):
    agent = online_agent(make_agent, capacity=1)
    first = start(api_client_for(alice)).json()["session_id"]
    waiting = start(api_client_for(bob)).json()["session_id"]
    response = api_client_for(alice).post(f"/api/support/chat/sessions/{first}/end")
    assert response.status_code == 200
    assert response.json()["status"] == "ended"
    assert response.json()["ended_at"] is not None
    ended = ChatSession.objects.get(pk=first)
    assert (ended.status, ended.ended_by_id) == ("ended", alice.pk)
    assert ended.messages.filter(role="system", body="Chat ended by the user.").exists()
    nxt = ChatSession.objects.get(pk=waiting)
    assert (nxt.status, nxt.agent_id) == ("active", agent.pk)


def test_ending_twice_is_a_conflict(api_client_for, alice):
    client = api_client_for(alice)
    session_id = start(client).json()["session_id"]
    client.post(f"/api/support/chat/sessions/{session_id}/end")
    response = client.post(f"/api/support/chat/sessions/{session_id}/end")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_ended"


# --- conversion to a ticket ----------------------------------------------------------------------------------


def test_convert_to_ticket_ends_the_chat_and_keeps_the_transcript(api_client_for, alice, make_agent):
    agent = online_agent(make_agent, "Dana")
    client = api_client_for(alice)
    session = ChatSession.objects.get(pk=start(client).json()["session_id"])
    services.chat_message_add(session=session, sender=agent, body="Let me open a ticket for the refund.")
    response = client.post(f"/api/support/chat/sessions/{session.id}/ticket")
    assert response.status_code == 200
    body = response.json()
    assert body["ticket_id"].startswith("TKT-")
    assert body["session_id"] == session.id
    ticket = Ticket.objects.get(pk=body["ticket_id"])
    assert (ticket.user_id, ticket.category) == (alice.pk, "other")
    assert "I need help with cross-chain swaps" in ticket.subject
    assert "Let me open a ticket for the refund." in ticket.description
    assert "Dana (agent)" in ticket.description
    session.refresh_from_db()
    assert (session.status, session.ticket_id) == ("ended", ticket.id)
    assert AgentProfile.objects.get(user=agent).user_id == agent.pk


def test_convert_to_ticket_is_idempotent(api_client_for, alice):
    client = api_client_for(alice)
    session_id = start(client).json()["session_id"]
    first = client.post(f"/api/support/chat/sessions/{session_id}/ticket").json()
    second = client.post(f"/api/support/chat/sessions/{session_id}/ticket")
    assert second.status_code == 200
    assert second.json()["ticket_id"] == first["ticket_id"]
    assert Ticket.objects.filter(user=alice).count() == 1


# --- review: stale sessions, churn ---------------------------------------------------------------------------


def test_a_requeued_agent_cannot_mark_the_users_messages_read_through_a_stale_session(make_user, make_agent):
    from engipay.api.errors import Forbidden

    dana = online_agent(make_agent)
    session, _ = services.chat_session_create(user=make_user(), initial_message="help", user_context={})
    stale = ChatSession.objects.get(pk=session.pk)  # what dana's chat socket holds since it joined
    assert (stale.status, stale.agent_id) == ("active", dana.pk)
    services.agent_set_status(agent=dana, status="offline")  # the chat goes back to the queue
    last = ChatMessage.objects.filter(session_id=session.pk).order_by("id").last()
    with pytest.raises(Forbidden):
        services.chat_mark_read(session=stale, reader=dana, up_to_id=last.pk)
    assert not ChatMessage.objects.filter(session_id=session.pk, read_at__isnull=False).exists()


def test_starting_chats_is_throttled_like_other_support_writes(api_client_for, alice, throttle_rates):
    throttle_rates(support_write="2/min")
    client = api_client_for(alice)
    for _ in range(2):
        session_id = start(client).json()["session_id"]
        assert client.post(f"/api/support/chat/sessions/{session_id}/end").status_code == 200
    response = start(client)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert client.get("/api/support/chat/sessions").status_code == 200
    assert ChatSession.objects.count() == 2
