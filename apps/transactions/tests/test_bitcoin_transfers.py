"""Bitcoin through the same endpoints: prepare (a PSBT) → sign (as a wallet) → broadcast → confirmations, against
the local Esplora double."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from apps.chains.units import from_base_units
from apps.transactions import services
from apps.transactions.models import ChainTransaction
from tests.doubles.bitcoin_signing import address_for, bip322_sign_simple, build_and_sign, new_key, sign_psbt
from tests.helpers import assert_error_shape, caip122_bitcoin_message, fresh_nonce

pytestmark = pytest.mark.django_db


@pytest.fixture
def holder(bitcoin_tokens, esplora):
    """A user signed in with a funded P2WPKH address (BIP-322), and an API client with their token."""
    key = new_key()
    address = address_for(key, "p2wpkh")
    esplora.fund(address, 150_000)
    esplora.mine(1)
    client = APIClient()
    message = caip122_bitcoin_message(address=address, nonce=fresh_nonce(client))
    body = {
        "wallet_address": address,
        "wallet_type": "xverse",
        "message": message,
        "signature": bip322_sign_simple(key, "p2wpkh", address, message),
    }
    response = client.post("/api/auth/wallet-connect", body, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    return SimpleNamespace(client=client, key=key, address=address)


def _post(holder, path, **body):
    return holder.client.post(f"/api/transactions/{path}", {"network": "bitcoin", **body}, format="json")


def _refresh(pk) -> ChainTransaction:
    services.transactions_refresh_open(network="bitcoin")
    return ChainTransaction.objects.get(pk=pk)


def test_a_psbt_signed_by_the_wallet_is_broadcast_and_confirmed(holder, esplora):
    to = address_for(new_key(), "p2tr")
    prepared = _post(holder, "prepare", asset="BTC", to_address=to, amount="0.0005")
    assert prepared.status_code == 200, prepared.content
    body = prepared.json()
    assert body["fee_estimate"]["asset"] == "BTC"
    assert body["fee_estimate"]["vsize"] > 0
    assert Decimal(body["fee_estimate"]["fee_rate_sat_vb"]) >= 1
    assert body["transaction"]["psbt"]
    assert {"address": to, "value": "50000"} in [
        {"address": o["address"], "value": str(o["value"])} for o in body["transaction"]["outputs"]
    ]
    raw = sign_psbt(body["transaction"]["psbt"], holder.key)
    sent = _post(holder, "broadcast", signed_transaction=raw, asset="BTC", to_address=to, amount="0.0005")
    assert sent.status_code == 201, sent.content
    record = ChainTransaction.objects.get(pk=sent.json()["transaction_id"])
    assert (record.status, record.to_address, record.amount_base, record.from_address) == (
        "pending",
        to,
        50_000,
        holder.address,
    )
    assert len(record.tx_hash) == 64
    assert _refresh(record.pk).status == "pending"  # in the mempool

    esplora.mine(1)
    record = _refresh(record.pk)
    assert (record.status, record.confirmations) == ("confirmed", 1)
    assert record.fee_paid > 0
    status = holder.client.get(f"/api/transactions/{record.tx_hash}/status?network=bitcoin").json()
    assert (status["status"], status["confirmations"], status["finalized"]) == ("confirmed", 1, False)
    assert status["total_fee"] == from_base_units(record.fee_paid, 8)

    esplora.mine(2)  # finality_depth 3 in the fixture
    record = _refresh(record.pk)
    assert (record.status, record.confirmations) == ("finalized", 3)
    balances = holder.client.get("/api/portfolio/balances/real").json()
    btc = next(a for a in balances["assets"] if a["symbol"] == "BTC")
    assert btc["chain"] == "bitcoin"
    assert btc["balance"] == from_base_units(150_000 - 50_000 - int(record.fee_paid), 8)


def test_a_hash_broadcast_by_the_wallet_is_tracked_with_confirmations(holder, esplora):
    to = address_for(new_key(), "p2wpkh")
    raw = build_and_sign(esplora, holder.key, "p2wpkh", to, 20_000, 400)
    txid = esplora_post(esplora, raw)
    response = _post(holder, "broadcast", tx_hash=txid)
    assert response.status_code == 201, response.content
    record = ChainTransaction.objects.get(pk=response.json()["transaction_id"])
    assert (record.to_address, record.amount_base) == (to, 20_000)
    esplora.mine(1)
    assert _refresh(record.pk).confirmations == 1


def esplora_post(esplora, raw: str) -> str:
    import httpx

    response = httpx.post(f"{esplora.url}/tx", content=raw)
    assert response.status_code == 200, response.text
    return response.text


def test_malformed_and_wrong_network_addresses_are_refused(holder):
    for bad in [
        "bc1qnotanaddress",
        "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        "0x" + "ab" * 20,
        "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
    ]:
        response = _post(holder, "prepare", asset="BTC", to_address=bad, amount="0.001")
        error = assert_error_shape(response, 400, "invalid_input")
        assert "to_address" in error["details"]


def test_what_cannot_be_paid_or_was_not_asked_for_is_refused(holder, esplora):
    to = address_for(new_key(), "p2wpkh")
    assert_error_shape(_post(holder, "prepare", asset="BTC", to_address=to, amount="1"), 400, "insufficient_funds")
    raw = build_and_sign(esplora, holder.key, "p2wpkh", to, 20_000, 400)
    for change, code in [
        ({"amount": "0.0003"}, "amount_mismatch"),
        ({"to_address": address_for(new_key(), "p2tr")}, "recipient_mismatch"),
    ]:
        body = {"signed_transaction": raw, "asset": "BTC", "to_address": to, "amount": "0.0002", **change}
        assert_error_shape(_post(holder, "broadcast", **body), 400, code)
    stranger = new_key()
    stranger_address = address_for(stranger, "p2wpkh")
    esplora.fund(stranger_address, 50_000)
    foreign = build_and_sign(esplora, stranger, "p2wpkh", to, 20_000, 400)
    body = {"signed_transaction": foreign, "asset": "BTC", "to_address": to, "amount": "0.0002"}
    assert_error_shape(_post(holder, "broadcast", **body), 400, "sender_not_your_wallet")
    assert_error_shape(
        _post(holder, "broadcast", signed_transaction="00zz", asset="BTC", to_address=to, amount="0.0002"), 400
    )
    assert not ChainTransaction.objects.exists()


def test_a_signed_transaction_paying_a_stranger_too_is_refused(holder, esplora):
    from embit.transaction import Transaction, TransactionInput, TransactionOutput

    from tests.doubles.bitcoin_signing import script_for, sign_transaction
    from tests.doubles.esplora import NETWORK_PARAMS, script_for_address

    to, stranger = address_for(new_key(), "p2wpkh"), address_for(new_key(), "p2tr")
    network = NETWORK_PARAMS[esplora.network]
    own = script_for(holder.key, "p2wpkh")
    utxos = esplora.utxos(holder.address)
    total = sum(u["value"] for u in utxos)
    vin = [TransactionInput(bytes.fromhex(u["txid"]), u["vout"], sequence=0xFFFFFFFD) for u in utxos]
    vout = [
        TransactionOutput(50_000, script_for_address(to, network)),
        TransactionOutput(60_000, script_for_address(stranger, network)),
        TransactionOutput(total - 110_000 - 1_000, own),
    ]
    tx = Transaction(version=2, vin=vin, vout=vout, locktime=0)
    raw = sign_transaction(tx, [TransactionOutput(u["value"], own) for u in utxos], [holder.key])
    body = {"signed_transaction": raw, "asset": "BTC", "to_address": to, "amount": "0.0005"}
    error = assert_error_shape(_post(holder, "broadcast", **body), 400, "unexpected_output")
    assert error["details"] == {"address": stranger, "value": "60000"}
    assert not ChainTransaction.objects.exists()
    assert tx.txid().hex() not in esplora.state.mempool  # never sent


@pytest.mark.parametrize("kind", ["p2pkh", "p2wpkh"])
def test_paying_a_sanctioned_bitcoin_address_is_refused(holder, tmp_path, kind):
    """An XBT entry of an SDN file: base58 matched exactly, bech32 in either case (apps/kyc screening)."""
    from apps.kyc.models import AmlCase
    from apps.kyc.services.sanctions import sanctions_list_import
    from apps.kyc.tests.sdn_files import sdn_with

    to = address_for(new_key(), kind)
    sanctions_list_import(path=sdn_with(tmp_path / "sdn.csv", ("XBT", to)))
    spelling = to.upper() if kind == "p2wpkh" else to
    refused = _post(holder, "prepare", asset="BTC", to_address=spelling, amount="0.0005")
    error = assert_error_shape(refused, 403, "sanctioned_address")
    assert error["details"] == {}
    assert AmlCase.objects.filter(normalized=to.lower() if kind == "p2wpkh" else to).exists()
