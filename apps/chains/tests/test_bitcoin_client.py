"""BitcoinClient against the local Esplora double: real UTXOs, real signatures, real mempool and blocks."""

from __future__ import annotations

import socket
from dataclasses import replace
from decimal import Decimal

import httpx
import pytest
from embit.psbt import PSBT
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from apps.chains.clients import BitcoinClient, client_for
from apps.chains.clients.base import AssetRef, BalanceQuery, Submission, TransferIntent, TxStatus
from apps.chains.health import chain_health
from apps.chains.models import NATIVE_ADDRESS
from apps.chains.registry import ChainConfig, chain
from engipay.api.errors import ChainUnavailable, InvalidInput
from tests.doubles.bitcoin_signing import (
    address_for,
    build_and_sign,
    new_key,
    script_for,
    sign_psbt,
    sign_transaction,
    uncompressed_p2pkh_address,
)
from tests.doubles.esplora import NETWORK_PARAMS, EsploraDouble, script_for_address

BTC = AssetRef("BTC", None, 8)
MAINNET_P2WPKH = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"


@pytest.fixture
def client(bitcoin_chain) -> BitcoinClient:
    btc = client_for(bitcoin_chain)
    assert isinstance(btc, BitcoinClient)
    return btc


def _funded(esplora, kind: str, sats: int, *, confirm: bool = True):
    key = new_key()
    address = address_for(key, kind)
    esplora.fund(address, sats)
    if confirm:
        esplora.mine(1)
    return key, address


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _config(urls: list[str]) -> ChainConfig:
    return ChainConfig(
        key="bitcoin", kind="bitcoin", name="Bitcoin", chain_id="regtest", rpc_urls=tuple(urls), confirmations=1
    )


# --- reads --------------------------------------------------------------------------------------------------


def test_head_is_the_tip_with_its_hash(client, esplora):
    height = esplora.mine(1)
    head = client.head()
    assert head.number == height
    assert head.hash == esplora.state.blocks[height].hash


def test_balances_split_confirmed_and_unconfirmed_for_every_address_kind(client, esplora):
    addresses = {}
    for kind in ("p2wpkh", "p2tr", "p2pkh"):
        address = address_for(new_key(), kind)
        esplora.fund(address, 100_000)
        addresses[kind] = address
    esplora.mine(1)
    for address in addresses.values():
        esplora.fund(address, 2_500)  # still in the mempool
    stranger = address_for(new_key(), "p2wpkh")
    queries = [BalanceQuery(a, NATIVE_ADDRESS) for a in [*addresses.values(), stranger]]
    token = BalanceQuery(addresses["p2tr"], "0x" + "11" * 20)
    snapshot = client.balances([*queries, token])
    assert snapshot.block.number == esplora.tip()
    for query in queries[:3]:
        assert snapshot.balances[query] == 100_000
        assert snapshot.unconfirmed[query] == 2_500
    assert snapshot.balances[queries[3]] == 0
    assert snapshot.unconfirmed[queries[3]] == 0
    assert snapshot.balances[token] is None  # only the native coin exists on Bitcoin


def test_fee_rates_are_decimals_by_target(client):
    rates = client.fee_rates()
    assert rates[3] == Decimal("12.25")
    assert all(isinstance(rate, Decimal) for rate in rates.values())
    assert client.fee_asset() == BTC


# --- addresses ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["p2wpkh", "p2tr", "p2pkh"])
def test_validate_address_normalises(client, kind):
    address = address_for(new_key(), kind)
    assert client.validate_address(address) == address
    if kind != "p2pkh":
        assert client.validate_address(address.upper()) == address


def _flip_last(address: str) -> str:
    return (
        address[:-1] + ("q" if address[-1] != "q" else "p")
        if address[0] in "bt"
        else address[:-1] + ("2" if address[-1] != "2" else "3")
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: "",
        lambda: "hello",
        lambda: _flip_last(address_for(new_key(), "p2wpkh")),  # bech32 checksum broken
        lambda: _flip_last(address_for(new_key(), "p2tr")),  # bech32m checksum broken
        lambda: _flip_last(address_for(new_key(), "p2pkh")),  # base58 checksum broken
        lambda: "bcrt1qW508d6qejxtdg4y5r3zarvary0c5xw7kygt080",  # mixed case
        lambda: "bcrt1pw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd5v",  # v1 with a 20-byte program
    ],
)
def test_malformed_addresses_are_refused(client, make):
    with pytest.raises(InvalidInput) as caught:
        client.validate_address(make())
    assert caught.value.code == "invalid_address"


@pytest.mark.parametrize(
    "make",
    [
        lambda: MAINNET_P2WPKH,
        lambda: "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        lambda: "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        lambda: address_for(new_key(), "p2tr", "mainnet"),
        lambda: address_for(new_key(), "p2wpkh", "testnet"),
        lambda: address_for(new_key(), "p2tr", "signet"),
    ],
)
def test_addresses_of_other_networks_are_refused(client, make):
    with pytest.raises(InvalidInput) as caught:
        client.validate_address(make())
    assert caught.value.code == "wrong_network"


# --- prepare → sign → decode → send → observe ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["p2wpkh", "p2tr", "p2pkh"])
def test_transfer_goes_from_psbt_to_finalized(client, esplora, kind):
    key, sender = _funded(esplora, kind, 300_000)
    recipient = address_for(new_key(), "p2wpkh")
    prepared = client.prepare_transfer(TransferIntent(sender, recipient, BTC, 120_000))

    unsigned = prepared.unsigned
    psbt = PSBT.from_base64(unsigned["psbt"])
    scope = psbt.inputs[0]
    assert (scope.non_witness_utxo is not None) if kind == "p2pkh" else (scope.witness_utxo.value == 300_000)
    assert unsigned["outputs"][0] == {"address": recipient, "value": "120000"}
    assert unsigned["outputs"][1]["address"] == sender
    fee = prepared.fee_expected_base
    assert fee == prepared.fee_max_base == 300_000 - 120_000 - int(unsigned["outputs"][1]["value"])
    assert prepared.fee_details["target_blocks"] == 3
    assert fee == int((Decimal("12.25") * unsigned["vsize"]).to_integral_value(rounding="ROUND_CEILING"))

    raw = sign_psbt(unsigned["psbt"], [key])
    submission = client.decode_signed(raw)
    assert submission.sender == sender
    assert submission.recipient == recipient
    assert submission.amount_base == 120_000
    assert submission.contract is None
    assert submission.fee_max_base == fee
    # The real size is within a few vbytes of the estimate (signature lengths vary).
    actual_vsize = -(-esplora_weight(raw) // 4)
    assert abs(actual_vsize - unsigned["vsize"]) <= 2

    assert client.send(submission) == submission.tx_hash
    assert client.send(submission) == submission.tx_hash  # idempotent
    pending = client.observe(submission)
    assert (pending.status, pending.found, pending.confirmations) == (TxStatus.PENDING, True, 0)

    esplora.mine(1)
    confirmed = client.observe(submission)
    assert confirmed.status == TxStatus.CONFIRMED
    assert confirmed.confirmations == 1
    assert confirmed.block_number == esplora.tip()
    assert confirmed.block_hash == esplora.state.blocks[esplora.tip()].hash
    assert confirmed.fee_paid_base == fee
    assert not confirmed.final

    esplora.mine(2)  # finality_depth 3 in the fixture
    finalized = client.observe(submission)
    assert (finalized.status, finalized.final, finalized.confirmations) == (TxStatus.FINALIZED, True, 3)
    assert client.send(submission) == submission.tx_hash  # already in the chain: still idempotent

    looked_up = client.lookup(submission.tx_hash)
    assert (looked_up.sender, looked_up.recipient, looked_up.amount_base) == (sender, recipient, 120_000)
    assert looked_up.raw == raw
    assert client.lookup("ab" * 32) is None


def esplora_weight(raw_hex: str) -> int:
    tx = Transaction.from_string(raw_hex)
    stripped = Transaction(
        tx.version, [TransactionInput(i.txid, i.vout, i.script_sig, i.sequence) for i in tx.vin], tx.vout, tx.locktime
    )
    return len(stripped.serialize()) * 3 + len(tx.serialize())


def test_change_below_dust_goes_to_the_fee(client, esplora):
    key, sender = _funded(esplora, "p2wpkh", 10_000)
    recipient = address_for(new_key(), "p2tr")
    # 10_000 - 8_000 leaves less than fee + 294 sats of change: one output only.
    prepared = client.prepare_transfer(TransferIntent(sender, recipient, BTC, 8_000))
    assert len(prepared.unsigned["outputs"]) == 1
    assert prepared.fee_expected_base == 2_000
    raw = sign_psbt(prepared.unsigned["psbt"], key)
    assert client.send(client.decode_signed(raw))


def test_several_utxos_are_spent_largest_first(client, esplora):
    key = new_key()
    sender = address_for(key, "p2tr")
    for sats in (20_000, 50_000, 30_000):
        esplora.fund(sender, sats)
    esplora.mine(1)
    prepared = client.prepare_transfer(TransferIntent(sender, address_for(new_key(), "p2pkh"), BTC, 70_000))
    assert [i["value"] for i in prepared.unsigned["inputs"]] == ["50000", "30000"]
    submission = client.decode_signed(sign_psbt(prepared.unsigned["psbt"], key))
    assert client.send(submission) == submission.tx_hash


def test_insufficient_funds_names_required_and_available(client, esplora):
    _, sender = _funded(esplora, "p2wpkh", 50_000)
    with pytest.raises(InvalidInput) as caught:
        client.prepare_transfer(TransferIntent(sender, address_for(new_key(), "p2wpkh"), BTC, 50_000))
    assert caught.value.code == "insufficient_funds"
    assert caught.value.details["asset"] == "BTC"
    assert caught.value.details["available"] == "0.0005"
    assert Decimal(caught.value.details["required"]) > Decimal("0.0005")


def test_prepare_refuses_dust_tokens_and_foreign_addresses(client, esplora):
    _, sender = _funded(esplora, "p2wpkh", 50_000)
    recipient = address_for(new_key(), "p2wpkh")
    with pytest.raises(InvalidInput) as caught:
        client.prepare_transfer(TransferIntent(sender, recipient, BTC, 293))
    assert caught.value.code == "amount_below_dust"
    with pytest.raises(InvalidInput) as caught:
        client.prepare_transfer(TransferIntent(sender, recipient, AssetRef("USDC", "0x" + "22" * 20, 6), 1000))
    assert caught.value.code == "unknown_asset"
    with pytest.raises(InvalidInput) as caught:
        client.prepare_transfer(TransferIntent(sender, MAINNET_P2WPKH, BTC, 10_000))
    assert caught.value.code == "wrong_network"


def test_double_spend_is_refused_by_the_node(client, esplora):
    key, _ = _funded(esplora, "p2wpkh", 100_000)
    first = build_and_sign(esplora, key, "p2wpkh", address_for(new_key(), "p2wpkh"), 50_000, 500)
    second = build_and_sign(esplora, key, "p2wpkh", address_for(new_key(), "p2tr"), 60_000, 500)
    client.send(client.decode_signed(first))
    with pytest.raises(InvalidInput) as caught:
        client.send(client.decode_signed(second))
    assert caught.value.code == "transaction_rejected"
    assert "txn-mempool-conflict" in caught.value.details["reason"]
    esplora.mine(1)
    with pytest.raises(InvalidInput) as caught:
        client.send(client.decode_signed(second))
    assert "bad-txns-inputs-missingorspent" in caught.value.message


@pytest.mark.parametrize("kind", ["p2wpkh", "p2tr", "p2pkh"])
def test_a_forged_signature_is_refused(client, esplora, kind):
    key, sender = _funded(esplora, kind, 100_000)
    prepared = client.prepare_transfer(TransferIntent(sender, address_for(new_key(), "p2wpkh"), BTC, 40_000))
    raw = sign_psbt(prepared.unsigned["psbt"], key)
    submission = client.decode_signed(raw)
    # Redirect the payment after signing: the signature no longer covers the outputs.
    forged_raw = raw.replace("409c000000000000", "419c000000000000", 1)
    assert forged_raw != raw
    forged = client.decode_signed(forged_raw)
    assert forged.amount_base == 40_001
    with pytest.raises(InvalidInput) as caught:
        client.send(forged)
    assert caught.value.code == "transaction_rejected"
    assert "mandatory-script-verify-flag-failed" in caught.value.details["reason"]
    assert client.send(submission) == submission.tx_hash  # the genuine one still goes through


def test_a_signature_by_another_key_is_refused(client, esplora):
    _, sender = _funded(esplora, "p2tr", 100_000)
    thief = new_key()
    prepared = client.prepare_transfer(TransferIntent(sender, address_for(thief, "p2tr"), BTC, 40_000))
    psbt = PSBT.from_base64(prepared.unsigned["psbt"])
    # The thief signs with their own key as if the input were theirs.
    raw = sign_transaction(psbt.tx, [TransactionOutput(100_000, script_for(thief, "p2tr"))], [thief])
    with pytest.raises(InvalidInput) as caught:
        client.send(client.decode_signed(raw))
    assert "mandatory-script-verify-flag-failed" in caught.value.details["reason"]


@pytest.mark.parametrize("raw", ["", "zz", "0200000001", "00" * 60, {"nothing": 1}, 42])
def test_garbage_is_not_a_signed_transaction(client, raw):
    with pytest.raises(InvalidInput) as caught:
        client.decode_signed(raw)
    assert caught.value.code == "invalid_signed_transaction"


def test_a_transaction_spending_unknown_outputs_is_refused(client, esplora):
    key, _ = _funded(esplora, "p2wpkh", 100_000)
    raw = build_and_sign(esplora, key, "p2wpkh", address_for(new_key(), "p2wpkh"), 50_000, 500)
    other = EsploraDouble("regtest").start()  # another chain that never saw the funding
    try:
        stranger = BitcoinClient(_config([other.url]))
        with pytest.raises(InvalidInput) as caught:
            stranger.decode_signed(raw)
        assert caught.value.code == "invalid_signed_transaction"
        with pytest.raises(InvalidInput) as caught:
            stranger.send(
                Submission(tx_hash="00" * 32, sender="", recipient=None, contract=None, amount_base=None, raw=raw)
            )
        assert "bad-txns-inputs-missingorspent" in caught.value.details["reason"]
    finally:
        other.stop()


def test_dropped_when_an_input_is_spent_by_another_transaction(client, esplora):
    key, _ = _funded(esplora, "p2wpkh", 100_000)
    ours = client.decode_signed(build_and_sign(esplora, key, "p2wpkh", address_for(new_key(), "p2wpkh"), 50_000, 500))
    theirs = client.decode_signed(build_and_sign(esplora, key, "p2wpkh", address_for(new_key(), "p2tr"), 70_000, 900))
    assert client.observe(ours).status == TxStatus.PENDING
    assert client.observe(ours).found is False  # never sent: the caller may send it again
    client.send(theirs)
    dropped = client.observe(ours)
    assert (dropped.status, dropped.found, dropped.final) == (TxStatus.DROPPED, False, True)
    assert theirs.tx_hash in dropped.note


# --- transport ----------------------------------------------------------------------------------------------


def test_a_stopped_node_is_chain_unavailable(settings):
    with EsploraDouble("regtest") as down:
        url = down.url
    unreachable = BitcoinClient(_config([url, _closed_port()]))
    unreachable.backoff_seconds = 0
    with pytest.raises(ChainUnavailable) as caught:
        unreachable.head()
    assert caught.value.code == "chain_unavailable"
    assert caught.value.details == {"chain": "bitcoin"}
    with pytest.raises(ChainUnavailable):
        unreachable.balances([BalanceQuery(address_for(new_key(), "p2wpkh"), NATIVE_ADDRESS)])


def test_fails_over_to_the_next_url(settings, esplora):
    failover = BitcoinClient(_config([_closed_port(), esplora.url]))
    assert failover.head().number == esplora.tip()


def test_the_registry_builds_the_client_from_chains(bitcoin_chain, esplora):
    config = chain(bitcoin_chain)
    btc = client_for(config)
    assert btc.finality_depth == 3
    assert btc.network_name == "regtest"


def test_uncompressed_p2pkh_addresses_are_valid(client):
    address = uncompressed_p2pkh_address(new_key())
    assert client.validate_address(address) == address


# --- what a signed transaction may do: one sender, one recipient, change, OP_RETURN --------------------------


def _spend(esplora, keys_and_kinds, outputs) -> str:
    """Sign a transaction spending every UTXO of each (key, kind) to ``outputs`` [(address or Script, sats)]."""
    network = NETWORK_PARAMS[esplora.network]
    vin, prevouts, keys = [], [], []
    for key, kind in keys_and_kinds:
        own = script_for(key, kind)
        for utxo in esplora.utxos(own.address(network)):
            vin.append(TransactionInput(bytes.fromhex(utxo["txid"]), utxo["vout"], sequence=0xFFFFFFFD))
            prevouts.append(TransactionOutput(utxo["value"], own))
        keys.append(key)
    vout = [
        TransactionOutput(sats, target if isinstance(target, Script) else script_for_address(target, network))
        for target, sats in outputs
    ]
    return sign_transaction(Transaction(version=2, vin=vin, vout=vout, locktime=0), prevouts, keys)


def test_an_extra_output_to_a_third_party_is_refused(client, esplora):
    key, sender = _funded(esplora, "p2wpkh", 200_000)
    recipient, stranger = address_for(new_key(), "p2wpkh"), address_for(new_key(), "p2tr")
    raw = _spend(esplora, [(key, "p2wpkh")], [(recipient, 50_000), (stranger, 100_000), (sender, 49_000)])
    with pytest.raises(InvalidInput) as caught:
        client.decode_signed(raw)
    assert caught.value.code == "unexpected_output"
    assert caught.value.details == {"address": stranger, "value": "100000"}
    assert stranger in caught.value.message

    # The wallet broadcast it itself: lookup refuses it the same way.
    txid = client.send(Submission(tx_hash="", sender="", recipient=None, contract=None, amount_base=None, raw=raw))
    with pytest.raises(InvalidInput) as caught:
        client.lookup(txid)
    assert caught.value.code == "unexpected_output"
    assert caught.value.details == {"address": stranger, "value": "100000"}


def test_an_output_with_value_to_a_non_address_script_is_refused(client, esplora):
    key, sender = _funded(esplora, "p2wpkh", 200_000)
    recipient = address_for(new_key(), "p2wpkh")
    burn = Script(b"\x6a\x04memo")
    raw = _spend(esplora, [(key, "p2wpkh")], [(recipient, 50_000), (burn, 1_000), (sender, 148_000)])
    with pytest.raises(InvalidInput) as caught:
        client.decode_signed(raw)
    assert caught.value.code == "unexpected_output"
    assert caught.value.details["value"] == "1000"


def test_inputs_of_several_addresses_are_refused(client, esplora):
    key, sender = _funded(esplora, "p2wpkh", 100_000)
    other_key, other = _funded(esplora, "p2tr", 100_000)
    recipient = address_for(new_key(), "p2wpkh")
    raw = _spend(esplora, [(key, "p2wpkh"), (other_key, "p2tr")], [(recipient, 150_000), (sender, 49_000)])
    with pytest.raises(InvalidInput) as caught:
        client.decode_signed(raw)
    assert caught.value.code == "mixed_inputs"
    assert caught.value.details["senders"] == sorted([sender, other])


def test_several_outputs_to_the_recipient_and_change_to_the_sender_are_accepted(client, esplora):
    key, sender = _funded(esplora, "p2tr", 200_000)
    recipient = address_for(new_key(), "p2pkh")
    outputs = [(sender, 60_000), (recipient, 50_000), (recipient, 30_000), (sender, 59_000)]
    raw = _spend(esplora, [(key, "p2tr")], outputs)
    submission = client.decode_signed(raw)
    assert (submission.sender, submission.recipient, submission.amount_base) == (sender, recipient, 80_000)
    assert submission.fee_max_base == 1_000
    assert client.send(submission) == submission.tx_hash
    looked_up = client.lookup(submission.tx_hash)
    assert (looked_up.sender, looked_up.recipient, looked_up.amount_base) == (sender, recipient, 80_000)


def test_a_zero_value_op_return_is_accepted(client, esplora):
    key, sender = _funded(esplora, "p2wpkh", 100_000)
    recipient = address_for(new_key(), "p2wpkh")
    memo = Script(b"\x6a\x0bengipay:42!")
    raw = _spend(esplora, [(key, "p2wpkh")], [(memo, 0), (recipient, 40_000), (sender, 59_000)])
    submission = client.decode_signed(raw)
    assert (submission.sender, submission.recipient, submission.amount_base) == (sender, recipient, 40_000)
    assert client.send(submission) == submission.tx_hash


def test_a_self_transfer_pays_the_sender(client, esplora):
    key, sender = _funded(esplora, "p2wpkh", 100_000)
    raw = _spend(esplora, [(key, "p2wpkh")], [(sender, 60_000), (sender, 39_000)])
    submission = client.decode_signed(raw)
    assert (submission.sender, submission.recipient, submission.amount_base) == (sender, sender, 99_000)


def test_previous_transactions_are_fetched_once_each(client, esplora, monkeypatch):
    key, sender = _funded(esplora, "p2wpkh", 100_000)
    split = client.decode_signed(_spend(esplora, [(key, "p2wpkh")], [(sender, 50_000), (sender, 49_000)]))
    client.send(split)
    raw = _spend(esplora, [(key, "p2wpkh")], [(address_for(new_key(), "p2wpkh"), 98_000)])
    assert len(Transaction.from_string(raw).vin) == 2  # both outputs of ``split``
    fetched = []
    original = client.get_json

    def spy(path, **kwargs):
        fetched.append(path)
        return original(path, **kwargs)

    monkeypatch.setattr(client, "get_json", spy)
    assert client.decode_signed(raw).amount_base == 98_000
    assert fetched == [f"/tx/{split.tx_hash}"]


def test_too_many_inputs_are_refused_before_any_fetch(client, monkeypatch):
    vin = [TransactionInput(bytes([i % 256, i // 256]) + b"\x01" * 30, 0) for i in range(201)]
    tx = Transaction(version=2, vin=vin, vout=[TransactionOutput(1_000, Script(b"\x6a"))], locktime=0)
    monkeypatch.setattr(client, "get_json", lambda *a, **k: pytest.fail("fetched"))
    with pytest.raises(InvalidInput) as caught:
        client.decode_signed(tx.serialize().hex())
    assert caught.value.code == "too_many_inputs"


# --- configuration and connections ------------------------------------------------------------------------------


@pytest.mark.parametrize("network", ["main", "test", "Mainnet", "testnet4", "", None])
def test_only_the_four_network_names_are_accepted(settings, network):
    config = ChainConfig(
        key="bitcoin", kind="bitcoin", name="Bitcoin", chain_id=network, rpc_urls=("http://x",), confirmations=1
    )
    with pytest.raises(InvalidInput) as caught:
        BitcoinClient(config)
    assert caught.value.code == "network_not_supported"


def test_the_http_client_is_made_on_first_network_use(settings, esplora):
    btc = BitcoinClient(_config([esplora.url]))
    assert btc.validate_address(address_for(new_key(), "p2wpkh"))
    assert btc._http is None
    assert btc.head().number == esplora.tip()
    assert btc._http is not None
    btc.close()
    assert btc._http is None
    assert btc.head().number == esplora.tip()  # a closed client opens a new pool when used again
    btc.close()


# --- health: which network the Esplora serves ---------------------------------------------------------------


def test_the_double_serves_the_real_genesis_block_of_its_network(settings):
    with EsploraDouble("signet") as signet:
        genesis = httpx.get(f"{signet.url}/block-height/0").text
        assert genesis == "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"
        signet.mine(1)
        assert httpx.get(f"{signet.url}/block/{genesis}/status").json() == {
            "in_best_chain": True,
            "height": 0,
            "next_best": signet.state.blocks[1].hash,
        }
        assert httpx.get(f"{signet.url}/block/{genesis}").json()["height"] == 0
        assert signet.state.blocks[1].prev == genesis


def test_health_reports_the_network_and_a_mismatch_is_not_ok(settings, esplora):
    regtest = chain_health(_config([esplora.url]))
    assert (regtest["ok"], regtest["network"], regtest["block_number"]) == (True, "regtest", esplora.tip())
    assert "error" not in regtest
    mainnet_config = ChainConfig(
        key="bitcoin", kind="bitcoin", name="Bitcoin", chain_id="mainnet", rpc_urls=(esplora.url,), confirmations=1
    )
    mismatch = chain_health(mainnet_config)
    assert (mismatch["ok"], mismatch["network"]) == (False, "regtest")
    assert mismatch["error"] == "Esplora serves regtest, expected mainnet"
    with EsploraDouble("mainnet") as mainnet:
        healthy = chain_health(replace(mainnet_config, rpc_urls=(mainnet.url,)))
        assert (healthy["ok"], healthy["network"]) == (True, "mainnet")
