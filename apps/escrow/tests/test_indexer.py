"""The escrow indexer on the session's anvil: escrows created and moved with real signed transactions, indexed
by ``escrow_index`` (directly, through the chain tracker's head hook, through the worker). Reorgs are real:
``evm_snapshot``/``evm_revert`` and different blocks mined in place of the dropped ones."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from eth_account import Account

from apps.chains import heads
from apps.chains.clients import client_for
from apps.chains.models import NATIVE_ADDRESS, Token
from apps.escrow import tasks
from apps.escrow.chain import approve_data, calldata, escrow_artifact, escrow_id, escrow_read, id_bytes, memo_hash
from apps.escrow.models import (
    DisputeDecision,
    Escrow,
    EscrowAction,
    EscrowDeployment,
    EscrowEvent,
    IndexedBlock,
)
from apps.escrow.services import deploy, indexer
from apps.notifications.models import Notification
from engipay.celery import app

from .conftest import RESOLVER, send_call

pytestmark = pytest.mark.django_db
ETH = 10**18
ZERO = NATIVE_ADDRESS
HOUR = 3600


# --- helpers ----------------------------------------------------------------------------------------------------


def chain_time(w3) -> int:
    return w3.eth.get_block("latest")["timestamp"]


def create_eth(
    w3,
    deployment: EscrowDeployment,
    account: Any,
    recipient: str,
    amount: int,
    *,
    salt: bytes | None = None,
    expires_in: int = HOUR,
    confirm: bool = True,
    resolver: str = ZERO,
) -> tuple[str, dict[str, Any]]:
    """``createEth`` signed by ``account``; (on-chain id, receipt)."""
    salt = salt or secrets.token_bytes(32)
    expires = chain_time(w3) + expires_in
    data = calldata("createEth", salt, recipient, expires, bytes.fromhex(memo_hash("")[2:]), confirm, resolver)
    receipt = send_call(w3, account, to=deployment.address, data=data, value=amount)
    assert receipt["status"] == 1
    return escrow_id(account.address, salt), receipt


def act(w3, deployment: EscrowDeployment, account: Any, function: str, onchain_id: str, *args: Any) -> dict[str, Any]:
    receipt = send_call(w3, account, to=deployment.address, data=calldata(function, id_bytes(onchain_id), *args))
    assert receipt["status"] == 1, function
    return receipt


def tx_hash(receipt: dict[str, Any]) -> str:
    return receipt["transactionHash"].to_0x_hex()


def stranger(w3) -> Any:
    """A funded key that belongs to no user."""
    account = Account.create()
    w3.provider.make_request("anvil_setBalance", [account.address, hex(100 * ETH)])
    return account


def _client():
    return client_for("local")


def index(**kwargs: Any) -> indexer.IndexResult:
    return indexer.escrow_index(network="local", **kwargs)


def api_escrow(deployment: EscrowDeployment, sender, recipient: str, amount: int, *, expires_at: int) -> Escrow:
    """A row as POST /api/payments/escrow/create leaves it: awaiting its signature, the create action submitted."""
    salt = secrets.token_bytes(32)
    escrow = Escrow.objects.create(
        deployment=deployment,
        onchain_id=escrow_id(sender.address, salt),
        salt="0x" + salt.hex(),
        sender=sender.user,
        sender_address=sender.address,
        recipient_address=recipient,
        token=Token.objects.get(symbol="ETH"),
        token_address=ZERO,
        decimals=18,
        amount_base=Decimal(amount),
        memo="for the bike",
        memo_hash=memo_hash("for the bike"),
        require_confirmation=True,
        resolver_address="",
        expires_at=datetime.fromtimestamp(expires_at, tz=UTC),
    )
    action_open(escrow, kind="create", user=sender.user, signer=sender.address)
    return escrow


def action_open(escrow: Escrow, *, kind: str, user, signer: str, hashes: list[str] | None = None) -> EscrowAction:
    return EscrowAction.objects.create(
        escrow=escrow,
        kind=kind,
        status=EscrowAction.Status.SUBMITTED,
        user=user,
        signer_address=signer,
        tx_hashes=hashes or [],
        prepared_until=timezone.now() + timedelta(minutes=15),
    )


def create_api_escrow_on_chain(w3, deployment, sender, recipient, amount: int) -> tuple[Escrow, dict[str, Any]]:
    expires = chain_time(w3) + HOUR
    escrow = api_escrow(deployment, sender, recipient.address, amount, expires_at=expires)
    data = calldata(
        "createEth",
        bytes.fromhex(escrow.salt[2:]),
        recipient.address,
        expires,
        bytes.fromhex(escrow.memo_hash[2:]),
        True,
        ZERO,
    )
    receipt = send_call(w3, sender.signer.account, to=deployment.address, data=data, value=amount)
    assert receipt["status"] == 1
    return escrow, receipt


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("created_at", "id").values_list("kind", flat=True))


def projection() -> dict[str, tuple]:
    """What the indexer made of the chain, by on-chain id (row ids differ between runs for chain-found rows)."""
    rows = Escrow.objects.order_by("onchain_id")
    return {
        e.onchain_id: (
            e.source,
            e.sender_id,
            e.status,
            e.block_number,
            e.block_hash,
            e.paid_to_recipient_base,
            e.refunded_to_sender_base,
            int(e.amount_base),
            e.recipient_address,
            [(ev.name, ev.block_number, ev.log_index, ev.tx_hash) for ev in e.events.order_by("block_number")],
        )
        for e in rows
    }


def snapshot(w3) -> str:
    return w3.provider.make_request("evm_snapshot", [])["result"]


def revert(w3, snapshot_id: str) -> None:
    assert w3.provider.make_request("evm_revert", [snapshot_id])["result"] is True


# --- indexing ---------------------------------------------------------------------------------------------------


def test_escrows_created_on_chain_are_indexed_and_both_parties_told(escrow_chain, anvil_w3, party):
    alice, bob, other = party(), party(), stranger(anvil_w3)
    mine_id, created = create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, 2 * ETH)
    theirs_id, _ = create_eth(anvil_w3, escrow_chain, other, bob.address, ETH // 2)

    result = index()

    assert (result.events, result.busy, result.rewound_to) == (2, False, None)
    assert result.to_block == anvil_w3.eth.block_number
    mine = Escrow.objects.get(onchain_id=mine_id)
    assert (mine.source, mine.sender, mine.status) == ("chain", alice.user, "pending")
    assert (mine.sender_address, mine.recipient_address) == (alice.address, bob.address)
    assert (int(mine.amount_base), mine.token.symbol, mine.decimals, mine.memo) == (2 * ETH, "ETH", 18, "")
    assert (mine.block_number, mine.block_hash) == (created["blockNumber"], created["blockHash"].to_0x_hex())
    assert mine.expires_at == datetime.fromtimestamp(
        escrow_read(_client(), contract=escrow_chain.address, onchain_id=mine_id).expires_at, tz=UTC
    )
    assert Escrow.objects.get(onchain_id=theirs_id).sender is None  # nobody holds that wallet
    event = EscrowEvent.objects.get(escrow=mine)
    assert (event.name, event.tx_hash, event.args["amount"]) == ("created", tx_hash(created), str(2 * ETH))
    assert event.block_timestamp is not None
    escrow_chain.refresh_from_db()
    assert escrow_chain.indexed_block == result.to_block
    assert escrow_chain.indexed_block_hash == anvil_w3.eth.get_block(result.to_block)["hash"].to_0x_hex()
    assert escrow_chain.head_timestamp == datetime.fromtimestamp(chain_time(anvil_w3), tz=UTC)

    accepted = act(anvil_w3, escrow_chain, bob.signer.account, "accept", mine_id)
    assert index().events == 1

    mine.refresh_from_db()
    assert (mine.status, mine.paid_to_recipient_base, mine.refunded_to_sender_base) == ("accepted", 2 * ETH, None)
    assert mine.block_number == accepted["blockNumber"]
    assert kinds(alice.user) == ["escrow_created", "escrow_accepted"]
    assert kinds(bob.user) == ["escrow_created", "escrow_created", "escrow_accepted"]
    notice = Notification.objects.get(user=alice.user, kind="escrow_accepted")
    assert notice.data == {
        "escrow_id": str(mine.pk),
        "status": "accepted",
        "network": "local",
        "tx_hash": tx_hash(accepted),
        "amount": "2",
        "amount_base": str(2 * ETH),
        "asset": "ETH",
        "onchain_id": mine_id,
        "block_number": accepted["blockNumber"],
    }


def create_token(w3, deployment, account, recipient: str, token: str, amount: int) -> str:
    assert send_call(w3, account, to=token, data=approve_data(deployment.address, amount))["status"] == 1
    salt = secrets.token_bytes(32)
    expires = chain_time(w3) + HOUR
    data = calldata("createToken", salt, recipient, token, amount, expires, b"\0" * 32, True, ZERO)
    assert send_call(w3, account, to=deployment.address, data=data)["status"] == 1
    return escrow_id(account.address, salt)


def test_token_escrows_take_the_registry_decimals_or_keep_base_units(escrow_chain, anvil_w3, party, deploy_token):
    alice, bob = party(), party()
    usdc = deploy_token("USDC", 6, {alice.address: 10**9})
    unknown = deploy_token("ODD", 4, {alice.address: 10**9}, register=False)
    known_id = create_token(anvil_w3, escrow_chain, alice.signer.account, bob.address, usdc, 2_500_000)
    unknown_id = create_token(anvil_w3, escrow_chain, alice.signer.account, bob.address, unknown, 12_345)

    index()

    known = Escrow.objects.get(onchain_id=known_id)
    assert (known.token.symbol, known.decimals, known.token_address, int(known.amount_base)) == (
        "USDC",
        6,
        usdc,
        2_500_000,
    )
    odd = Escrow.objects.get(onchain_id=unknown_id)
    assert (odd.token, odd.decimals, odd.token_address) == (None, None, unknown)
    told = {n.data["onchain_id"]: n.data for n in Notification.objects.filter(user=bob.user, kind="escrow_created")}
    assert (told[known_id]["amount"], told[known_id]["asset"]) == ("2.5", "USDC")
    assert (told[unknown_id]["amount"], told[unknown_id]["asset"]) == ("12345", unknown)


def test_an_api_row_is_driven_by_the_events_and_the_chain_wins(escrow_chain, anvil_w3, party):
    alice, bob = party(), party()
    expires = chain_time(anvil_w3) + HOUR
    escrow = api_escrow(escrow_chain, alice, bob.address, ETH, expires_at=expires)
    # The wallet signed something else than the row says (3 ETH, another expiry): the chain is the truth.
    data = calldata(
        "createEth",
        bytes.fromhex(escrow.salt[2:]),
        bob.address,
        expires + 60,
        bytes.fromhex(escrow.memo_hash[2:]),
        True,
        ZERO,
    )
    created = send_call(anvil_w3, alice.signer.account, to=escrow_chain.address, data=data, value=3 * ETH)

    index()

    assert Escrow.objects.count() == 1
    escrow.refresh_from_db()
    assert (escrow.source, escrow.status, escrow.memo) == ("api", "pending", "for the bike")
    assert (int(escrow.amount_base), escrow.expires_at) == (3 * ETH, datetime.fromtimestamp(expires + 60, tz=UTC))
    create = escrow.actions.get()
    assert (create.kind, create.status, create.tx_hashes) == ("create", "done", [tx_hash(created)])

    accept = action_open(escrow, kind="accept", user=bob.user, signer=bob.address)
    cancelled = act(anvil_w3, escrow_chain, alice.signer.account, "cancel", escrow.onchain_id)
    index()

    escrow.refresh_from_db()
    assert (escrow.status, escrow.refunded_to_sender_base, escrow.paid_to_recipient_base) == (
        "cancelled",
        3 * ETH,
        None,
    )
    assert escrow.block_hash == cancelled["blockHash"].to_0x_hex()
    accept.refresh_from_db()
    assert (accept.status, accept.tx_hashes) == ("superseded", [])
    assert kinds(bob.user) == ["escrow_created", "escrow_cancelled"]


def test_a_dispute_and_its_resolution_are_projected_and_recorded(escrow_chain, anvil_w3, party):
    alice, bob = party(), party()
    onchain_id, _ = create_eth(
        anvil_w3, escrow_chain, alice.signer.account, bob.address, 4 * ETH, resolver=RESOLVER.address
    )
    index()
    escrow = Escrow.objects.get(onchain_id=onchain_id)
    assert escrow.resolver_address == RESOLVER.address
    dispute = action_open(escrow, kind="dispute", user=bob.user, signer=bob.address)
    disputed = act(anvil_w3, escrow_chain, bob.signer.account, "dispute", onchain_id)
    index()
    escrow.refresh_from_db()
    assert (escrow.status, escrow.disputed_by) == ("disputed", bob.address)
    dispute.refresh_from_db()
    assert (dispute.status, dispute.tx_hashes) == ("done", [tx_hash(disputed)])

    older = DisputeDecision.objects.create(
        escrow=escrow,
        resolver_address=RESOLVER.address,
        to_recipient_base=ETH,
        to_sender_base=3 * ETH,
        reason="first draft",
        transaction={},
    )
    decision = DisputeDecision.objects.create(
        escrow=escrow,
        resolver_address=RESOLVER.address,
        to_recipient_base=3 * ETH,
        to_sender_base=ETH,
        reason="The bike arrived with a flat tyre.",
        transaction={},
    )
    resolved = act(anvil_w3, escrow_chain, RESOLVER, "resolve", onchain_id, 3 * ETH)
    index()

    escrow.refresh_from_db()
    assert (escrow.status, escrow.paid_to_recipient_base, escrow.refunded_to_sender_base) == ("resolved", 3 * ETH, ETH)
    decision.refresh_from_db()
    older.refresh_from_db()
    assert (decision.tx_hash, older.tx_hash) == (tx_hash(resolved), "")
    assert kinds(alice.user) == ["escrow_created", "escrow_disputed", "escrow_resolved"]
    notice = Notification.objects.get(user=bob.user, kind="escrow_resolved")
    assert (notice.data["to_recipient"], notice.data["to_sender"], notice.data["status"]) == ("3", "1", "resolved")


def test_expiry_is_notified_once_chain_time_passes_and_the_settlement_indexed(
    escrow_chain, anvil_w3, party, time_travel
):
    alice, bob = party(), party()
    onchain_id, _ = create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, ETH, expires_in=2 * HOUR)
    index()
    assert indexer.escrows_expiry_notify() == 0

    time_travel(3 * HOUR)
    assert indexer.escrows_expiry_notify() == 0  # the indexer has not seen that chain time yet
    index()
    assert indexer.escrows_expiry_notify() == 1
    assert indexer.escrows_expiry_notify() == 0

    escrow = Escrow.objects.get(onchain_id=onchain_id)
    assert escrow.expiry_notified_at is not None
    for user in (alice.user, bob.user):
        notice = Notification.objects.get(user=user, kind="escrow_expiry_due")
        assert notice.data["refund_url"] == f"/api/payments/escrow/{escrow.pk}/refund"
        assert (notice.data["status"], notice.data["amount"], notice.data["asset"]) == ("expired", "1", "ETH")

    settled = act(anvil_w3, escrow_chain, bob.signer.account, "expire", onchain_id)
    index()
    escrow.refresh_from_db()
    assert (escrow.status, escrow.refunded_to_sender_base, escrow.paid_to_recipient_base) == ("expired", ETH, None)
    assert Notification.objects.get(user=alice.user, kind="escrow_expired").data["paid_to"] == alice.address
    assert Notification.objects.get(user=bob.user, kind="escrow_expired").data["tx_hash"] == tx_hash(settled)


def test_an_escrow_without_confirmation_is_released_to_the_recipient_on_expiry(
    escrow_chain, anvil_w3, party, time_travel
):
    alice, bob = party(), party()
    onchain_id, _ = create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, ETH, confirm=False)
    time_travel(2 * HOUR)
    act(anvil_w3, escrow_chain, alice.signer.account, "expire", onchain_id)
    index()
    escrow = Escrow.objects.get(onchain_id=onchain_id)
    assert (escrow.status, escrow.paid_to_recipient_base, escrow.refunded_to_sender_base) == ("expired", ETH, None)
    assert escrow.require_confirmation is False


def test_old_events_are_indexed_without_notifying(escrow_chain, anvil_w3, party, settings):
    settings.ESCROW_NOTIFY_MAX_AGE_SECONDS = 0
    alice, bob = party(), party()
    create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, ETH)
    time.sleep(1.5)  # the block's time is now in the past
    assert index().events == 1
    assert Notification.objects.filter(kind__startswith="escrow_").count() == 0


def _busy_chain(w3, deployment, alice, bob) -> list[str]:
    """Escrows spread over many blocks, moved on in later blocks."""
    ids = []
    for amount in (1, 2, 3, 4):
        onchain_id, _ = create_eth(w3, deployment, alice.signer.account, bob.address, amount * ETH)
        ids.append(onchain_id)
        w3.provider.make_request("anvil_mine", ["0x3"])
    act(w3, deployment, bob.signer.account, "accept", ids[0])
    act(w3, deployment, bob.signer.account, "reject", ids[1])
    w3.provider.make_request("anvil_mine", ["0x2"])
    act(w3, deployment, alice.signer.account, "cancel", ids[2])
    return ids


def test_small_batches_give_the_same_result_as_one(escrow_chain, anvil_w3, party, settings):
    alice, bob = party(), party()
    ids = _busy_chain(anvil_w3, escrow_chain, alice, bob)
    settings.ESCROW_INDEX_BATCH_BLOCKS = 2
    assert index().events == 7
    in_pairs = projection()
    assert [in_pairs[i][2] for i in ids] == ["accepted", "rejected", "cancelled", "pending"]
    for onchain_id in ids:  # the projection is what the contract holds
        onchain = escrow_read(_client(), contract=escrow_chain.address, onchain_id=onchain_id)
        assert in_pairs[onchain_id][2] == onchain.state

    with transaction.atomic():
        indexer.escrow_index_rewind(deployment=escrow_chain, block=escrow_chain.deployed_block - 1)
    assert (Escrow.objects.count(), EscrowEvent.objects.count(), IndexedBlock.objects.count()) == (0, 0, 0)
    settings.ESCROW_INDEX_BATCH_BLOCKS = 10_000
    assert index().events == 7
    assert projection() == in_pairs


def test_indexing_resumes_where_it_stopped_and_a_rerun_changes_nothing(escrow_chain, anvil_w3, party):
    alice, bob = party(), party()
    _busy_chain(anvil_w3, escrow_chain, alice, bob)
    head = anvil_w3.eth.block_number
    runs = []
    while not runs or runs[-1].to_block < head:
        runs.append(index(max_blocks=3))
    assert runs[0].from_block == escrow_chain.deployed_block
    for before, after in itertools.pairwise(runs):
        assert after.from_block == before.to_block + 1
    assert all(r.to_block - r.from_block + 1 <= 3 for r in runs)
    assert sum(r.events for r in runs) == 7
    assert EscrowEvent.objects.count() == 7
    state = (projection(), list(Escrow.objects.values_list("updated_at", flat=True).order_by("pk")))

    again = index()
    assert (again.events, again.from_block, again.to_block) == (0, head + 1, head)
    assert (projection(), list(Escrow.objects.values_list("updated_at", flat=True).order_by("pk"))) == state
    assert Notification.objects.filter(kind="escrow_created").count() == 4 * 2


# --- reorgs -----------------------------------------------------------------------------------------------------


def test_a_reorg_that_drops_an_accept_puts_the_escrow_back_to_pending(escrow_chain, anvil_w3, party, mine):
    alice, bob = party(), party()
    escrow, created = create_api_escrow_on_chain(anvil_w3, escrow_chain, alice, bob, ETH)
    index()
    before_accept = snapshot(anvil_w3)
    accept = action_open(escrow, kind="accept", user=bob.user, signer=bob.address)
    signed = bob.signer.account.sign_transaction(
        {
            "to": escrow_chain.address,
            "data": calldata("accept", id_bytes(escrow.onchain_id)),
            "gas": 200_000,
            "nonce": anvil_w3.eth.get_transaction_count(bob.address),
            "chainId": anvil_w3.eth.chain_id,
            "maxFeePerGas": 10 * 10**9,
            "maxPriorityFeePerGas": 1,
        }
    ).raw_transaction
    accepted = anvil_w3.eth.wait_for_transaction_receipt(anvil_w3.eth.send_raw_transaction(signed))
    EscrowAction.objects.filter(pk=accept.pk).update(tx_hashes=[tx_hash(accepted)])
    index()
    escrow.refresh_from_db()
    assert escrow.status == "accepted"

    revert(anvil_w3, before_accept)
    mine(3)  # other blocks at the accept's height and above
    result = index()

    assert result.rewound_to == created["blockNumber"]
    assert result.to_block == anvil_w3.eth.block_number
    escrow.refresh_from_db()
    assert (escrow.status, escrow.paid_to_recipient_base) == ("pending", None)
    assert (escrow.block_number, escrow.block_hash) == (created["blockNumber"], created["blockHash"].to_0x_hex())
    assert list(EscrowEvent.objects.values_list("name", flat=True)) == ["created"]
    accept.refresh_from_db()
    assert (accept.status, accept.tx_hashes) == ("submitted", [tx_hash(accepted)])
    assert escrow.actions.get(kind="create").status == "done"
    for user in (alice.user, bob.user):
        notice = Notification.objects.get(user=user, kind="escrow_reorged")
        assert (notice.data["escrow_id"], notice.data["status"]) == (str(escrow.pk), "pending")
    escrow_chain.refresh_from_db()
    assert escrow_chain.indexed_block_hash == anvil_w3.eth.get_block("latest")["hash"].to_0x_hex()

    # The same signed accept lands again on the new chain (as a node re-includes it): done again, once.
    again = anvil_w3.eth.wait_for_transaction_receipt(anvil_w3.eth.send_raw_transaction(signed))
    assert tx_hash(again) == tx_hash(accepted)
    index()
    accept.refresh_from_db()
    assert (accept.status, accept.tx_hashes) == ("done", [tx_hash(accepted)])
    escrow.refresh_from_db()
    assert (escrow.status, escrow.block_number) == ("accepted", again["blockNumber"])


def test_a_reorg_of_the_created_event_returns_an_api_row_to_awaiting_signature(escrow_chain, anvil_w3, party, mine):
    alice, bob = party(), party()
    before = snapshot(anvil_w3)
    escrow, created = create_api_escrow_on_chain(anvil_w3, escrow_chain, alice, bob, ETH)
    index()
    revert(anvil_w3, before)
    mine(2)
    assert index().rewound_to == escrow_chain.deployed_block - 1  # no stored block survived: from the start

    escrow.refresh_from_db()
    assert (escrow.status, escrow.block_number, escrow.block_hash) == ("awaiting_signature", None, "")
    create = escrow.actions.get()
    assert (create.status, create.tx_hashes) == ("submitted", [tx_hash(created)])


def test_a_deep_reorg_past_several_batches(escrow_chain, anvil_w3, party, mine, settings):
    settings.ESCROW_INDEX_BATCH_BLOCKS = 2
    alice, bob = party(), party()
    first_id, first = create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, ETH)
    index()
    fork = snapshot(anvil_w3)
    dropped = []
    for _ in range(3):
        mine(2)
        dropped.append(create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, ETH)[0])
    act(anvil_w3, escrow_chain, bob.signer.account, "accept", first_id)
    runs = index()
    assert runs.events == 4
    assert Escrow.objects.count() == 4

    revert(anvil_w3, fork)
    # The new chain differs from the very next block (empty blocks in the same second would be the same blocks).
    replacement, _ = create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, 2 * ETH)
    mine(13)  # and is longer than the old one
    result = index()

    assert result.rewound_to == first["blockNumber"]
    assert result.events == 1
    assert set(Escrow.objects.values_list("onchain_id", flat=True)) == {first_id, replacement}
    assert Escrow.objects.get(onchain_id=first_id).status == "pending"
    assert not Escrow.objects.filter(onchain_id__in=dropped).exists()  # found on chain, gone with it
    for number, known in IndexedBlock.objects.values_list("number", "hash"):
        assert anvil_w3.eth.get_block(number)["hash"].to_0x_hex() == known
    removed = Notification.objects.filter(user=alice.user, kind="escrow_reorged", data__status="removed")
    assert removed.count() == 3


def test_a_new_contract_forgets_everything_indexed_from_the_old_one(escrow_chain, anvil_w3, party):
    alice, bob = party(), party()
    found_id, _ = create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, ETH)
    api_row, _ = create_api_escrow_on_chain(anvil_w3, escrow_chain, alice, bob, ETH)
    index()
    assert Escrow.objects.count() == 2
    operator = Account.create()
    anvil_w3.provider.make_request("anvil_setBalance", [operator.address, hex(10 * ETH)])
    tx = {
        "data": escrow_artifact()["bytecode"],
        "gas": 3_000_000,
        "nonce": 0,
        "chainId": anvil_w3.eth.chain_id,
        "maxFeePerGas": anvil_w3.eth.gas_price * 2 + 1,
        "maxPriorityFeePerGas": 1,
    }
    raw = operator.sign_transaction(tx).raw_transaction
    receipt = anvil_w3.eth.wait_for_transaction_receipt(anvil_w3.eth.send_raw_transaction(raw))

    deploy.escrow_register(
        network="local", address=receipt["contractAddress"], block=receipt["blockNumber"], force=True
    )

    assert not Escrow.objects.filter(onchain_id=found_id).exists()
    api_row.refresh_from_db()
    assert (api_row.status, api_row.block_number) == ("awaiting_signature", None)
    assert (EscrowEvent.objects.count(), IndexedBlock.objects.count()) == (0, 0)
    escrow_chain.refresh_from_db()
    assert (escrow_chain.indexed_block, escrow_chain.indexed_block_hash) == (receipt["blockNumber"] - 1, "")
    assert index().events == 0  # the old contract's events are not the new one's


# --- triggers: head hook, chain tracker, worker, beat ----------------------------------------------------------


def test_the_chain_tracker_runs_the_indexer_on_new_heads(escrow_chain, anvil_w3, party):
    alice, bob = party(), party()
    onchain_id, _ = create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, ETH)

    def broken(network: str) -> None:
        raise RuntimeError("another app's hook failed")

    heads._head_hooks.insert(0, broken)
    try:
        heads.head_hooks_run("local")  # what each follower does on a new head
    finally:
        heads._head_hooks.remove(broken)
    assert Escrow.objects.get(onchain_id=onchain_id).status == "pending"

    act(anvil_w3, escrow_chain, bob.signer.account, "accept", onchain_id)
    call_command("chain_tracker", "--once")
    assert Escrow.objects.get(onchain_id=onchain_id).status == "accepted"


def test_the_head_hook_ignores_networks_without_a_deployment(local_chain):
    heads.head_hooks_run("local")  # nothing deployed: nothing to do, nothing raised
    assert not EscrowDeployment.objects.exists()


def test_beat_schedules_the_escrow_tasks():
    app.loader.import_default_modules()
    index_entry = settings.CELERY_BEAT_SCHEDULE["escrow-index"]
    expiry_entry = settings.CELERY_BEAT_SCHEDULE["escrow-expiry-notify"]
    assert (index_entry["task"], index_entry["schedule"]) == ("escrow.index", settings.ESCROW_INDEX_EVERY_SECONDS)
    assert (expiry_entry["task"], expiry_entry["schedule"]) == ("escrow.expiry_notify", 60)
    assert {"escrow.index", "escrow.expiry_notify"} <= set(app.tasks)


@pytest.mark.django_db(transaction=True)
def test_the_worker_indexes_and_notifies_expiry(escrow_chain, anvil_w3, party, celery_worker, time_travel):
    app.control.purge()
    alice, bob = party(), party()
    onchain_id, _ = create_eth(anvil_w3, escrow_chain, alice.signer.account, bob.address, ETH)
    tasks.escrow_index.delay(network="local")
    _wait(lambda: Escrow.objects.filter(onchain_id=onchain_id, status="pending").exists(), "the indexed escrow")

    time_travel(2 * HOUR)
    tasks.escrow_index.delay()  # every deployment, as beat sends it
    _wait(lambda: EscrowDeployment.objects.get().head_timestamp.timestamp() >= chain_time(anvil_w3), "chain time")
    tasks.escrows_expiry_notify.delay()
    _wait(lambda: Notification.objects.filter(kind="escrow_expiry_due").count() == 2, "expiry notices")


def _wait(check, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout}s")


@pytest.mark.django_db(transaction=True)
def test_a_second_run_finds_the_deployment_busy_and_returns(escrow_chain):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks: runs are serialised by its database lock instead")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                EscrowDeployment.objects.select_for_update().get(pk=escrow_chain.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        result = index()
    finally:
        release.set()
        holder.join(10)
    assert result.busy is True
    assert (result.events, EscrowEvent.objects.count()) == (0, 0)
