"""Fixtures for transaction tests: users whose wallet key the test holds, funded on the session's anvil."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from tests.helpers import Party

ETH = 10**18


LIMIT_PRICE_AGE = timedelta(hours=3)


@pytest.fixture(autouse=True)
def limit_prices(request) -> Iterator[None]:
    """Limits out of the way, and every token gets a USD price of 1 stored 3 hours ago: recent enough to value a
    transfer for the KYC limits (KYC_PRICE_MAX_AGE_HOURS), too old to be "the price at the time" of a transaction
    (value_usd stays null unless a test stores one). Tokens created during the test get one as they appear."""
    marker = request.node.get_closest_marker("django_db")
    database = next((name for name in ("transactional_db", "db") if name in request.fixturenames), None)
    if database is None and marker is not None:
        database = "transactional_db" if marker.kwargs.get("transaction") else "db"
    if database is None:
        yield
        return
    from django.db.models.signals import post_save

    from apps.chains.models import Token
    from apps.prices.models import AssetPrice

    def price(token: Token) -> None:
        AssetPrice.objects.create(
            token=token, price_usd=Decimal(1), source="coingecko", observed_at=timezone.now() - LIMIT_PRICE_AGE
        )

    def on_save(sender, instance, created, **kwargs) -> None:
        if created:
            price(instance)

    request.getfixturevalue(database)
    # Transfers in these tests are not about limits (test_limits.py is): every tier may move a lot.
    unlimited = {"daily": "1000000000", "monthly": "1000000000"}
    request.getfixturevalue("settings").KYC_LIMITS = {tier: unlimited for tier in ("tier_0", "tier_1", "tier_2")}
    for token in Token.objects.filter(prices__isnull=True):
        price(token)
    post_save.connect(on_save, sender=Token, dispatch_uid="limit_prices")
    yield
    post_save.disconnect(sender=Token, dispatch_uid="limit_prices")


@pytest.fixture
def chain(settings, db, local_chain) -> dict[str, Any]:
    """The ``local`` chain on the session's anvil, wanting 2 confirmations (anvil mines each transaction at once,
    so one block of its own is not yet "confirmed": the tests see pending first)."""
    settings.CHAINS = {"local": {**settings.CHAINS["local"], "confirmations": 2}}
    native_token()
    return settings.CHAINS["local"]


def native_token():
    """The ETH registry row (seeded by a migration; transactional tests flush it away)."""
    from apps.chains.models import Token

    return Token.objects.get_or_create(symbol="ETH", defaults={"name": "Ethereum", "coingecko_id": "ethereum"})[0]


async def open_socket(party: Party) -> WebsocketCommunicator:
    from engipay.asgi import application

    socket = WebsocketCommunicator(
        application, f"/ws/notifications/?token={party.token}", headers=[(b"host", b"testserver")]
    )
    connected, _ = await socket.connect()
    assert connected
    hello = await socket.receive_json_from(timeout=5)
    assert hello["type"] == "authenticated"
    return socket


async def next_notification(socket: WebsocketCommunicator, timeout: float = 10) -> dict[str, Any]:
    event = await socket.receive_json_from(timeout=timeout)
    assert event["type"] == "notification", event
    return event["notification"]


def chains_json(url: str, confirmations: int = 2) -> str:
    return json.dumps(
        {
            "local": {
                "kind": "evm",
                "name": "Local anvil",
                "chain_id": 31337,
                "rpc_urls": [url],
                "confirmations": confirmations,
            }
        }
    )
