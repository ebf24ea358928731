"""Live chat over websockets, through the real Redis channel layer: two users (and more) and two agents."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from apps.support.models import AgentProfile, ChatMessage, ChatSession
from apps.support.services import chat as services
from engipay.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

db = database_sync_to_async


def socket(path: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[(b"host", b"testserver")])


async def until(ws: WebsocketCommunicator, kind: str, timeout: float = 5, **match: Any) -> dict[str, Any]:
    """The next message of ``kind`` (and the given field values), skipping others (queue, console updates...)."""
    while True:
        message = await ws.receive_json_from(timeout=timeout)
        if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
            return message


async def join_chat(user, session_id: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    ws = socket(f"/api/support/chat/{session_id}?token={user.auth['token']}")
    ok, code = await ws.connect()
    assert ok, code
    assert await ws.receive_json_from(timeout=5) == {"type": "authenticated", "user_id": str(user.pk)}
    history = await ws.receive_json_from(timeout=5)
    assert history["type"] == "history"
    return ws, history


async def open_console(agent, *, status: str | None = "online", capacity: int | None = None):
    ws = socket(f"/ws/support/agent/?token={agent.auth['token']}")
    ok, code = await ws.connect()
    assert ok, code
    assert (await ws.receive_json_from(timeout=5))["type"] == "authenticated"
    snapshot = await ws.receive_json_from(timeout=5)
    assert snapshot["type"] == "console"
    if capacity is not None:
        await ws.send_json_to({"type": "set_capacity", "capacity": capacity})
        await _wait_for_agent(agent, capacity=capacity)
    if status is not None:
        await ws.send_json_to({"type": "set_status", "status": status})
        await _wait_for_agent(agent, status=status)
    return ws, snapshot


async def _wait_for_agent(agent, **fields: Any) -> None:
    import asyncio

    for _ in range(100):
        profile = await db(AgentProfile.objects.filter(user=agent).first)()
        if profile and all(getattr(profile, k) == v for k, v in fields.items()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"agent never reached {fields}")


async def new_session(user, message: str = "I need help with cross-chain swaps") -> ChatSession:
    session, created = await db(services.chat_session_create)(
        user=user, initial_message=message, user_context={"current_page": "/payments-swaps"}
    )
    assert created
    return session


async def session_of(session_id: str) -> ChatSession:
    return await db(ChatSession.objects.get)(pk=session_id)


async def close_all(*sockets: WebsocketCommunicator) -> None:
    for ws in sockets:
        await ws.disconnect()


# --- assignment ----------------------------------------------------------------------------------------------


async def test_the_longest_waiting_session_goes_first_to_the_agent_with_fewest_chats(make_user, make_agent):
    dana, eve = await db(make_agent)("Dana"), await db(make_agent)("Eve")
    users = [await db(make_user)() for _ in range(4)]
    first, second, third, fourth = [await new_session(u) for u in users]  # queued in this order
    dana_console, _ = await open_console(dana, capacity=2)
    # Dana alone online: she gets the two longest waiting.
    assert (await session_of(first.id)).agent_id == dana.pk
    assert (await session_of(second.id)).agent_id == dana.pk
    assert (await session_of(third.id)).status == "queued"
    eve_console, _ = await open_console(eve, capacity=2)
    # Eve has fewer chats (0 < 2): the next two go to her, oldest first.
    assert (await session_of(third.id)).agent_id == eve.pk
    assert (await session_of(fourth.id)).agent_id == eve.pk
    await db(services.chat_session_end)(session=await session_of(first.id), by=users[0])
    await db(services.chat_session_end)(session=await session_of(third.id), by=users[2])
    # Both have one chat: a tie goes to the agent whose last assignment is the oldest (Dana).
    fifth = await new_session(await db(make_user)())
    assert (await session_of(fifth.id)).agent_id == dana.pk
    await close_all(dana_console, eve_console)


async def test_capacity_is_respected_and_the_third_chat_waits(make_user, make_agent):
    dana, eve = await db(make_agent)("Dana"), await db(make_agent)("Eve")
    dana_console, _ = await open_console(dana, capacity=1)
    eve_console, _ = await open_console(eve, capacity=1)
    alice, bob, carol = [await db(make_user)() for _ in range(3)]
    one, two, three = await new_session(alice), await new_session(bob), await new_session(carol)
    assert {(await session_of(one.id)).agent_id, (await session_of(two.id)).agent_id} == {dana.pk, eve.pk}
    carol_ws, history = await join_chat(carol, three.id)
    assert history["session"]["status"] == "queued"
    assert history["session"]["queue_position"] == 1
    assert history["session"]["agent"] is None
    # A slot frees up: the waiting chat is assigned, and its user is told who took it.
    await db(services.chat_session_end)(session=await session_of(one.id), by=alice)
    assigned = await until(carol_ws, "assigned")
    taker = (await session_of(one.id)).agent_id
    assert assigned["agent"]["name"] == ("Dana" if taker == dana.pk else "Eve")
    assert (await session_of(three.id)).agent_id == taker
    await close_all(carol_ws, dana_console, eve_console)


async def test_a_waiting_user_gets_queue_positions_as_the_queue_moves(make_user, make_agent):
    dana = await db(make_agent)("Dana")
    alice, bob, carol = [await db(make_user)() for _ in range(3)]
    await new_session(alice)
    await new_session(bob)
    third = await new_session(carol)
    carol_ws, history = await join_chat(carol, third.id)
    assert history["session"]["queue_position"] == 3
    assert history["session"]["estimated_wait_time"] == "no agents online"
    dana_console, _ = await open_console(dana, capacity=1)
    update = await until(carol_ws, "queue", queue_position=2)
    assert update["estimated_wait_time"] == "10 minutes"  # 2nd in line, 1 slot, 5 minutes per chat by default
    await close_all(carol_ws, dana_console)


# --- messages ------------------------------------------------------------------------------------------------


async def _two_chats(make_user, make_agent):
    dana, eve = await db(make_agent)("Dana"), await db(make_agent)("Eve")
    alice, bob = await db(make_user)(), await db(make_user)()
    dana_console, _ = await open_console(dana, capacity=1)
    eve_console, _ = await open_console(eve, capacity=1)
    one, two = await new_session(alice), await new_session(bob)
    assert (await session_of(one.id)).agent_id == dana.pk
    assert (await session_of(two.id)).agent_id == eve.pk
    return (alice, bob, dana, eve), (one, two), (dana_console, eve_console)


async def test_messages_reach_only_the_sessions_user_and_its_agent(make_user, make_agent):
    (alice, bob, dana, eve), (one, two), consoles = await _two_chats(make_user, make_agent)
    alice_ws, alice_history = await join_chat(alice, one.id)
    dana_ws, dana_history = await join_chat(dana, one.id)
    bob_ws, _ = await join_chat(bob, two.id)
    eve_ws, _ = await join_chat(eve, two.id)
    assert alice_history["session"]["agent"] == {"name": "Dana"}
    assert dana_history["session"]["user_context"] == {"current_page": "/payments-swaps"}
    assert [m["role"] for m in dana_history["messages"]] == ["user", "system"]

    await alice_ws.send_json_to({"type": "message", "body": "My swap is stuck"})
    echo = await until(alice_ws, "message")
    delivered = await until(dana_ws, "message")
    assert echo == delivered
    message = echo["message"]
    assert (message["role"], message["body"], message["read_at"]) == ("user", "My swap is stuck", None)
    stored = await db(ChatMessage.objects.get)(pk=message["id"])
    assert (stored.session_id, stored.sender_id) == (one.id, alice.pk)

    await dana_ws.send_json_to({"type": "message", "body": "Looking into it"})
    reply = (await until(alice_ws, "message"))["message"]
    assert (reply["role"], reply["sender"], reply["body"]) == ("agent", "Dana", "Looking into it")
    assert await bob_ws.receive_nothing(timeout=0.5)
    assert await eve_ws.receive_nothing(timeout=0.1)
    await close_all(alice_ws, dana_ws, bob_ws, eve_ws, *consoles)


async def test_typing_and_read_receipts_are_relayed_to_the_other_party(make_user, make_agent):
    (alice, _, dana, _), (one, _), consoles = await _two_chats(make_user, make_agent)
    alice_ws, _ = await join_chat(alice, one.id)
    dana_ws, _ = await join_chat(dana, one.id)
    await alice_ws.send_json_to({"type": "typing", "is_typing": True})
    assert await until(dana_ws, "typing") == {"type": "typing", "role": "user", "is_typing": True}
    await alice_ws.send_json_to({"type": "message", "body": "hello?"})
    message_id = (await until(dana_ws, "message"))["message"]["id"]
    await until(alice_ws, "message")
    assert await alice_ws.receive_nothing(timeout=0.3)  # no typing echo to the typist

    await dana_ws.send_json_to({"type": "read", "up_to": message_id})
    receipt = await until(alice_ws, "read")
    assert (receipt["role"], receipt["up_to"]) == ("agent", message_id)
    assert receipt["read_at"]
    stored = await db(ChatMessage.objects.get)(pk=message_id)
    assert stored.read_at is not None
    assert await dana_ws.receive_nothing(timeout=0.3)  # the reader is not told of their own receipt
    await close_all(alice_ws, dana_ws, *consoles)


async def test_reconnecting_keeps_the_history(make_user, make_agent):
    (alice, _, _, _), (one, _), consoles = await _two_chats(make_user, make_agent)
    alice_ws, _ = await join_chat(alice, one.id)
    await alice_ws.send_json_to({"type": "message", "body": "first"})
    await until(alice_ws, "message")
    await alice_ws.disconnect()
    alice_ws, history = await join_chat(alice, one.id)
    bodies = [m["body"] for m in history["messages"]]
    assert bodies == ["I need help with cross-chain swaps", "Dana joined the chat.", "first"]
    assert history["session"]["status"] == "active"
    await close_all(alice_ws, *consoles)


async def test_messages_are_rate_limited_and_checked(make_user, make_agent, settings):
    settings.SUPPORT_CHAT_MESSAGE_BURST = 2
    settings.SUPPORT_CHAT_MESSAGES_PER_MINUTE = 1
    alice = await db(make_user)()
    session = await new_session(alice)
    alice_ws, _ = await join_chat(alice, session.id)
    await alice_ws.send_json_to({"type": "message", "body": "x" * 2001})
    assert (await until(alice_ws, "error"))["error"]["code"] == "message_too_long"
    for body in ("one", "two"):
        await alice_ws.send_json_to({"type": "message", "body": body})
        await until(alice_ws, "message")
    await alice_ws.send_json_to({"type": "message", "body": "three"})
    assert (await until(alice_ws, "error"))["error"]["code"] == "rate_limited"
    assert await db(ChatMessage.objects.filter(session_id=session.id).count)() == 3
    await alice_ws.disconnect()


# --- who may join --------------------------------------------------------------------------------------------


async def test_a_stranger_or_another_agent_cannot_join(make_user, make_agent):
    (_, bob, _, eve), (one, _), consoles = await _two_chats(make_user, make_agent)
    for intruder in (bob, eve):
        ws = socket(f"/api/support/chat/{one.id}?token={intruder.auth['token']}")
        assert await ws.connect() == (False, 4404)
    ws = socket(f"/api/support/chat/chat_unknown?token={bob.auth['token']}")
    assert await ws.connect() == (False, 4404)
    # Token in a first message: the refusal comes right after authentication.
    ws = socket(f"/api/support/chat/{one.id}")
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "auth", "token": bob.auth["token"]})
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
    await close_all(*consoles)


async def test_the_console_refuses_non_agents(alice, make_user):
    ws = socket(f"/ws/support/agent/?token={alice.auth['token']}")
    assert await ws.connect() == (False, 4403)
    staff = await db(make_user)()
    staff.is_staff = True
    await db(staff.save)()
    ws = socket("/ws/support/agent/")
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "auth", "token": staff.auth["token"]})
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
    assert not await db(AgentProfile.objects.exists)()


# --- agents leaving, ending ----------------------------------------------------------------------------------


async def test_the_agents_last_console_leaving_requeues_their_chats_to_a_waiting_agent(make_user, make_agent):
    dana, eve = await db(make_agent)("Dana"), await db(make_agent)("Eve")
    alice = await db(make_user)()
    dana_console, _ = await open_console(dana, capacity=1)
    dana_tab, _ = await open_console(dana, status=None)
    session = await new_session(alice)
    assert (await session_of(session.id)).agent_id == dana.pk
    eve_console, _ = await open_console(eve, capacity=1)
    alice_ws, _ = await join_chat(alice, session.id)
    dana_ws, _ = await join_chat(dana, session.id)

    await dana_tab.disconnect()  # one console tab of two: nothing changes
    assert (await session_of(session.id)).agent_id == dana.pk
    await dana_console.disconnect()
    requeued = await until(alice_ws, "requeued")
    assert requeued["queue_position"] == 1
    assert (await until(alice_ws, "assigned"))["agent"] == {"name": "Eve"}
    assert await until(dana_ws, "requeued")
    assert await dana_ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
    moved = await session_of(session.id)
    assert (moved.status, moved.agent_id, moved.waiting_since) == ("active", eve.pk, session.waiting_since)
    profile = await db(AgentProfile.objects.get)(user=dana)
    assert (profile.status, profile.console_connections) == ("offline", 0)

    eve_ws, _ = await join_chat(eve, session.id)
    await alice_ws.send_json_to({"type": "message", "body": "still there?"})
    assert (await until(eve_ws, "message"))["message"]["body"] == "still there?"
    assert await dana_ws.receive_nothing(timeout=0.3)
    ws = socket(f"/api/support/chat/{session.id}?token={dana.auth['token']}")
    assert await ws.connect() == (False, 4404)
    await close_all(alice_ws, eve_ws, eve_console)


async def test_the_user_can_end_and_then_messages_are_refused(make_user, make_agent):
    (alice, _, dana, _), (one, _), consoles = await _two_chats(make_user, make_agent)
    alice_ws, _ = await join_chat(alice, one.id)
    dana_ws, _ = await join_chat(dana, one.id)
    await alice_ws.send_json_to({"type": "end"})
    assert await until(alice_ws, "ended") == {"type": "ended", "by": "user"}
    assert await until(dana_ws, "ended") == {"type": "ended", "by": "user"}
    await dana_ws.send_json_to({"type": "message", "body": "wait"})
    assert (await until(dana_ws, "error"))["error"]["code"] == "session_ended"
    assert not await db(ChatMessage.objects.filter(body="wait").exists)()
    ended = await session_of(one.id)
    assert (ended.status, ended.ended_by_id) == ("ended", alice.pk)
    await close_all(alice_ws, dana_ws, *consoles)


async def test_the_agent_can_end_from_the_console(make_user, make_agent):
    (alice, _, _, _), (one, _), (dana_console, eve_console) = await _two_chats(make_user, make_agent)
    alice_ws, _ = await join_chat(alice, one.id)
    await dana_console.send_json_to({"type": "end", "session_id": one.id})
    assert await until(alice_ws, "ended") == {"type": "ended", "by": "agent"}
    snapshot = await until(dana_console, "console")
    while snapshot["chats"]:
        snapshot = await until(dana_console, "console")
    assert snapshot["agent"]["active_chats"] == 0
    await close_all(alice_ws, dana_console, eve_console)


# --- console -------------------------------------------------------------------------------------------------


async def test_the_console_shows_the_queue_and_accepts_a_chat(make_user, make_agent):
    dana = await db(make_agent)("Dana")
    alice = await db(make_user)()
    console, snapshot = await open_console(dana, status="away")
    assert snapshot["agent"] == {"status": "offline", "capacity": 3, "active_chats": 0, "name": "Dana"}
    assert snapshot["queue"] == []
    assert snapshot["chats"] == []
    session = await new_session(alice)  # away: not assigned automatically
    snapshot = await until(console, "console")
    while not snapshot["queue"]:
        snapshot = await until(console, "console")
    summary = snapshot["queue"][0]
    assert summary["session_id"] == session.id
    assert summary["queue_position"] == 1
    assert summary["initial_message"] == "I need help with cross-chain swaps"
    assert summary["user_context"] == {"current_page": "/payments-swaps"}
    assert summary["user"]["id"] == str(alice.pk)
    assert summary["user"]["name"].startswith("0x")  # the wallet address
    assert summary["recent_tickets"] == []

    alice_ws, _ = await join_chat(alice, session.id)
    await console.send_json_to({"type": "accept", "session_id": session.id})
    assert (await until(alice_ws, "assigned"))["agent"] == {"name": "Dana"}
    snapshot = await until(console, "console")
    while not snapshot["chats"]:
        snapshot = await until(console, "console")
    assert snapshot["chats"][0]["session_id"] == session.id
    assert snapshot["queue"] == []
    await console.send_json_to({"type": "accept", "session_id": session.id})
    assert (await until(console, "error"))["error"]["code"] == "not_queued"
    await console.send_json_to({"type": "set_capacity", "capacity": 21})
    assert (await until(console, "error"))["error"]["code"] == "invalid_capacity"
    await close_all(alice_ws, console)


async def test_accept_is_refused_at_capacity(make_user, make_agent):
    dana = await db(make_agent)("Dana")
    console, _ = await open_console(dana, status="away", capacity=1)
    first, second = await new_session(await db(make_user)()), await new_session(await db(make_user)())
    await console.send_json_to({"type": "accept", "session_id": first.id})
    await console.send_json_to({"type": "accept", "session_id": second.id})
    assert (await until(console, "error"))["error"]["code"] == "at_capacity"
    assert (await session_of(second.id)).status == "queued"
    await console.disconnect()
    # Her last console closed: the accepted chat went back to the queue, in its old place.
    requeued = await session_of(first.id)
    assert (requeued.status, requeued.agent_id, requeued.waiting_since) == ("queued", None, first.waiting_since)


async def test_an_agent_requeued_while_their_chat_socket_joins_is_shut_out(make_user, make_agent, monkeypatch):
    """The requeue commits (and its push goes out) between the socket's access check and its joining the chat's
    group: the socket must still end with 4404 and see nothing of the chat once another agent has it."""
    import asyncio

    from apps.support.consumers import ChatConsumer

    dana, eve = await db(make_agent)("Dana"), await db(make_agent)("Eve")
    alice = await db(make_user)()
    dana_console, _ = await open_console(dana, capacity=1)
    session = await new_session(alice)
    assert (await session_of(session.id)).agent_id == dana.pk
    check = ChatConsumer.check_access

    async def racing(self, user):
        allowed = await check(self, user)
        if user.pk == dana.pk:
            await db(services.agent_set_status)(agent=dana, status="offline")  # her chats go back to the queue
            await asyncio.sleep(0.5)  # its pushes are out before this socket joins the chat's group
        return allowed

    monkeypatch.setattr(ChatConsumer, "check_access", racing)
    dana_ws = socket(f"/api/support/chat/{session.id}?token={dana.auth['token']}")
    await dana_ws.connect()
    monkeypatch.setattr(ChatConsumer, "check_access", check)
    eve_console, _ = await open_console(eve, capacity=1)
    moved = await session_of(session.id)
    assert (moved.status, moved.agent_id) == ("active", eve.pk)
    alice_ws, _ = await join_chat(alice, session.id)
    await alice_ws.send_json_to({"type": "message", "body": "my seed phrase is not this"})
    await until(alice_ws, "message", timeout=5)
    seen = []
    while True:
        try:
            output = await dana_ws.receive_output(timeout=1)
        except TimeoutError:
            break
        seen.append(output)
        if output.get("type") == "websocket.close":
            break
    assert not any("seed phrase" in str(output) for output in seen), seen
    assert seen, "nothing at all"
    assert seen[-1] == {"type": "websocket.close", "code": 4404}, seen
    await close_all(alice_ws, dana_console, eve_console)
