"""A support agent in a real browser against a real ASGI server: goes online in the console, chats with two users
over the websockets (auto-assigned and accepted from the queue), ends one chat and turns it into a ticket; then
answers a ticket in the admin, and the user sees the reply in the API and as a websocket notification."""

from __future__ import annotations

import importlib
import time
from typing import Any

import httpx
import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission

from apps.accounts import group_permissions
from apps.accounts.models import User
from apps.support.models import AgentProfile, ChatSession, TicketMessage
from tests.browser.helpers import UserSocket

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "browser-test-password-1"


@pytest.fixture
def support_agent(settings) -> User:
    # A transactional test starts from a flushed database: put back the default teams and what the migration gave
    # the group (the migration itself is checked in apps/support/tests/test_admin.py).
    importlib.import_module("apps.support.migrations.0002_default_teams").create(django_apps, None)
    migration = importlib.import_module("apps.support.migrations.0003_support_agents_group")
    group, _ = Group.objects.get_or_create(name=migration.GROUP)
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="support", codename__in=group_permissions.codenames(migration.MODELS)
        )
    )
    # The server process only knows the default hashers, not the tests' fast MD5 one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    agent = User.objects.create_user(email="agent@example.com", password=PASSWORD)
    agent.is_staff = True
    agent.save()
    agent.groups.add(group)
    AgentProfile.objects.create(user=agent, display_name="Sam", capacity=3)
    return agent


def _bearer(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.auth['token']}"}


def _open_chat(base: str, user: User, message: str, context: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/api/support/chat/sessions",
        json={"initial_message": message, "user_context": context},
        headers=_bearer(user),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.timeout(300)  # a cold uvicorn import and the browser take a while on a busy machine
def test_agent_chats_in_the_console_and_answers_a_ticket_in_the_admin(asgi_server, asgi_page, support_agent, make_user):
    base, page = asgi_server, asgi_page
    page.on("dialog", lambda dialog: dialog.accept())  # "End this chat?"
    alice, bob = make_user(), make_user()
    sockets: list[UserSocket] = []

    # The agent signs in, opens the console and goes online.
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", support_agent.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    css = httpx.get(f"{base}/static/support/console.css")  # whitenoise serves static files with DEBUG off
    assert css.status_code == 200
    assert "support-console" in css.text
    page.goto(f"{base}/admin/support/console/")
    page.locator("#console-connection[data-state=connected]").wait_for()
    assert page.evaluate("getComputedStyle(document.querySelector('.console-columns')).display") == "grid"
    page.select_option("#agent-status", "online")
    _wait(lambda: AgentProfile.objects.get(user=support_agent).status == "online", "agent online")

    try:
        # Alice asks for help: an online agent below capacity gets her chat automatically.
        context = {"current_page": "/swap", "wallet_connected": True, "last_transaction": "0xabc <b>bold</b>"}
        alice_chat = _open_chat(base, alice, "My swap is stuck", context)
        session_id = alice_chat["session_id"]
        item = page.locator(f"#chat-list li.session[data-session='{session_id}']")
        item.wait_for()
        assert item.locator(".context-current-page").inner_text() == "/swap"
        assert item.locator(".context-wallet-connected").inner_text() == "yes"
        assert item.locator(".context-last-transaction").inner_text() == "0xabc <b>bold</b>"  # text, not HTML
        item.locator("button.open-chat").click()
        pane = page.locator(f".chat-pane[data-session='{session_id}']")
        pane.locator(".chat-message.role-user .body", has_text="My swap is stuck").wait_for()

        alice_socket = UserSocket(base, f"/api/support/chat/{session_id}", alice.auth["token"])
        sockets.append(alice_socket)
        alice_socket.wait_for(lambda e: e["type"] == "history")

        # Typing, a message from the user, and the agent's answer both ways.
        alice_socket.send(type="typing", is_typing=True)
        pane.locator(".typing:not([hidden])").wait_for()
        alice_socket.send(type="message", body="<img src=x onerror=alert(1)> hello?")
        pane.locator(".chat-message.role-user .body", has_text="hello?").wait_for()
        assert pane.locator(".chat-message img").count() == 0
        alice_socket.wait_for(lambda e: e["type"] == "read" and e["role"] == "agent")  # the console read it

        pane.locator("textarea.chat-input").fill("Hi Alice, checking your swap now.")
        pane.locator("button.send").click()
        reply = alice_socket.wait_for(lambda e: e["type"] == "message" and e["message"]["role"] == "agent")
        assert reply["message"]["body"] == "Hi Alice, checking your swap now."
        agent_message = pane.locator(".chat-message.role-agent", has_text="checking your swap")
        agent_message.wait_for()
        alice_socket.send(type="read", up_to=reply["message"]["id"])
        agent_message.locator(".receipt", has_text="Read").wait_for()

        # Away: Bob's chat waits in the queue until the agent accepts it; two chats at once.
        page.select_option("#agent-status", "away")
        _wait(lambda: AgentProfile.objects.get(user=support_agent).status == "away", "agent away")
        bob_chat = _open_chat(base, bob, "Where is my refund?", {"current_page": "/activity"})
        queued = page.locator(f"#queue-list li.session[data-session='{bob_chat['session_id']}']")
        queued.wait_for()
        queued.locator("button.accept").click()
        bob_item = page.locator(f"#chat-list li.session[data-session='{bob_chat['session_id']}']")
        bob_item.wait_for()
        assert page.locator("#queue-list li.session").count() == 0
        bob_item.locator("button.open-chat").click()
        bob_pane = page.locator(f".chat-pane[data-session='{bob_chat['session_id']}']")
        bob_pane.locator(".chat-message.role-user .body", has_text="Where is my refund?").wait_for()
        assert page.locator(".chat-pane").count() == 2
        bob_socket = UserSocket(base, f"/api/support/chat/{bob_chat['session_id']}", bob.auth["token"])
        sockets.append(bob_socket)
        bob_socket.wait_for(lambda e: e["type"] == "history")
        bob_pane.locator("textarea.chat-input").fill("Hi Bob, one moment.")
        bob_pane.locator("textarea.chat-input").press("Enter")
        assert bob_socket.wait_for(lambda e: e["type"] == "message" and e["message"]["role"] == "agent")[
            "message"
        ]["body"] == "Hi Bob, one moment."  # fmt: skip

        # The agent ends Bob's chat and turns it into a ticket; Alice's chat is untouched.
        bob_pane.locator("button.end-chat").click()
        bob_socket.wait_for(lambda e: e["type"] == "ended")
        bob_pane.locator(".pane-state", has_text="ended").wait_for()
        bob_pane.locator("button.convert-ticket").click()
        ticket_link = bob_pane.locator(".pane-notice a.ticket-link")
        ticket_link.wait_for()
        converted = ChatSession.objects.get(pk=bob_chat["session_id"]).ticket
        assert converted is not None
        assert ticket_link.inner_text() == converted.pk
        assert ChatSession.objects.get(pk=session_id).status == "active"

        # A ticket from Alice, answered in the admin: she sees it in the API and gets a websocket notification.
        created = httpx.post(
            f"{base}/api/support/tickets",
            json={"subject": "Fee question", "description": "Why was the fee so high?", "category": "payments"},
            headers=_bearer(alice),
            timeout=10,
        )
        assert created.status_code == 201, created.text
        ticket_id = created.json()["ticket_id"]
        notifications = UserSocket(base, "/ws/notifications/", alice.auth["token"])
        sockets.append(notifications)
        notifications.wait_for(lambda e: e["type"] == "authenticated")

        page.goto(f"{base}/admin/support/ticket/{ticket_id}/change/")
        page.fill("#id_body", "The network fee was high at that moment; it is back to normal.")
        page.click("#reply-form input[type=submit]")
        page.locator(".messagelist", has_text="Reply sent to the user.").wait_for()
        assert page.locator("#ticket-thread .thread-message.role-agent .body").inner_text().startswith("The network")

        detail = httpx.get(f"{base}/api/support/tickets/{ticket_id}", headers=_bearer(alice), timeout=10).json()
        assert [m["message"] for m in detail["messages"]] == [
            "The network fee was high at that moment; it is back to normal."
        ]
        assert detail["status"] == "pending"
        pushed = notifications.wait_for(lambda e: e["type"] == "notification")
        assert pushed["notification"]["type"] == "support_reply"
        assert pushed["notification"]["data"]["ticket_id"] == ticket_id

        # An internal note stays out of the user's thread.
        page.check("#id_internal")
        page.fill("#id_body", "Check the fee oracle later.")
        page.click("#reply-form input[type=submit]")
        page.locator(".messagelist", has_text="Internal note added.").wait_for()
        assert page.locator(".thread-message.internal .internal-banner").inner_text() == (
            "Internal note — the user never sees this"
        )
        assert TicketMessage.objects.filter(ticket_id=ticket_id, internal=True).count() == 1
        detail = httpx.get(f"{base}/api/support/tickets/{ticket_id}", headers=_bearer(alice), timeout=10).json()
        assert len(detail["messages"]) == 1
    finally:
        for socket in sockets:
            socket.close()


def _wait(check, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)
