"""Websockets through the real Redis channel layer; notifications made by a real Celery worker process."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from apps.notifications.models import Notification
from apps.notifications.services import notify
from apps.notifications.tasks import notification_send
from engipay.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def socket(query: str = "") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/notifications/{query}", headers=[(b"host", b"testserver")])


async def connected(user) -> WebsocketCommunicator:
    communicator = socket(f"?token={user.auth['token']}")
    ok, _ = await communicator.connect()
    assert ok
    hello = await communicator.receive_json_from(timeout=5)
    assert hello == {"type": "authenticated", "user_id": str(user.pk)}
    return communicator


async def test_a_notification_made_in_the_worker_reaches_only_its_users_socket(alice, bob, celery_worker):
    alice_ws, bob_ws = await connected(alice), await connected(bob)
    try:
        await asyncio.to_thread(
            notification_send.delay,
            user_id=str(alice.pk),
            kind="transaction_confirmed",
            title="Transaction Confirmed",
            message="Your ETH transfer has been confirmed",
            data={"amount": "0.5"},
        )
        event = await alice_ws.receive_json_from(timeout=20)
        assert event["type"] == "notification"
        pushed = event["notification"]
        assert pushed["type"] == "transaction_confirmed"
        assert pushed["data"] == {"amount": "0.5"}
        assert pushed["read"] is False
        stored = await database_sync_to_async(Notification.objects.get)(pk=pushed["id"])
        assert stored.user_id == alice.pk
        assert await bob_ws.receive_nothing(timeout=1)
    finally:
        await alice_ws.disconnect()
        await bob_ws.disconnect()


async def test_first_message_authentication(alice):
    communicator = socket()
    ok, _ = await communicator.connect()
    assert ok
    await communicator.send_json_to({"type": "auth", "token": alice.auth["token"]})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "authenticated"
    await database_sync_to_async(notify)(user=alice, kind="k", title="hello")
    assert (await communicator.receive_json_from(timeout=5))["notification"]["title"] == "hello"
    await communicator.disconnect()


async def test_a_bad_query_token_is_refused_at_the_handshake():
    communicator = socket("?token=not-a-token")
    ok, code = await communicator.connect()
    assert ok is False
    assert code == 4401
    # The refused client goes away: the consumer (still listening on the channel layer) must end with it, or the
    # loop's teardown cancels a channel-layer receive mid-flight.
    await communicator.disconnect()


async def test_a_bad_first_message_closes_with_4401():
    communicator = socket()
    await communicator.connect()
    await communicator.send_json_to({"type": "auth", "token": "forged"})
    error = await communicator.receive_json_from(timeout=5)
    assert error["error"]["code"] == "authentication_failed"
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


async def test_a_silent_anonymous_socket_is_closed_after_the_timeout(settings):
    settings.WEBSOCKET_AUTH_TIMEOUT_SECONDS = 0.2
    communicator = socket()
    await communicator.connect()
    error = await communicator.receive_json_from(timeout=5)
    assert error["error"]["code"] == "authentication_timeout"
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


async def test_a_push_waits_for_the_commit_and_a_rollback_sends_nothing(alice):
    communicator = await connected(alice)

    def rolled_back() -> None:
        with transaction.atomic():
            notify(user=alice, kind="k", title="never")
            transaction.set_rollback(True)

    await database_sync_to_async(rolled_back)()
    assert await communicator.receive_nothing(timeout=0.5)
    assert not await database_sync_to_async(Notification.objects.exists)()
    await communicator.disconnect()


async def test_a_socket_closes_when_its_token_expires(alice, settings):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(alice)
    token["sep"] = alice.session_epoch
    # exp is whole seconds: leave room for a slow CI box to finish the handshake
    # before the token runs out, then wait for the expiry to be pushed.
    token.set_exp(lifetime=timedelta(seconds=3))
    communicator = socket(f"?token={token}")
    ok, _ = await communicator.connect()
    assert ok
    assert (await communicator.receive_json_from(timeout=5))["type"] == "authenticated"
    assert (await communicator.receive_json_from(timeout=8))["error"]["code"] == "token_expired"
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


async def test_a_password_reset_closes_the_users_sockets(alice, bob):
    from apps.notifications.services import sessions_revoked

    alice_ws, bob_ws = await connected(alice), await connected(bob)
    await database_sync_to_async(sessions_revoked)(user_id=alice.pk)
    assert (await alice_ws.receive_json_from(timeout=5))["error"]["code"] == "session_revoked"
    assert (await alice_ws.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}
    assert await bob_ws.receive_nothing(timeout=0.5)
    await bob_ws.disconnect()


async def test_a_socket_without_any_token_gets_nothing_until_it_authenticates(alice):
    communicator = socket()
    ok, _ = await communicator.connect()
    assert ok
    await database_sync_to_async(notify)(user=alice, kind="k", title="secret")
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_a_malformed_frame_gets_an_error_not_a_crash(alice):
    communicator = await connected(alice)
    await communicator.send_to(text_data="{not json")
    assert (await communicator.receive_json_from(timeout=5))["error"]["code"] == "malformed_message"
    await communicator.send_json_to({"type": "ping"})
    assert (await communicator.receive_json_from(timeout=5))["error"]["code"] == "unsupported_message"
    await communicator.disconnect()


async def test_in_app_switched_off_for_a_type_stores_but_does_not_push(alice):
    from apps.notifications import preferences

    await database_sync_to_async(preferences.preferences_update)(user=alice, data={"types": {"price_alert": ["email"]}})
    alice_ws = await connected(alice)
    try:

        def make() -> None:
            with transaction.atomic():
                notify(user=alice, kind="price_alert", title="ETH above 3,000")
                notify(user=alice, kind="transaction_confirmed", title="Confirmed")

        await database_sync_to_async(make)()
        event = await alice_ws.receive_json_from(timeout=5)
        assert event["notification"]["type"] == "transaction_confirmed"  # the price alert was not pushed
        assert await alice_ws.receive_nothing(timeout=0.5)
        kinds = await database_sync_to_async(lambda: sorted(Notification.objects.values_list("kind", flat=True)))()
        assert kinds == ["price_alert", "transaction_confirmed"]  # both stored and listed
    finally:
        await alice_ws.disconnect()
