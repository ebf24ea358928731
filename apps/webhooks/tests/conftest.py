"""Fixtures for the inbound webhook tests: configured senders, requests signed the way each sender signs them (with
``hmac`` here, independently of the code under test), and funded wallets on the session's anvil.

apps.webhooks sits below the apps that handle its topics (import-linter layers), its tests included: they reach the
owning apps through their HTTP APIs and read their rows with :func:`model`, never by importing their code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from tests.helpers import Party  # noqa: F401 (re-exported for the tests)

BLOCKCHAIN = "/api/webhooks/blockchain/transaction"
PRICES = "/api/webhooks/prices/update"
DEFI = "/api/webhooks/defi/position-update"

ORACLE_SECRET = "oracle-secret-for-tests-only"
WATCHER_SECRET = "watcher-secret-for-tests-only"
ALCHEMY_KEY = "whsec_alchemy_signing_key_for_tests"
ETH = 10**18


def hmac_hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def encode(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


@pytest.fixture
def senders(settings) -> dict[str, Any]:
    """``oracle`` may post every topic, ``watcher`` only blockchain; Alchemy has one signing key and its Sepolia
    network is our ``local`` chain (the session's anvil). Timestamps: 300 s either way (Alchemy's createdAt: 300 s
    ahead, up to the 30-day retention old)."""
    settings.WEBHOOK_SOURCES = {
        "oracle": {"secret": ORACLE_SECRET, "topics": ["blockchain", "prices", "defi"]},
        "watcher": {"secret": WATCHER_SECRET, "topics": ["blockchain"]},
    }
    settings.ALCHEMY_WEBHOOK_SIGNING_KEYS = [ALCHEMY_KEY]
    settings.ALCHEMY_NETWORKS = {"ETH_MAINNET": "ethereum", "ETH_SEPOLIA": "local"}
    settings.WEBHOOK_TOLERANCE_SECONDS = 300
    settings.WEBHOOK_RETENTION_DAYS = 30
    settings.ALCHEMY_WEBHOOK_TOLERANCE_SECONDS = 30 * 86400
    return settings.WEBHOOK_SOURCES


def signed_headers(
    raw: bytes, *, source: str = "oracle", secret: str = ORACLE_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac_hex(secret, f"{stamp}.".encode() + raw)
    return {"X-EngiPay-Source": source, "X-EngiPay-Timestamp": str(stamp), "X-EngiPay-Signature": f"v1={signature}"}


def post(path: str, body: Any, *, headers: dict[str, str] | None = None, client: APIClient | None = None, **extra):
    """POST exactly these bytes with these headers (no sign-in: webhooks are signed, not authenticated)."""
    return (client or APIClient()).post(
        path, data=encode(body), content_type="application/json", headers=headers or {}, **extra
    )


def post_signed(path: str, body: Any, *, extra: dict[str, str] | None = None, **signing: Any):
    """POST ``body`` signed in our format (``signing``: source, secret, timestamp); ``extra``: WSGI environ."""
    raw = encode(body)
    return post(path, raw, headers=signed_headers(raw, **signing), **(extra or {}))


def alchemy_envelope(
    hashes: list[str],
    *,
    event_id: str | None = None,
    network: str = "ETH_SEPOLIA",
    created_at: datetime | None = None,
    block: int = 16,
    removed: bool = False,
) -> dict[str, Any]:
    """Alchemy's Address Activity envelope (reference/external-apis.md section 2): one token transfer per hash."""
    created = (created_at or datetime.now(tz=UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds
    activity = [
        {
            "blockNum": hex(block),
            "hash": tx_hash,
            "fromAddress": "0x503828976d22510aad0201ac7ec88293211d23da",
            "toAddress": "0xbe3f4b43db5eb49d1f48f53443b9abce45da3b79",
            "value": 1.5,
            "erc721TokenId": None,
            "erc1155Metadata": None,
            "asset": "USDC",
            "category": "token",
            "rawContract": {
                "rawValue": "0x" + "0" * 57 + "16e3600",
                "address": "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
                "decimals": 6,
            },
            "log": {
                "address": "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
                "topics": ["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"],
                "data": "0x" + "0" * 57 + "16e3600",
                "blockNumber": hex(block),
                "transactionHash": tx_hash,
                "transactionIndex": "0x1",
                "blockHash": "0x" + "bb" * 32,
                "logIndex": "0x2",
                "removed": removed,
            },
        }
        for tx_hash in hashes
    ]
    return {
        "webhookId": "wh_octjglnywaupz6th",
        "id": event_id or f"whevt_{time.monotonic_ns():x}",
        "createdAt": created,
        "type": "ADDRESS_ACTIVITY",
        "event": {"network": network, "activity": activity},
    }


def post_alchemy(body: Any, *, key: str = ALCHEMY_KEY):
    raw = encode(body)
    return post(BLOCKCHAIN, raw, headers={"X-Alchemy-Signature": hmac_hex(key, raw)})


_counter = iter(range(1, 10**9))


def event_id(prefix: str = "evt") -> str:
    return f"{prefix}_{next(_counter):06d}_{time.monotonic_ns():x}"


def model(label: str):
    """An owning app's model, e.g. ``model("transactions.ChainTransaction")``."""
    return apps.get_model(label)


# --- chain -----------------------------------------------------------------------------------------------------


def price_store(symbol: str, price: str, *, ago: timedelta, source: str = "coingecko"):
    """A stored price, as the ingestion would have written it."""
    token = model("chains.Token").objects.get_or_create(symbol=symbol, defaults={"name": symbol})[0]
    return model("prices.AssetPrice").objects.create(
        token=token, price_usd=Decimal(price), source=source, observed_at=timezone.now() - ago
    )


@pytest.fixture
def evm(request, settings, db) -> str:
    """The ``local`` chain on the session's anvil (through the ``rpc_recorder`` proxy when the test uses it),
    wanting 2 confirmations, with ETH priced for the KYC limits."""
    request.getfixturevalue("rpc_recorder" if "rpc_recorder" in request.fixturenames else "local_chain")
    settings.CHAINS = {"local": {**settings.CHAINS["local"], "confirmations": 2}}
    price_store("ETH", "1", ago=timedelta(hours=3))  # recent enough to value a transfer for the KYC limits
    return "local"
