"""EngiPayEscrow itself, on the session's anvil, through real transactions signed with eth-account: every legal
transition (balances, decoded events, the state ``getEscrow`` returns) and every illegal one (the exact custom
error and its arguments, decoded from the revert data of the mined transaction replayed with ``eth_call``).
Hostile counterparts are the contracts of ``contracts/testing``: a token that returns nothing, a token that
takes a fee, tokens that blacklist an address (by reverting, or by returning false), a recipient that re-enters
and one that refuses ETH. A payout its receiver cannot take does not block the escrow: it is deferred (kept in
``owed``) until the receiver withdraws it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from apps.chains import devchain
from apps.chains.clients import client_for
from apps.chains.solidity import artifact
from apps.escrow.chain import (
    ESCROW_CONTRACTS,
    EVENT_NAMES,
    STATES,
    DecodedEvent,
    OnchainEscrow,
    approve_data,
    calldata,
    decode_log,
    escrow_artifact,
    escrow_id,
    escrow_read,
    id_bytes,
    memo_hash,
)

from .conftest import RESOLVER, send_call

TESTING = ESCROW_CONTRACTS / "artifacts" / "testing"
TESTING_CONTRACTS = (
    "NoReturnToken",
    "FalseReturnToken",
    "FeeOnTransferToken",
    "ReentrantRecipient",
    "RefusingRecipient",
)
ETH = 10**18
DAY = 86_400
DISPUTE_TIMEOUT = 30 * DAY
MAX_DURATION = 366 * DAY
ZERO = "0x0000000000000000000000000000000000000000"
GAS = 600_000
BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")
ALLOWANCE = function_signature_to_4byte_selector("allowance(address,address)")
BLACKLIST = function_signature_to_4byte_selector("blacklist(address)")  # the testing tokens'
GET_ESCROW = function_signature_to_4byte_selector("getEscrow(bytes32)")
ESCROW_TUPLE = "(address,uint64,uint8,bool,address,address,address,uint256,bytes32)"
# ReentrantRecipient's enums.
OFF, BUBBLE, SWALLOW = 0, 1, 2
ACCEPT, REJECT, CANCEL, DISPUTE, EXPIRE = 0, 1, 2, 3, 4


def state(name: str) -> int:
    """The contract's State enum value of a state name (as InvalidState carries it)."""
    return STATES.index(name)


# --- revert data -------------------------------------------------------------------------------------------


@cache
def _errors() -> dict[bytes, tuple[str, list[str]]]:
    """selector → (error name, argument types), from the escrow's ABI and the testing contracts'."""
    abis = [escrow_artifact()["abi"], *(artifact(name, TESTING)["abi"] for name in TESTING_CONTRACTS)]
    found = {}
    for abi in abis:
        for entry in abi:
            if entry["type"] == "error":
                types = [i["type"] for i in entry["inputs"]]
                found[function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")] = (
                    entry["name"],
                    types,
                )
    return found


def _plain(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if kind == "bytes32":
        return "0x" + value.hex()
    return value


def decode_error(data: bytes) -> tuple[str, tuple[Any, ...]]:
    """Revert data → (custom error name, its arguments: addresses checksummed, bytes32 as 0x hex)."""
    assert len(data) >= 4, f"no custom error in revert data 0x{data.hex()}"
    name, types = _errors()[data[:4]]
    values = decode(types, data[4:]) if types else ()
    return name, tuple(_plain(kind, value) for kind, value in zip(types, values, strict=True))


# --- events ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payout:
    """An escrow event about a receiver's balance, not about one escrow: PaymentDeferred or Withdrawn (by its
    name in the contract). ``decode_log`` (the indexer's) leaves these out: they carry no escrow id."""

    name: str
    args: dict[str, Any]  # addresses checksummed


def deferred(to: str, token: str, amount: int) -> Payout:
    return Payout("PaymentDeferred", {"to": to, "token": to_checksum_address(token), "amount": amount})


def withdrawn(owner: str, token: str, to: str, amount: int) -> Payout:
    return Payout("Withdrawn", {"owner": owner, "token": to_checksum_address(token), "to": to, "amount": amount})


@cache
def _payout_events() -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """topic0 (0x hex) → (name, inputs) of every escrow event that is not about one escrow."""
    found = {}
    for entry in escrow_artifact()["abi"]:
        if entry["type"] == "event" and entry["name"] not in EVENT_NAMES:
            signature = f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"
            found["0x" + keccak(text=signature).hex()] = (entry["name"], entry["inputs"])
    return found


def decode_event(topics: list[str], data: str) -> DecodedEvent | Payout:
    """One log of the escrow: an escrow's event as the indexer decodes it, or a Payout (fails on anything else)."""
    event = decode_log(topics, data)
    if event is not None:
        return event
    name, inputs = _payout_events()[topics[0]]
    indexed = iter(topics[1:])
    values = iter(decode([i["type"] for i in inputs if not i["indexed"]], bytes.fromhex(data[2:])))
    args = {}
    for entry in inputs:
        value = decode([entry["type"]], bytes.fromhex(next(indexed)[2:]))[0] if entry["indexed"] else next(values)
        args[entry["name"]] = _plain(entry["type"], value)
    return Payout(name, args)


# --- the deployed contract and its parties -----------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    receipt: dict[str, Any]
    events: list[DecodedEvent | Payout]  # the escrow's own events, in order

    @property
    def fee(self) -> int:
        """What the transaction's gas cost its sender, in wei."""
        return self.receipt["gasUsed"] * self.receipt["effectiveGasPrice"]


@dataclass(frozen=True)
class Created:
    id: str  # 0x hex
    expires_at: int
    amount: int
    sent: Sent


@dataclass
class Escrow:
    """The EngiPayEscrow deployed by ``manage.py escrow_deploy``, driven with signed transactions."""

    w3: Any
    address: str

    # chain reads
    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def read(self, onchain_id: str) -> OnchainEscrow:
        return escrow_read(client_for("local"), contract=self.address, onchain_id=onchain_id)

    def view(self, function: str, *args: Any, types: list[str]) -> Any:
        raw = self.w3.eth.call({"to": self.address, "data": calldata(function, *args)})
        return decode(types, raw)[0]

    def eth(self, address: str) -> int:
        return self.w3.eth.get_balance(to_checksum_address(address))

    def tokens(self, token: str, address: str) -> int:
        raw = self.w3.eth.call({"to": token, "data": BALANCE_OF + encode(["address"], [address])})
        return decode(["uint256"], raw)[0]

    def balance(self, token: str, address: str) -> int:
        """``address``'s balance of ``token``, the zero address meaning ETH."""
        return self.eth(address) if token == ZERO else self.tokens(token, address)

    def owed(self, owner: str, token: str) -> int:
        """What the escrow keeps for ``owner`` of ``token`` (payouts it could not take)."""
        return self.view("owed", owner, token, types=["uint256"])

    def allowance(self, token: str, owner: str) -> int:
        raw = self.w3.eth.call({"to": token, "data": ALLOWANCE + encode(["address", "address"], [owner, self.address])})
        return decode(["uint256"], raw)[0]

    def at_next_block(self, timestamp: int) -> None:
        """The next mined block (the next transaction's) has exactly this timestamp."""
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])

    # transactions
    def send_to(self, account: Any, to: str, data: bytes, *, value: int = 0) -> Sent:
        receipt = send_call(self.w3, account, to=to, data=data, value=value, gas=GAS)
        assert receipt["status"] == 1, f"reverted: {decode_error(self._replay(account, to, data, value, receipt))}"
        logs = [log for log in receipt["logs"] if log["address"].lower() == self.address.lower()]
        events = [
            decode_event(["0x" + bytes(t).hex() for t in log["topics"]], "0x" + bytes(log["data"]).hex())
            for log in logs
        ]
        return Sent(receipt, events)

    def send(self, account: Any, function: str, *args: Any, value: int = 0) -> Sent:
        return self.send_to(account, self.address, calldata(function, *args), value=value)

    def refused_to(self, account: Any, to: str, data: bytes, *, value: int = 0) -> tuple[str, tuple[Any, ...]]:
        """Send the transaction (it must revert when mined), then replay it from the same sender on the state and
        time of its block to read the revert data: the custom error's name and arguments."""
        receipt = send_call(self.w3, account, to=to, data=data, value=value, gas=GAS)
        assert receipt["status"] == 0, "the transaction did not revert"
        return decode_error(self._replay(account, to, data, value, receipt))

    def refused(self, account: Any, function: str, *args: Any, value: int = 0) -> tuple[str, tuple[Any, ...]]:
        return self.refused_to(account, self.address, calldata(function, *args), value=value)

    def _replay(self, account: Any, to: str, data: bytes, value: int, receipt: dict[str, Any]) -> bytes:
        call = {"from": account.address, "to": to, "data": "0x" + data.hex(), "value": hex(value), "gas": hex(GAS)}
        response = self.w3.provider.make_request("eth_call", [call, hex(receipt["blockNumber"])])
        assert "error" in response, f"the replay did not revert: {response}"
        raw = response["error"].get("data") or "0x"
        return bytes.fromhex((raw["data"] if isinstance(raw, dict) else raw).removeprefix("0x"))

    # creating escrows
    def create_eth(
        self,
        sender: Any,
        recipient: str,
        amount: int = ETH,
        *,
        expires_in: int = DAY,
        confirm: bool = True,
        resolver: str = ZERO,
        memo: str = "invoice 42",
        salt: bytes | None = None,
    ) -> Created:
        salt = salt or os.urandom(32)
        expires_at = self.now() + expires_in
        args = (salt, recipient, expires_at, id_bytes(memo_hash(memo)), confirm, resolver)
        sent = self.send(sender, "createEth", *args, value=amount)
        return Created(escrow_id(sender.address, salt), expires_at, amount, sent)

    def create_token(
        self,
        sender: Any,
        recipient: str,
        token: str,
        amount: int,
        *,
        expires_in: int = DAY,
        confirm: bool = True,
        resolver: str = ZERO,
        memo: str = "invoice 42",
        salt: bytes | None = None,
    ) -> Created:
        self.send_to(sender, token, approve_data(self.address, amount))
        salt = salt or os.urandom(32)
        expires_at = self.now() + expires_in
        args = (salt, recipient, token, amount, expires_at, id_bytes(memo_hash(memo)), confirm, resolver)
        sent = self.send(sender, "createToken", *args)
        return Created(escrow_id(sender.address, salt), expires_at, amount, sent)


@dataclass(frozen=True)
class Parties:
    sender: Any
    recipient: Any
    stranger: Any
    resolver: Any


@pytest.fixture
def escrow(escrow_chain, anvil_w3) -> Escrow:
    return Escrow(anvil_w3, to_checksum_address(escrow_chain.address))


@pytest.fixture
def fund(anvil_w3):
    def new_account(balance: int = 100 * ETH) -> Any:
        account = Account.create()
        anvil_w3.provider.make_request("anvil_setBalance", [account.address, hex(balance)])
        return account

    return new_account


@pytest.fixture
def parties(fund) -> Parties:
    return Parties(sender=fund(), recipient=fund(), stranger=fund(), resolver=RESOLVER)


def deploy_testing(w3: Any, name: str, args: list[Any]) -> str:
    """Deploy one of the escrow's testing contracts (artifacts/testing) with dev account 0."""
    compiled = artifact(name, TESTING)
    data = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"]).constructor(*args).data_in_transaction
    receipt = devchain.send(w3, devchain.dev_account(0), {"data": data, "gas": 3_000_000})
    return receipt["contractAddress"]


def contract_at(w3: Any, name: str, address: str) -> Any:
    return w3.eth.contract(address=to_checksum_address(address), abi=artifact(name, TESTING)["abi"])


@pytest.fixture
def make_token(deploy_token, anvil_w3):
    """``make_token(kind, holder, amount)``: "demo" (OpenZeppelin ERC-20), "no_return" (USDT-style, its blacklist
    reverts), "false_return" (its blacklist makes transfer return false) or "fee" (1% fee on transfer), with
    ``amount`` held by ``holder``."""

    def make(kind: str, holder: str, amount: int) -> str:
        if kind == "demo":
            return deploy_token("DEMO", 18, {holder: amount}, register=False)
        name = {"no_return": "NoReturnToken", "false_return": "FalseReturnToken", "fee": "FeeOnTransferToken"}[kind]
        return deploy_testing(anvil_w3, name, [holder, amount])

    return make


def one(sent: Sent) -> DecodedEvent:
    assert len(sent.events) == 1, sent.events
    return sent.events[0]


# (account, contract called, calldata) of the transaction by which an owed party withdraws to a given address.
Withdrawal = Callable[[str], tuple[Any, str, bytes]]


def withdraws_exactly_once(
    escrow: Escrow, owner: str, token: str, amount: int, withdrawal: Withdrawal, stranger: Any
) -> None:
    """``owner`` is owed exactly ``amount`` of ``token``, which the contract holds; its withdrawal to a fresh
    address pays exactly that there and clears the debt; a second withdrawal and a stranger's find nothing owed."""
    token = to_checksum_address(token)
    assert escrow.owed(owner, token) == amount
    held = escrow.balance(token, escrow.address)
    assert held >= amount
    to = Account.create().address
    sent = escrow.send_to(*withdrawal(to))
    assert sent.events == [withdrawn(owner, token, to, amount)]
    assert escrow.balance(token, to) == amount
    assert escrow.balance(token, escrow.address) == held - amount
    assert escrow.owed(owner, token) == 0
    assert escrow.refused_to(*withdrawal(to)) == ("NothingOwed", (owner, token))
    assert escrow.refused(stranger, "withdraw", token, to) == ("NothingOwed", (stranger.address, token))
    assert escrow.balance(token, to) == amount


# --- constants and ids -------------------------------------------------------------------------------------


def test_the_dispute_timeout_is_thirty_days_and_the_longest_escrow_366_days(escrow):
    assert escrow.view("DISPUTE_TIMEOUT", types=["uint256"]) == DISPUTE_TIMEOUT
    assert escrow.view("MAX_DURATION", types=["uint256"]) == MAX_DURATION


def test_the_escrow_id_is_the_hash_of_sender_and_salt_as_python_derives_it(escrow, parties):
    for _ in range(3):
        sender, salt = Account.create().address, os.urandom(32)
        assert "0x" + escrow.view("escrowId", sender, salt, types=["bytes32"]).hex() == escrow_id(sender, salt)
    salt = os.urandom(32)
    expected = escrow_id(parties.sender.address, salt)
    args = (salt, parties.recipient.address, escrow.now() + DAY, b"\0" * 32, True, ZERO)
    returned = escrow.w3.eth.call(
        {"from": parties.sender.address, "to": escrow.address, "data": calldata("createEth", *args), "value": ETH}
    )
    assert "0x" + decode(["bytes32"], returned)[0].hex() == expected
    created = escrow.create_eth(parties.sender, parties.recipient.address, salt=salt)
    assert created.id == expected == one(created.sent).onchain_id


def test_plain_eth_sent_to_the_contract_is_refused(escrow, parties):
    receipt = send_call(escrow.w3, parties.sender, to=escrow.address, data=b"", value=ETH)
    assert receipt["status"] == 0
    assert escrow.eth(escrow.address) == 0


# --- creating ----------------------------------------------------------------------------------------------


def test_create_eth_locks_the_value_and_records_the_escrow(escrow, parties):
    before = escrow.eth(parties.sender.address)
    created = escrow.create_eth(
        parties.sender, parties.recipient.address, 3 * ETH, confirm=False, resolver=RESOLVER.address, memo="m"
    )
    event = one(created.sent)
    assert event.name == "created"
    assert event.onchain_id == created.id
    assert event.args == {
        "sender": parties.sender.address,
        "recipient": parties.recipient.address,
        "token": ZERO,
        "amount": 3 * ETH,
        "expiresAt": created.expires_at,
        "memoHash": memo_hash("m"),
        "requireConfirmation": False,
        "resolver": RESOLVER.address,
    }
    assert escrow.read(created.id) == OnchainEscrow(
        state="pending",
        sender=parties.sender.address,
        recipient=parties.recipient.address,
        token=ZERO,
        resolver=RESOLVER.address,
        amount=3 * ETH,
        expires_at=created.expires_at,
        memo_hash=memo_hash("m"),
        require_confirmation=False,
    )
    assert escrow.eth(escrow.address) == 3 * ETH
    assert escrow.eth(parties.sender.address) == before - 3 * ETH - created.sent.fee


@pytest.mark.parametrize("kind", ["demo", "no_return"])
def test_create_token_pulls_exactly_the_approved_amount(escrow, parties, make_token, kind):
    token = make_token(kind, parties.sender.address, 1_000)
    created = escrow.create_token(parties.sender, parties.recipient.address, token, 600)
    event = one(created.sent)
    assert (event.name, event.onchain_id) == ("created", created.id)
    assert event.args["token"] == to_checksum_address(token)
    assert event.args["amount"] == 600
    onchain = escrow.read(created.id)
    assert (onchain.state, onchain.token, onchain.amount) == ("pending", to_checksum_address(token), 600)
    assert escrow.tokens(token, escrow.address) == 600
    assert escrow.tokens(token, parties.sender.address) == 400
    assert escrow.allowance(token, parties.sender.address) == 0
    assert escrow.eth(escrow.address) == 0


# --- legal transitions (ETH) -------------------------------------------------------------------------------


def test_accept_by_the_recipient_pays_the_recipient(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address, 2 * ETH)
    before = escrow.eth(parties.recipient.address)
    sent = escrow.send(parties.recipient, "accept", id_bytes(created.id))
    event = one(sent)
    assert (event.name, event.onchain_id) == ("accepted", created.id)
    assert event.args == {"recipient": parties.recipient.address, "amount": 2 * ETH}
    assert escrow.eth(parties.recipient.address) == before + 2 * ETH - sent.fee
    assert escrow.eth(escrow.address) == 0
    assert escrow.read(created.id).state == "accepted"


def test_reject_by_the_recipient_refunds_the_sender(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address, 2 * ETH)
    before = escrow.eth(parties.sender.address)
    event = one(escrow.send(parties.recipient, "reject", id_bytes(created.id)))
    assert (event.name, event.onchain_id) == ("rejected", created.id)
    assert event.args == {"sender": parties.sender.address, "amount": 2 * ETH}
    assert escrow.eth(parties.sender.address) == before + 2 * ETH
    assert escrow.eth(escrow.address) == 0
    assert escrow.read(created.id).state == "rejected"


def test_cancel_by_the_sender_refunds_the_sender(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address, 2 * ETH)
    before = escrow.eth(parties.sender.address)
    sent = escrow.send(parties.sender, "cancel", id_bytes(created.id))
    event = one(sent)
    assert (event.name, event.onchain_id) == ("cancelled", created.id)
    assert event.args == {"sender": parties.sender.address, "amount": 2 * ETH}
    assert escrow.eth(parties.sender.address) == before + 2 * ETH - sent.fee
    assert escrow.eth(escrow.address) == 0
    assert escrow.read(created.id).state == "cancelled"


@pytest.mark.parametrize("by", ["sender", "recipient"])
def test_either_party_may_dispute_and_nothing_moves(escrow, parties, by):
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH, resolver=RESOLVER.address)
    account = getattr(parties, by)
    event = one(escrow.send(account, "dispute", id_bytes(created.id)))
    assert (event.name, event.onchain_id, event.args) == ("disputed", created.id, {"by": account.address})
    assert escrow.read(created.id).state == "disputed"
    assert escrow.eth(escrow.address) == ETH


@pytest.mark.parametrize(
    ("to_recipient", "to_sender"), [(0, 5 * ETH), (3 * ETH, 2 * ETH), (5 * ETH, 0)], ids=["none", "partial", "all"]
)
def test_the_resolver_splits_a_disputed_escrow(escrow, parties, to_recipient, to_sender):
    created = escrow.create_eth(parties.sender, parties.recipient.address, 5 * ETH, resolver=RESOLVER.address)
    escrow.send(parties.recipient, "dispute", id_bytes(created.id))
    sender_before, recipient_before = escrow.eth(parties.sender.address), escrow.eth(parties.recipient.address)
    event = one(escrow.send(RESOLVER, "resolve", id_bytes(created.id), to_recipient))
    assert (event.name, event.onchain_id) == ("resolved", created.id)
    assert event.args == {"toRecipient": to_recipient, "toSender": to_sender}
    assert escrow.eth(parties.recipient.address) == recipient_before + to_recipient
    assert escrow.eth(parties.sender.address) == sender_before + to_sender
    assert escrow.eth(escrow.address) == 0
    assert escrow.read(created.id).state == "resolved"


@pytest.mark.parametrize(("confirm", "paid"), [(True, "sender"), (False, "recipient")])
def test_anyone_may_expire_an_escrow_at_its_expiry(escrow, parties, confirm, paid):
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH, confirm=confirm)
    payee = getattr(parties, paid).address
    before = escrow.eth(payee)
    escrow.at_next_block(created.expires_at)  # the first second it is expired
    event = one(escrow.send(parties.stranger, "expire", id_bytes(created.id)))
    assert (event.name, event.onchain_id) == ("expired", created.id)
    assert event.args == {"paidTo": payee, "amount": ETH}
    assert escrow.eth(payee) == before + ETH
    assert escrow.eth(escrow.address) == 0
    assert escrow.read(created.id).state == "expired"


def test_a_disputed_escrow_expires_to_the_sender_only_after_the_dispute_timeout(escrow, parties, time_travel):
    created = escrow.create_eth(
        parties.sender, parties.recipient.address, ETH, confirm=False, resolver=RESOLVER.address
    )
    escrow.send(parties.recipient, "dispute", id_bytes(created.id))
    time_travel(DAY + 60)
    deadline = created.expires_at + DISPUTE_TIMEOUT  # the error names it, not the escrow's expiry
    assert escrow.refused(parties.stranger, "expire", id_bytes(created.id)) == (
        "EscrowNotExpired",
        (created.id, deadline),
    )
    escrow.at_next_block(deadline - 1)
    assert escrow.refused(parties.stranger, "expire", id_bytes(created.id)) == (
        "EscrowNotExpired",
        (created.id, deadline),
    )
    assert escrow.read(created.id).state == "disputed"
    escrow.at_next_block(created.expires_at + DISPUTE_TIMEOUT)
    before = escrow.eth(parties.sender.address)
    event = one(escrow.send(parties.stranger, "expire", id_bytes(created.id)))
    # Refunded although the sender did not require confirmation: the resolver did not decide.
    assert event.args == {"paidTo": parties.sender.address, "amount": ETH}
    assert escrow.eth(parties.sender.address) == before + ETH
    assert escrow.read(created.id).state == "expired"


def test_the_resolver_may_still_decide_after_expiry_until_someone_expires_the_dispute(escrow, parties, time_travel):
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH, resolver=RESOLVER.address)
    escrow.send(parties.sender, "dispute", id_bytes(created.id))
    time_travel(DAY + DISPUTE_TIMEOUT + 60)
    event = one(escrow.send(RESOLVER, "resolve", id_bytes(created.id), ETH))
    assert event.args == {"toRecipient": ETH, "toSender": 0}
    assert escrow.read(created.id).state == "resolved"


# --- legal transitions (tokens) ----------------------------------------------------------------------------


def settle(escrow: Escrow, parties: Parties, created: Created, outcome: str) -> str:
    """Bring a pending escrow (with the platform resolver) to its end by ``outcome``; returns the final state."""
    onchain_id = id_bytes(created.id)
    if outcome == "accept":
        escrow.send(parties.recipient, "accept", onchain_id)
        return "accepted"
    if outcome == "reject":
        escrow.send(parties.recipient, "reject", onchain_id)
        return "rejected"
    if outcome == "cancel":
        escrow.send(parties.sender, "cancel", onchain_id)
        return "cancelled"
    if outcome == "expire":
        escrow.at_next_block(max(created.expires_at, escrow.now() + 1))
        escrow.send(parties.stranger, "expire", onchain_id)
        return "expired"
    assert outcome == "resolve"
    escrow.send(parties.sender, "dispute", onchain_id)
    escrow.send(RESOLVER, "resolve", onchain_id, created.amount // 4)
    return "resolved"


@pytest.mark.parametrize("kind", ["demo", "no_return"])
@pytest.mark.parametrize(
    ("outcome", "to_recipient"), [("accept", 800), ("reject", 0), ("cancel", 0), ("expire", 0), ("resolve", 200)]
)
def test_token_escrows_pay_out_exactly_once(escrow, parties, make_token, kind, outcome, to_recipient):
    token = make_token(kind, parties.sender.address, 1_000)
    created = escrow.create_token(parties.sender, parties.recipient.address, token, 800, resolver=RESOLVER.address)
    final = settle(escrow, parties, created, outcome)
    assert escrow.read(created.id).state == final
    assert escrow.tokens(token, parties.recipient.address) == to_recipient
    assert escrow.tokens(token, parties.sender.address) == 1_000 - to_recipient
    assert escrow.tokens(token, escrow.address) == 0


# --- who may act -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["accept", "reject"])
@pytest.mark.parametrize("caller", ["sender", "stranger", "resolver"])
def test_accept_or_reject_by_anyone_but_the_recipient_is_refused(escrow, parties, function, caller):
    created = escrow.create_eth(parties.sender, parties.recipient.address, resolver=RESOLVER.address)
    account = getattr(parties, caller)
    assert escrow.refused(account, function, id_bytes(created.id)) == ("NotRecipient", (created.id, account.address))
    assert escrow.read(created.id).state == "pending"
    assert escrow.eth(escrow.address) == ETH


@pytest.mark.parametrize("caller", ["recipient", "stranger", "resolver"])
def test_cancel_by_anyone_but_the_sender_is_refused(escrow, parties, caller):
    created = escrow.create_eth(parties.sender, parties.recipient.address, resolver=RESOLVER.address)
    account = getattr(parties, caller)
    assert escrow.refused(account, "cancel", id_bytes(created.id)) == ("NotSender", (created.id, account.address))
    assert escrow.read(created.id).state == "pending"


@pytest.mark.parametrize("caller", ["stranger", "resolver"])
def test_dispute_by_anyone_but_a_party_is_refused(escrow, parties, caller):
    created = escrow.create_eth(parties.sender, parties.recipient.address, resolver=RESOLVER.address)
    account = getattr(parties, caller)
    assert escrow.refused(account, "dispute", id_bytes(created.id)) == ("NotParty", (created.id, account.address))
    assert escrow.read(created.id).state == "pending"


@pytest.mark.parametrize("caller", ["sender", "recipient", "stranger"])
def test_resolve_by_anyone_but_the_resolver_is_refused(escrow, parties, caller):
    created = escrow.create_eth(parties.sender, parties.recipient.address, resolver=RESOLVER.address)
    escrow.send(parties.sender, "dispute", id_bytes(created.id))
    account = getattr(parties, caller)
    assert escrow.refused(account, "resolve", id_bytes(created.id), 0) == (
        "NotResolver",
        (created.id, account.address),
    )
    assert escrow.read(created.id).state == "disputed"
    assert escrow.eth(escrow.address) == ETH


def test_dispute_without_a_resolver_is_refused(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address)
    assert escrow.refused(parties.recipient, "dispute", id_bytes(created.id)) == ("NoResolver", (created.id,))


def test_a_split_above_the_amount_is_refused(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH, resolver=RESOLVER.address)
    escrow.send(parties.recipient, "dispute", id_bytes(created.id))
    assert escrow.refused(RESOLVER, "resolve", id_bytes(created.id), ETH + 1) == ("InvalidSplit", (ETH + 1, ETH))
    assert escrow.read(created.id).state == "disputed"


# --- wrong state -------------------------------------------------------------------------------------------

# (function, who calls it, extra arguments): each by its rightful caller, so that only the state is wrong.
ACTIONS = [
    ("accept", "recipient", ()),
    ("reject", "recipient", ()),
    ("cancel", "sender", ()),
    ("dispute", "sender", ()),
    ("expire", "stranger", ()),
    ("resolve", "resolver", (0,)),
]


@pytest.mark.parametrize("outcome", ["accept", "reject", "cancel", "expire", "resolve"])
def test_nothing_more_happens_to_a_settled_escrow(escrow, parties, outcome):
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH, resolver=RESOLVER.address)
    final = settle(escrow, parties, created, outcome)
    for function, caller, extra in ACTIONS:
        refusal = escrow.refused(getattr(parties, caller), function, id_bytes(created.id), *extra)
        assert refusal == ("InvalidState", (created.id, state(final))), function
    assert escrow.read(created.id).state == final
    assert escrow.eth(escrow.address) == 0


def test_accept_after_cancel_is_refused(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address)
    escrow.send(parties.sender, "cancel", id_bytes(created.id))
    assert escrow.refused(parties.recipient, "accept", id_bytes(created.id)) == (
        "InvalidState",
        (created.id, state("cancelled")),
    )


def test_a_disputed_escrow_is_frozen_for_the_parties(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH, resolver=RESOLVER.address)
    escrow.send(parties.recipient, "dispute", id_bytes(created.id))
    for function, caller, extra in ACTIONS[:4]:
        refusal = escrow.refused(getattr(parties, caller), function, id_bytes(created.id), *extra)
        assert refusal == ("InvalidState", (created.id, state("disputed"))), function
    assert escrow.refused(parties.stranger, "expire", id_bytes(created.id)) == (
        "EscrowNotExpired",
        (created.id, created.expires_at + DISPUTE_TIMEOUT),
    )
    assert escrow.eth(escrow.address) == ETH


def test_resolve_of_an_undisputed_escrow_is_refused(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address, resolver=RESOLVER.address)
    assert escrow.refused(RESOLVER, "resolve", id_bytes(created.id), 0) == (
        "InvalidState",
        (created.id, state("pending")),
    )


@pytest.mark.parametrize(("function", "caller", "extra"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_an_unknown_escrow_is_not_found(escrow, parties, function, caller, extra):
    unknown = escrow_id(parties.sender.address, os.urandom(32))
    refusal = escrow.refused(getattr(parties, caller), function, id_bytes(unknown), *extra)
    assert refusal == ("EscrowNotFound", (unknown,))
    assert escrow.read(unknown).state == "none"


# --- time --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("function", "caller"), [(a[0], a[1]) for a in ACTIONS[:4]], ids=[a[0] for a in ACTIONS[:4]])
def test_the_parties_cannot_act_once_the_escrow_expired(escrow, parties, function, caller):
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH, resolver=RESOLVER.address)
    escrow.at_next_block(created.expires_at)
    assert escrow.refused(getattr(parties, caller), function, id_bytes(created.id)) == (
        "EscrowIsExpired",
        (created.id, created.expires_at),
    )
    assert escrow.read(created.id).state == "pending"


def test_accept_in_the_last_second_before_expiry_is_allowed(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH)
    escrow.at_next_block(created.expires_at - 1)
    assert one(escrow.send(parties.recipient, "accept", id_bytes(created.id))).name == "accepted"


def test_expire_before_expiry_is_refused(escrow, parties):
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH)
    escrow.at_next_block(created.expires_at - 1)
    assert escrow.refused(parties.stranger, "expire", id_bytes(created.id)) == (
        "EscrowNotExpired",
        (created.id, created.expires_at),
    )
    assert escrow.read(created.id).state == "pending"


# --- invalid creation --------------------------------------------------------------------------------------


def create_eth_args(escrow: Escrow, recipient: str, **changes: Any) -> tuple[Any, ...]:
    args = {
        "salt": os.urandom(32),
        "recipient": recipient,
        "expiresAt": escrow.now() + DAY,
        "memoHash": b"\0" * 32,
        "requireConfirmation": True,
        "resolver": ZERO,
    }
    args.update(changes)
    return tuple(args.values())


def test_create_without_value_is_refused(escrow, parties):
    args = create_eth_args(escrow, parties.recipient.address)
    assert escrow.refused(parties.sender, "createEth", *args, value=0) == ("ZeroAmount", ())


def test_create_token_without_amount_is_refused(escrow, parties, make_token):
    token = make_token("demo", parties.sender.address, 1_000)
    args = (os.urandom(32), parties.recipient.address, token, 0, escrow.now() + DAY, b"\0" * 32, True, ZERO)
    assert escrow.refused(parties.sender, "createToken", *args) == ("ZeroAmount", ())


@pytest.mark.parametrize("recipient", ["zero", "sender"])
def test_create_for_no_recipient_or_for_oneself_is_refused(escrow, parties, recipient):
    address = ZERO if recipient == "zero" else parties.sender.address
    args = create_eth_args(escrow, address)
    assert escrow.refused(parties.sender, "createEth", *args, value=ETH) == ("InvalidRecipient", (address,))
    assert escrow.eth(escrow.address) == 0


@pytest.mark.parametrize(
    ("offset", "allowed"),
    [(-60, False), (0, False), (1, True), (MAX_DURATION, True), (MAX_DURATION + 1, False)],
    ids=["past", "now", "next-second", "longest", "too-long"],
)
def test_the_expiry_must_be_in_the_future_and_within_the_longest_duration(escrow, parties, offset, allowed):
    mined_at = escrow.now() + 5
    expires_at = mined_at + offset
    args = create_eth_args(escrow, parties.recipient.address, expiresAt=expires_at)
    escrow.at_next_block(mined_at)
    if allowed:
        assert one(escrow.send(parties.sender, "createEth", *args, value=ETH)).args["expiresAt"] == expires_at
    else:
        assert escrow.refused(parties.sender, "createEth", *args, value=ETH) == ("InvalidExpiry", (expires_at,))


@pytest.mark.parametrize("resolver", ["sender", "recipient"])
def test_a_party_cannot_be_the_resolver(escrow, parties, resolver):
    address = getattr(parties, resolver).address
    args = create_eth_args(escrow, parties.recipient.address, resolver=address)
    assert escrow.refused(parties.sender, "createEth", *args, value=ETH) == ("InvalidResolver", (address,))


def test_eth_sent_with_create_token_is_refused(escrow, parties, make_token):
    token = make_token("demo", parties.sender.address, 1_000)
    escrow.send_to(parties.sender, token, approve_data(escrow.address, 500))
    args = (os.urandom(32), parties.recipient.address, token, 500, escrow.now() + DAY, b"\0" * 32, True, ZERO)
    assert escrow.refused(parties.sender, "createToken", *args, value=7) == ("EthAmountMismatch", (0, 7))
    assert escrow.tokens(token, escrow.address) == 0
    assert escrow.eth(escrow.address) == 0


@pytest.mark.parametrize("token", ["zero", "account"])
def test_create_token_with_no_token_contract_is_refused(escrow, parties, token):
    address = ZERO if token == "zero" else parties.stranger.address
    args = (os.urandom(32), parties.recipient.address, address, 500, escrow.now() + DAY, b"\0" * 32, True, ZERO)
    assert escrow.refused(parties.sender, "createToken", *args) == ("InvalidToken", (address,))


def test_create_token_without_allowance_moves_nothing(escrow, parties, make_token):
    token = make_token("no_return", parties.sender.address, 1_000)
    args = (os.urandom(32), parties.recipient.address, token, 500, escrow.now() + DAY, b"\0" * 32, True, ZERO)
    receipt = send_call(escrow.w3, parties.sender, to=escrow.address, data=calldata("createToken", *args), gas=GAS)
    assert receipt["status"] == 0
    assert escrow.tokens(token, parties.sender.address) == 1_000
    assert escrow.read(escrow_id(parties.sender.address, args[0])).state == "none"


def test_the_same_salt_twice_is_refused_but_another_sender_may_use_it(escrow, parties, fund):
    salt = os.urandom(32)
    created = escrow.create_eth(parties.sender, parties.recipient.address, ETH, salt=salt)
    args = create_eth_args(escrow, parties.recipient.address, salt=salt)
    assert escrow.refused(parties.sender, "createEth", *args, value=ETH) == ("EscrowExists", (created.id,))
    assert escrow.eth(escrow.address) == ETH
    other = fund()
    assert escrow.create_eth(other, parties.recipient.address, ETH, salt=salt).id == escrow_id(other.address, salt)
    assert escrow.eth(escrow.address) == 2 * ETH


def test_a_fee_on_transfer_token_is_refused_and_nothing_moves(escrow, parties, make_token):
    token = make_token("fee", parties.sender.address, 10_000)
    escrow.send_to(parties.sender, token, approve_data(escrow.address, 5_000))
    salt = os.urandom(32)
    args = (salt, parties.recipient.address, token, 5_000, escrow.now() + DAY, b"\0" * 32, True, ZERO)
    assert escrow.refused(parties.sender, "createToken", *args) == (
        "FeeOnTransferToken",
        (to_checksum_address(token), 5_000, 4_950),
    )
    assert escrow.tokens(token, parties.sender.address) == 10_000
    assert escrow.tokens(token, escrow.address) == 0
    assert escrow.allowance(token, parties.sender.address) == 5_000
    assert escrow.read(escrow_id(parties.sender.address, salt)).state == "none"


# --- hostile counterparts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    attacker: Any  # the ReentrantRecipient contract (web3)
    created: Created
    trigger: tuple[Any, str, bytes]  # (account, to, data) of the transaction that pays the attacker
    event: str  # the escrow event of that payout


@pytest.fixture
def attack(escrow, parties, fund, time_travel):
    """``attack(scenario)``: a ReentrantRecipient in an escrow of 1 ETH, next to a victim's escrow of 5 ETH.
    "accept": it is the recipient and accepts; "cancel": it is the sender and cancels; "expire": it is the
    sender and a stranger expires the escrow. Its receive() re-enters with the same action on the same id."""

    def setup(scenario: str) -> Attack:
        operator = fund()
        address = deploy_testing(escrow.w3, "ReentrantRecipient", [escrow.address])
        attacker = contract_at(escrow.w3, "ReentrantRecipient", address)
        escrow.create_eth(fund(), parties.recipient.address, 5 * ETH)  # somebody else's funds in the contract
        if scenario == "accept":
            created = escrow.create_eth(parties.sender, address, ETH)
            action = ACCEPT
            trigger = (operator, address, bytes.fromhex(attacker.encode_abi("act", [ACCEPT, id_bytes(created.id)])[2:]))
        else:
            salt = os.urandom(32)
            expires_at = escrow.now() + DAY
            data = attacker.encode_abi("create", [salt, parties.recipient.address, expires_at, True, ZERO])
            sent = escrow.send_to(operator, address, bytes.fromhex(data[2:]), value=ETH)
            created = Created(escrow_id(address, salt), expires_at, ETH, sent)
            if scenario == "cancel":
                action = CANCEL
                act = attacker.encode_abi("act", [CANCEL, id_bytes(created.id)])
                trigger = (operator, address, bytes.fromhex(act[2:]))
            else:
                action = EXPIRE
                time_travel(DAY + 60)
                trigger = (parties.stranger, escrow.address, calldata("expire", id_bytes(created.id)))
        return Attack(attacker, created, trigger, {ACCEPT: "accepted", CANCEL: "cancelled", EXPIRE: "expired"}[action])

    return setup


def arm(escrow: Escrow, attack: Attack, mode: int, action: int, fund) -> None:
    data = attack.attacker.encode_abi("arm", [mode, action, id_bytes(attack.created.id)])
    escrow.send_to(fund(), attack.attacker.address, bytes.fromhex(data[2:]))


REENTRY = {"accept": ACCEPT, "cancel": CANCEL, "expire": EXPIRE}


@pytest.mark.parametrize("scenario", ["accept", "cancel", "expire"])
def test_a_reentrant_party_that_swallows_the_failure_is_paid_exactly_once(escrow, attack, fund, scenario):
    setup = attack(scenario)
    arm(escrow, setup, SWALLOW, REENTRY[scenario], fund)
    assert escrow.eth(escrow.address) == 6 * ETH
    account, to, data = setup.trigger
    sent = escrow.send_to(account, to, data)
    assert [e.name for e in sent.events] == [setup.event]  # paid, nothing deferred
    attacker = setup.attacker.functions
    assert attacker.attempts().call() == 1
    assert attacker.reentrySucceeded().call() is False
    assert decode_error(attacker.reentryError().call()) == ("ReentrancyGuardReentrantCall", ())
    assert (attacker.payments().call(), attacker.received().call()) == (1, ETH)
    assert attacker.stateSeen().call() == state(setup.event)  # final before the payment (checks-effects-interactions)
    assert escrow.eth(setup.attacker.address) == ETH
    assert escrow.owed(setup.attacker.address, ZERO) == 0
    assert escrow.eth(escrow.address) == 5 * ETH  # the victim's escrow is intact
    assert escrow.read(setup.created.id).state == setup.event


def call_frames(w3: Any, tx_hash: bytes) -> list[dict[str, Any]]:
    """Every call of the transaction (geth's callTracer, as anvil serves it), depth first."""
    response = w3.provider.make_request(
        "debug_traceTransaction", ["0x" + bytes(tx_hash).hex(), {"tracer": "callTracer"}]
    )
    assert "error" not in response, response
    frames, pending = [], [response["result"]]
    while pending:
        frame = pending.pop(0)
        frames.append(frame)
        pending[:0] = frame.get("calls", [])
    return frames


def same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


@pytest.mark.parametrize("scenario", ["accept", "cancel", "expire"])
def test_a_reentrant_party_that_bubbles_the_failure_has_its_payment_deferred_and_withdraws_it_once(
    escrow, attack, parties, fund, scenario
):
    setup = attack(scenario)
    arm(escrow, setup, BUBBLE, REENTRY[scenario], fund)
    address, attacker = setup.attacker.address, setup.attacker.functions
    account, to, data = setup.trigger
    sent = escrow.send_to(account, to, data)  # the transition is not blocked by the failing payment
    assert [e.name for e in sent.events] == [setup.event, "PaymentDeferred"]
    assert sent.events[1] == deferred(address, ZERO, ETH)
    assert escrow.read(setup.created.id).state == setup.event
    # The trace of the failed payment: the attacker's receive() read the escrow (already in its final state) and
    # re-entered it, the guard refused, and the attacker reverted with that refusal.
    frames = call_frames(escrow.w3, sent.receipt["transactionHash"])
    (payment,) = [f for f in frames if same(f["from"], escrow.address) and same(f["to"], address)]
    assert int(payment["value"], 16) == ETH
    assert "error" in payment
    assert decode_error(bytes.fromhex(payment["output"][2:])) == ("ReentrancyGuardReentrantCall", ())
    read, reentry = payment["calls"]
    assert (read["type"], same(read["to"], escrow.address), read["input"][:10]) == (
        "STATICCALL",
        True,
        "0x" + GET_ESCROW.hex(),
    )
    assert decode([ESCROW_TUPLE], bytes.fromhex(read["output"][2:]))[0][2] == state(setup.event)
    assert (reentry["type"], same(reentry["to"], escrow.address)) == ("CALL", True)
    assert bytes.fromhex(reentry["input"][2:]) == calldata(scenario, id_bytes(setup.created.id))  # the same action
    assert decode_error(bytes.fromhex(reentry["output"][2:])) == ("ReentrancyGuardReentrantCall", ())
    assert "calls" not in reentry  # refused at the guard, before anything else
    # Its receive() reverted as a whole: no payment recorded, no ETH; the contract holds the payout.
    assert (attacker.attempts().call(), attacker.payments().call()) == (0, 0)
    assert escrow.eth(address) == 0
    assert escrow.eth(escrow.address) == 6 * ETH
    # Withdrawn to itself, it re-enters from the withdrawal: refused by the guard too, and nothing moves.
    operator = fund()

    def withdrawal(to: str) -> tuple[Any, str, bytes]:
        return operator, address, bytes.fromhex(setup.attacker.encode_abi("withdraw", [ZERO, to])[2:])

    assert escrow.refused_to(*withdrawal(address)) == ("EthTransferFailed", (address, ETH))
    assert escrow.eth(escrow.address) == 6 * ETH
    withdraws_exactly_once(escrow, address, ZERO, ETH, withdrawal, parties.stranger)
    assert escrow.eth(address) == 0
    assert escrow.eth(escrow.address) == 5 * ETH  # paid once in all; the victim's escrow is intact
    assert escrow.read(setup.created.id).state == setup.event


def test_a_reentrant_recipient_cannot_take_another_escrow_during_its_payout(escrow, parties, fund):
    """The guard is global: re-entering with another escrow of its own (a legitimate accept on its own) fails."""
    address = deploy_testing(escrow.w3, "ReentrantRecipient", [escrow.address])
    attacker = contract_at(escrow.w3, "ReentrantRecipient", address)
    first = escrow.create_eth(parties.sender, address, ETH)
    second = escrow.create_eth(parties.sender, address, 2 * ETH)
    escrow.send_to(
        fund(), address, bytes.fromhex(attacker.encode_abi("arm", [SWALLOW, ACCEPT, id_bytes(second.id)])[2:])
    )
    escrow.send_to(fund(), address, bytes.fromhex(attacker.encode_abi("act", [ACCEPT, id_bytes(first.id)])[2:]))
    assert attacker.functions.reentrySucceeded().call() is False
    assert escrow.eth(address) == ETH
    assert (escrow.read(first.id).state, escrow.read(second.id).state) == ("accepted", "pending")


@pytest.fixture
def refusing(escrow, parties):
    """A RefusingRecipient contract, ``via(function, *args)``: calldata of its ``execute`` that calls the escrow's
    ``function``, and ``withdrawal``: its withdrawal of ETH (sent through ``execute`` by a stranger)."""
    address = deploy_testing(escrow.w3, "RefusingRecipient", [])
    contract = contract_at(escrow.w3, "RefusingRecipient", address)

    def via(function: str, *args: Any) -> bytes:
        return bytes.fromhex(contract.encode_abi("execute", [escrow.address, calldata(function, *args)])[2:])

    def withdrawal(to: str) -> tuple[Any, str, bytes]:
        return parties.stranger, address, via("withdraw", ZERO, to)

    return address, via, withdrawal


def test_accept_by_a_recipient_refusing_eth_succeeds_and_its_payment_waits_for_its_withdrawal(
    escrow, parties, refusing
):
    address, via, withdrawal = refusing
    created = escrow.create_eth(parties.sender, address, ETH)
    sent = escrow.send_to(parties.stranger, address, via("accept", id_bytes(created.id)))
    assert sent.events == [
        DecodedEvent("accepted", created.id, {"recipient": address, "amount": ETH}),
        deferred(address, ZERO, ETH),
    ]
    assert escrow.read(created.id).state == "accepted"
    assert escrow.eth(address) == 0
    assert escrow.eth(escrow.address) == ETH
    # Withdrawn to nobody, or to itself (it refuses ETH), it stays owed.
    assert escrow.refused_to(*withdrawal(ZERO)) == ("InvalidRecipient", (ZERO,))
    assert escrow.refused_to(*withdrawal(address)) == ("EthTransferFailed", (address, ETH))
    assert escrow.eth(escrow.address) == ETH
    withdraws_exactly_once(escrow, address, ZERO, ETH, withdrawal, parties.stranger)
    assert escrow.eth(escrow.address) == 0
    assert escrow.read(created.id).state == "accepted"


def test_reject_by_a_recipient_refusing_eth_refunds_the_sender(escrow, parties, refusing):
    address, via, _ = refusing
    created = escrow.create_eth(parties.sender, address, ETH)
    before = escrow.eth(parties.sender.address)
    sent = escrow.send_to(parties.stranger, address, via("reject", id_bytes(created.id)))
    assert one(sent).args == {"sender": parties.sender.address, "amount": ETH}
    assert escrow.eth(parties.sender.address) == before + ETH
    assert escrow.eth(escrow.address) == 0
    assert escrow.owed(address, ZERO) == escrow.owed(parties.sender.address, ZERO) == 0
    assert escrow.read(created.id).state == "rejected"


def test_a_resolution_defers_the_share_of_a_recipient_refusing_eth_and_pays_the_sender_its_own(
    escrow, parties, refusing
):
    address, _, withdrawal = refusing
    created = escrow.create_eth(parties.sender, address, 4 * ETH, resolver=RESOLVER.address)
    escrow.send(parties.sender, "dispute", id_bytes(created.id))
    before = escrow.eth(parties.sender.address)
    sent = escrow.send(RESOLVER, "resolve", id_bytes(created.id), ETH)
    assert sent.events == [
        DecodedEvent("resolved", created.id, {"toRecipient": ETH, "toSender": 3 * ETH}),
        deferred(address, ZERO, ETH),
    ]
    assert escrow.read(created.id).state == "resolved"
    assert escrow.eth(parties.sender.address) == before + 3 * ETH
    assert escrow.owed(parties.sender.address, ZERO) == 0
    assert escrow.eth(escrow.address) == ETH
    withdraws_exactly_once(escrow, address, ZERO, ETH, withdrawal, parties.stranger)
    assert escrow.eth(escrow.address) == 0


def test_without_confirmation_an_expired_escrow_to_a_recipient_refusing_eth_settles_with_its_payment_deferred(
    escrow, parties, refusing
):
    """Expiry of an escrow without confirmation pays the recipient, and the sender can no longer cancel: a recipient
    refusing ETH once locked it in the contract for good; now the escrow settles and the payout waits for it."""
    address, _, withdrawal = refusing
    created = escrow.create_eth(parties.sender, address, ETH, confirm=False)
    escrow.at_next_block(created.expires_at)
    sent = escrow.send(parties.stranger, "expire", id_bytes(created.id))
    assert sent.events == [
        DecodedEvent("expired", created.id, {"paidTo": address, "amount": ETH}),
        deferred(address, ZERO, ETH),
    ]
    assert escrow.read(created.id).state == "expired"
    assert escrow.eth(escrow.address) == ETH
    assert escrow.refused(parties.sender, "cancel", id_bytes(created.id)) == (
        "InvalidState",
        (created.id, state("expired")),
    )
    assert escrow.refused(parties.stranger, "expire", id_bytes(created.id)) == (
        "InvalidState",
        (created.id, state("expired")),
    )
    withdraws_exactly_once(escrow, address, ZERO, ETH, withdrawal, parties.stranger)
    assert escrow.eth(escrow.address) == 0


def test_payments_deferred_to_the_same_receiver_add_up_and_are_withdrawn_together(escrow, parties, refusing):
    address, via, withdrawal = refusing
    first = escrow.create_eth(parties.sender, address, ETH)
    second = escrow.create_eth(parties.sender, address, 2 * ETH)
    for created in (first, second):
        sent = escrow.send_to(parties.stranger, address, via("accept", id_bytes(created.id)))
        assert sent.events[1] == deferred(address, ZERO, created.amount)
    assert escrow.owed(address, ZERO) == 3 * ETH
    withdraws_exactly_once(escrow, address, ZERO, 3 * ETH, withdrawal, parties.stranger)
    assert escrow.eth(escrow.address) == 0


@pytest.mark.parametrize(
    ("kind", "refusal"),
    [("no_return", "Blacklisted"), ("false_return", "SafeERC20FailedOperation")],
    ids=["reverting", "returning-false"],
)
@pytest.mark.parametrize(("outcome", "payee"), [("accept", "recipient"), ("cancel", "sender")])
def test_a_token_payout_to_a_blacklisted_party_is_deferred_until_it_withdraws_elsewhere(
    escrow, parties, make_token, kind, refusal, outcome, payee
):
    token = to_checksum_address(make_token(kind, parties.sender.address, 1_000))
    created = escrow.create_token(parties.sender, parties.recipient.address, token, 800)
    owner = getattr(parties, payee)  # who is paid is who acts
    escrow.send_to(parties.stranger, token, BLACKLIST + encode(["address"], [owner.address]))
    sent = escrow.send(owner, outcome, id_bytes(created.id))
    final = {"accept": "accepted", "cancel": "cancelled"}[outcome]
    assert sent.events == [
        DecodedEvent(final, created.id, {payee: owner.address, "amount": 800}),
        deferred(owner.address, token, 800),
    ]
    assert escrow.read(created.id).state == final
    assert escrow.tokens(token, owner.address) == (200 if payee == "sender" else 0)
    assert escrow.tokens(token, escrow.address) == 800
    assert escrow.owed(owner.address, ZERO) == 0  # owed per token
    # Withdrawn to itself, still blacklisted, it stays owed.
    assert escrow.refused(owner, "withdraw", token, owner.address) == (
        refusal,
        (owner.address,) if refusal == "Blacklisted" else (token,),
    )
    assert escrow.owed(owner.address, token) == 800

    def withdrawal(to: str) -> tuple[Any, str, bytes]:
        return owner, escrow.address, calldata("withdraw", token, to)

    withdraws_exactly_once(escrow, owner.address, token, 800, withdrawal, parties.stranger)
    assert escrow.tokens(token, escrow.address) == 0
    assert escrow.tokens(token, owner.address) == (200 if payee == "sender" else 0)
