"""KYC limits where money moves: prepare refuses what passes the tier's limit, broadcast counts what is sent, a
failed transfer stops counting, verification raises the limits, and no price means no unvalued transfer."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from eth_account import Account

from apps.chains.clients import evm_rpc as evm
from apps.kyc.models import LimitUsage
from apps.prices.models import AssetPrice
from tests.helpers import assert_error_shape

from .test_tracking import refresh

pytestmark = pytest.mark.django_db

LIMITS = {
    "tier_0": {"daily": "1000", "monthly": "1500"},
    "tier_1": {"daily": "5000", "monthly": "25000"},
    "tier_2": {"daily": "10000", "monthly": "100000"},
}


@pytest.fixture
def priced(settings, chain):
    """ETH at 2000 USD, observed now; the tier limits above."""
    from apps.chains.models import Token

    settings.KYC_LIMITS = LIMITS
    token = Token.objects.get(symbol="ETH")
    AssetPrice.objects.create(token=token, price_usd=Decimal(2000), source="coingecko", observed_at=timezone.now())
    return token


def remaining(party) -> dict:
    body = party.client.get("/api/users/kyc/status").json()
    return body["remaining"]


def test_prepare_refuses_a_transfer_past_the_daily_limit(priced, party):
    alice, to = party(), Account.create().address
    refused = alice.prepare(asset="ETH", to_address=to, amount="0.5001")  # 1000.20 USD
    error = assert_error_shape(refused, 403, "kyc_limit_exceeded")
    assert error["details"]["verification_level"] == "tier_0"
    assert error["details"]["daily_remaining"] == 1000
    assert error["details"]["requested_usd"] == 1000.20
    assert alice.prepare(asset="ETH", to_address=to, amount="0.5").status_code == 200


def test_broadcast_counts_the_transfer_once_and_the_next_one_sees_less(priced, party):
    alice, to = party(), Account.create().address
    sent = alice.send(to=to, amount="0.4")  # 800 USD
    assert remaining(alice) == {"daily_transaction": 200, "monthly_transaction": 700}
    usage = LimitUsage.objects.get(user=alice.user)
    assert usage.usd_amount == Decimal("800.00")
    assert usage.reference == f"tx:local:{sent['tx_hash']}"
    refused = alice.prepare(asset="ETH", to_address=to, amount="0.11")  # 220 USD > 200 left
    assert_error_shape(refused, 403, "kyc_limit_exceeded")
    assert alice.prepare(asset="ETH", to_address=to, amount="0.1").status_code == 200


def test_broadcast_itself_enforces_the_limit(priced, party):
    """A transaction prepared while there was room is refused at broadcast if the room is gone, and not sent."""
    alice, to = party(), Account.create().address
    first = alice.prepare(asset="ETH", to_address=to, amount="0.3").json()["transaction"]
    second = alice.prepare(asset="ETH", to_address=to, amount="0.3").json()["transaction"]
    second = {**second, "nonce": hex(int(first["nonce"], 16) + 1)}
    ok = alice.broadcast(asset="ETH", to_address=to, amount="0.3", signed_transaction=alice.sign(first))
    assert ok.status_code == 201, ok.content
    # A second 600 USD transfer passes the 1000 USD daily limit.
    refused = alice.broadcast(asset="ETH", to_address=to, amount="0.3", signed_transaction=alice.sign(second))
    assert_error_shape(refused, 403, "kyc_limit_exceeded")
    assert LimitUsage.objects.filter(user=alice.user).count() == 1
    from apps.transactions.models import ChainTransaction

    assert ChainTransaction.objects.filter(user=alice.user).count() == 1


def test_a_failed_transfer_stops_counting(settings, chain, party, mine, deploy_token):
    from apps.chains.models import Token

    settings.KYC_LIMITS = LIMITS
    alice, to = party(), Account.create().address
    deploy_token("TLIM", 6, {alice.address: 10**9})
    AssetPrice.objects.create(
        token=Token.objects.get(symbol="TLIM"), price_usd=Decimal(1), source="coingecko", observed_at=timezone.now()
    )
    prepared = alice.prepare(asset="TLIM", to_address=to, amount="900").json()["transaction"]
    # Signed for more than the wallet holds: the token contract reverts it on chain.
    tx = {**prepared, "data": "0x" + evm.erc20_transfer_data(to, 2000 * 10**6).hex(), "gas": hex(100_000)}
    sent = alice.broadcast(asset="TLIM", to_address=to, amount="2000", signed_transaction=alice.sign(tx))
    assert_error_shape(sent, 403, "kyc_limit_exceeded")  # 2000 USD > 1000 USD: refused before sending
    tx = {**prepared, "data": "0x" + evm.erc20_transfer_data(to, 900 * 10**6).hex(), "gas": hex(30_000)}
    sent = alice.broadcast(asset="TLIM", to_address=to, amount="900", signed_transaction=alice.sign(tx)).json()
    assert remaining(alice)["daily_transaction"] == 100
    mine(1)
    record = refresh(sent["transaction_id"])
    assert record.status == "failed"  # out of gas
    assert remaining(alice)["daily_transaction"] == 1000
    assert LimitUsage.objects.get(reference=f"tx:local:{record.tx_hash}").released_at is not None


def test_verification_raises_the_limit(priced, party, settings, tmp_path):
    from apps.kyc.services.review import kyc_submission_approve
    from apps.kyc.services.submissions import kyc_submission_create
    from apps.kyc.tests.conftest import image_b64

    settings.KYC_PRIVATE_ROOT = str(tmp_path)
    alice, to = party(), Account.create().address
    assert_error_shape(alice.prepare(asset="ETH", to_address=to, amount="1"), 403, "kyc_limit_exceeded")
    submission = kyc_submission_create(
        user=alice.user,
        document_type="passport",
        personal_info={"full_name": "Alice Example", "date_of_birth": date(1990, 1, 1), "address": "1 High St"},
        files={"document_image": image_b64(), "selfie_image": image_b64(480, 640, "JPEG")},
    )
    kyc_submission_approve(submission=submission, reviewer=None)
    assert alice.prepare(asset="ETH", to_address=to, amount="1").status_code == 200  # 2000 of 5000 USD
    assert_error_shape(alice.prepare(asset="ETH", to_address=to, amount="2.51"), 403, "kyc_limit_exceeded")


def test_no_recent_price_means_no_transfer(priced, party):
    alice, to = party(), Account.create().address
    AssetPrice.objects.filter(token=priced).delete()
    AssetPrice.objects.create(
        token=priced, price_usd=Decimal(2000), source="coingecko", observed_at=timezone.now() - timedelta(hours=25)
    )
    error = assert_error_shape(alice.prepare(asset="ETH", to_address=to, amount="0.01"), 503, "price_unavailable")
    assert error["details"] == {"asset": "ETH"}


def test_the_same_signed_transaction_again_is_not_a_second_count(priced, party):
    alice, to = party(), Account.create().address
    signed = alice.sign(alice.prepare(asset="ETH", to_address=to, amount="0.4").json()["transaction"])
    first = alice.broadcast(asset="ETH", to_address=to, amount="0.4", signed_transaction=signed)
    again = alice.broadcast(asset="ETH", to_address=to, amount="0.4", signed_transaction=signed)
    assert (first.status_code, again.status_code) == (201, 200)
    assert remaining(alice)["daily_transaction"] == 200
    assert LimitUsage.objects.filter(user=alice.user).count() == 1


def test_a_refused_send_released_then_sent_again_counts_again(priced, party, anvil_w3):
    """The node refuses a transfer (no funds): its count is released. The same signed bytes sent later, once
    the funds are back, count again (a released usage is no free pass)."""
    alice, to = party(), Account.create().address
    signed = alice.sign(alice.prepare(asset="ETH", to_address=to, amount="0.45").json()["transaction"])  # 900 USD
    anvil_w3.provider.make_request("anvil_setBalance", [alice.address, hex(0)])
    refused = alice.broadcast(asset="ETH", to_address=to, amount="0.45", signed_transaction=signed)
    assert refused.status_code == 400, refused.content
    assert remaining(alice)["daily_transaction"] == 1000
    anvil_w3.provider.make_request("anvil_setBalance", [alice.address, hex(10**20)])
    sent = alice.broadcast(asset="ETH", to_address=to, amount="0.45", signed_transaction=signed)
    assert sent.status_code == 201, sent.content
    assert remaining(alice)["daily_transaction"] == 100
    assert_error_shape(alice.prepare(asset="ETH", to_address=to, amount="0.45"), 403, "kyc_limit_exceeded")
