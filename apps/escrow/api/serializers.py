"""Escrow API shapes: the API guide's (sections 4 and 10) plus documented additions."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.chains.units import from_base_units
from apps.escrow.models import Escrow, EscrowAction, EscrowEvent
from apps.escrow.selectors import escrow_available_actions, escrow_effective_status, escrow_roles
from apps.escrow.services.escrows import payment_link
from apps.transactions.api.serializers import AmountField

SIGNED_HEX = re.compile(r"^(0x)?[0-9a-fA-F]+$")
TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


class CreateInput(serializers.Serializer):
    recipient = serializers.CharField(max_length=64, help_text="The recipient's EVM address.")
    asset = serializers.CharField(max_length=16, required=False, help_text="A token symbol (section 4), e.g. ETH.")
    token_address = serializers.CharField(
        max_length=64, required=False, help_text='The token contract (section 10); "0x0" for ETH.'
    )
    amount = AmountField(help_text="Decimal string in token units.")
    memo = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    expires_in_hours = serializers.IntegerField(required=False, default=24)
    require_confirmation = serializers.BooleanField(
        required=False,
        default=True,
        help_text="true: the funds move only when the recipient accepts (after expiry they go back to the sender). "
        "false: if nobody acted by the expiry, settling releases them to the recipient.",
    )
    dispute_resolver = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        help_text="Who may decide a dispute; default: EngiPay's resolver. 0x0: no disputes.",
    )
    network = serializers.CharField(max_length=32, required=False, help_text="Default: the escrow network.")
    from_address = serializers.CharField(
        max_length=64, required=False, help_text="One of your verified wallets; default: the latest used."
    )

    def validate_memo(self, value: str) -> str:
        if len(value) > settings.ESCROW_MEMO_MAX_CHARS:
            raise serializers.ValidationError(f"At most {settings.ESCROW_MEMO_MAX_CHARS} characters.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("asset") is None and attrs.get("token_address") is None:
            raise serializers.ValidationError({"asset": ["Give asset or token_address."]})
        return attrs


class SubmitInput(serializers.Serializer):
    signed_transactions = serializers.ListField(
        child=serializers.RegexField(SIGNED_HEX, max_length=200_000),
        required=False,
        max_length=4,
        help_text="The signed raw transactions, in the prepared order (approve before create).",
    )
    signed_transaction = serializers.RegexField(
        SIGNED_HEX, max_length=200_000, required=False, help_text="One signed transaction (same as a list of one)."
    )
    tx_hashes = serializers.ListField(
        child=serializers.RegexField(TX_HASH), required=False, max_length=4, help_text="Hashes the wallet sent itself."
    )
    tx_hash = serializers.RegexField(TX_HASH, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        signed = [
            *attrs.get("signed_transactions", []),
            *([attrs["signed_transaction"]] if "signed_transaction" in attrs else []),
        ]
        hashes = [*attrs.get("tx_hashes", []), *([attrs["tx_hash"]] if "tx_hash" in attrs else [])]
        if not signed and not hashes:
            raise serializers.ValidationError("Give signed_transactions (or signed_transaction) or tx_hashes.")
        return {"signed_transactions": signed, "tx_hashes": hashes}


class StepOutput(serializers.Serializer):
    step = serializers.CharField(
        help_text="approve, create, accept, reject, cancel, dispute, refund, resolve or withdraw"
    )
    transaction = serializers.JSONField(
        help_text="Unsigned EIP-1559 transaction; quantities are 0x-hex strings (eth-account / EIP-1193)."
    )


class GasEstimateOutput(serializers.Serializer):
    gas_limit = serializers.CharField(help_text="Sum of the transactions' gas limits.")
    gas_price = serializers.CharField(help_text="Expected price per gas, gwei (base fee + priority fee).")
    total_fee = serializers.CharField(help_text="Expected fee in the fee asset (ETH).")
    max_fee = serializers.CharField(help_text="The most the signed transactions can spend on fees.")
    fee_asset = serializers.CharField()
    max_fee_per_gas = serializers.CharField(help_text="gwei")
    max_priority_fee_per_gas = serializers.CharField(help_text="gwei")
    source = serializers.CharField(
        help_text="estimated (eth_estimateGas), simulated (eth_simulateV1, for approve + create) or fallback "
        "(the node cannot simulate: a configured limit)."
    )


class ActionOutput(serializers.Serializer):
    action = serializers.CharField(source="kind")
    status = serializers.CharField(help_text="prepared, submitted, done, failed, lapsed or superseded")
    signer = serializers.CharField(source="signer_address", help_text="The wallet that must sign.")
    tx_hashes = serializers.ListField(child=serializers.CharField())
    prepared_until = serializers.DateTimeField()


def _units(value: Any, decimals: int | None) -> str | None:
    if value is None:
        return None
    return from_base_units(int(value), decimals) if decimals is not None else str(int(value))


_HASH_KEYS = {
    EscrowEvent.Name.CREATED: "creation",
    EscrowEvent.Name.ACCEPTED: "acceptance",
    EscrowEvent.Name.REJECTED: "rejection",
    EscrowEvent.Name.CANCELLED: "cancellation",
    EscrowEvent.Name.DISPUTED: "dispute",
    EscrowEvent.Name.RESOLVED: "resolution",
    EscrowEvent.Name.EXPIRED: "expiry",
}


def transaction_hashes(escrow: Escrow) -> dict[str, str | None]:
    """The guide's creation / acceptance / release, plus refund and the other transitions: hashes of
    transactions whose event the indexer read from the chain (never a submitted one not yet there)."""
    found: dict[str, str | None] = {
        "creation": None,
        "acceptance": None,
        "release": None,
        "refund": None,
        "rejection": None,
        "cancellation": None,
        "dispute": None,
        "resolution": None,
        "expiry": None,
    }
    for event in escrow.events.all():
        found[_HASH_KEYS[event.name]] = event.tx_hash
        pays_recipient = event.name == EscrowEvent.Name.ACCEPTED or (
            event.name == EscrowEvent.Name.EXPIRED and event.args.get("paidTo") == escrow.recipient_address
        )
        if pays_recipient or (event.name == EscrowEvent.Name.RESOLVED and int(event.args.get("toRecipient", 0)) > 0):
            found["release"] = event.tx_hash
        refunds = event.name in (EscrowEvent.Name.REJECTED, EscrowEvent.Name.CANCELLED) or (
            event.name == EscrowEvent.Name.EXPIRED and event.args.get("paidTo") == escrow.sender_address
        )
        if refunds or (event.name == EscrowEvent.Name.RESOLVED and int(event.args.get("toSender", 0)) > 0):
            found["refund"] = event.tx_hash
    return found


class EscrowOutput(serializers.Serializer):
    """GET /api/payments/escrow/{id}: the guide's fields first."""

    escrow_id = serializers.UUIDField(source="id")
    sender = serializers.CharField(source="sender_address")
    recipient = serializers.CharField(source="recipient_address")
    token_address = serializers.SerializerMethodField(help_text='"0x0" for ETH, as in the guide.')
    amount = serializers.SerializerMethodField(help_text="Decimal string in token units.")
    memo = serializers.CharField()
    status = serializers.SerializerMethodField(
        help_text="awaiting_signature (not on chain yet), pending, accepted, rejected, cancelled, expired (past its "
        "expiry, settled or not), disputed or resolved. Changes only when the contract's event is indexed."
    )
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    contract_address = serializers.CharField(source="deployment.address")
    transaction_hashes = serializers.SerializerMethodField()
    # Additions to the guide.
    asset = serializers.SerializerMethodField()
    network = serializers.CharField(source="deployment.network")
    onchain_id = serializers.CharField(help_text="bytes32 id in the contract.")
    require_confirmation = serializers.BooleanField()
    dispute_resolver = serializers.SerializerMethodField()
    payment_link = serializers.SerializerMethodField()
    on_chain_state = serializers.CharField(source="status", help_text="The contract's state as last indexed.")
    settled = serializers.SerializerMethodField(help_text="false for an expired escrow whose refund is unclaimed.")
    paid_to_recipient = serializers.SerializerMethodField()
    refunded_to_sender = serializers.SerializerMethodField()
    block_number = serializers.IntegerField(allow_null=True, help_text="Block of the last indexed event.")
    confirmations = serializers.SerializerMethodField(
        help_text="Blocks on top of (and including) the last event's block, as far as indexed; 0 before any event. "
        "The status can still change back if a reorg drops that block."
    )
    pending_action = serializers.SerializerMethodField()
    deferred_payouts = serializers.SerializerMethodField(
        help_text="Payouts the contract kept because the receiving address refused them (a contract refusing ETH, "
        "a token blocking the address): [{to, amount}]. The receiver takes them with POST …/withdraw."
    )
    available_actions = serializers.SerializerMethodField(
        help_text="What the caller may prepare now: accept / reject (recipient), cancel (sender), dispute (either, "
        "when a resolver is named), refund (either, once expired: settles the escrow on chain)."
    )

    def get_token_address(self, escrow: Escrow) -> str:
        return "0x0" if int(escrow.token_address, 16) == 0 else escrow.token_address

    def get_amount(self, escrow: Escrow) -> str:
        return _units(escrow.amount_base, escrow.decimals)

    def get_status(self, escrow: Escrow) -> str:
        return escrow_effective_status(escrow=escrow)

    def get_transaction_hashes(self, escrow: Escrow) -> dict[str, str | None]:
        return transaction_hashes(escrow)

    def get_asset(self, escrow: Escrow) -> str | None:
        return escrow.token.symbol if escrow.token_id else None

    def get_dispute_resolver(self, escrow: Escrow) -> str | None:
        return escrow.resolver_address or None

    def get_payment_link(self, escrow: Escrow) -> str:
        return payment_link(escrow)

    def get_confirmations(self, escrow: Escrow) -> int:
        if escrow.block_number is None:
            return 0
        return max(0, escrow.deployment.indexed_block - escrow.block_number + 1)

    def get_settled(self, escrow: Escrow) -> bool:
        return escrow.status not in (Escrow.Status.AWAITING_SIGNATURE, Escrow.Status.PENDING, Escrow.Status.DISPUTED)

    def get_paid_to_recipient(self, escrow: Escrow) -> str | None:
        return _units(escrow.paid_to_recipient_base, escrow.decimals)

    def get_refunded_to_sender(self, escrow: Escrow) -> str | None:
        return _units(escrow.refunded_to_sender_base, escrow.decimals)

    @extend_schema_field(serializers.ListField(child=serializers.DictField(child=serializers.CharField())))
    def get_deferred_payouts(self, escrow: Escrow) -> list[dict[str, str]]:
        return [
            {"to": payout["to"], "amount": _units(payout["amount"], escrow.decimals)}
            for event in escrow.events.all()
            for payout in event.args.get("deferred", [])
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_available_actions(self, escrow: Escrow) -> list[str]:
        user = self.context.get("user")
        if user is None:
            return []
        roles = escrow_roles(escrow=escrow, user=user)
        actions = escrow_available_actions(escrow=escrow, roles=roles)
        mine = {escrow.sender_address if role == "sender" else escrow.recipient_address for role in roles}
        if any(payout["to"] in mine for payout in self.get_deferred_payouts(escrow)):
            actions.append("withdraw")  # until withdrawn (the prepare reads the contract's owed balance)
        return actions

    def get_pending_action(self, escrow: Escrow) -> dict[str, Any] | None:
        action = next((a for a in escrow.actions.all() if a.status in EscrowAction.OPEN_STATUSES), None)
        return None if action is None else ActionOutput(action).data


class CreateOutput(EscrowOutput):
    transaction_hash = serializers.CharField(
        allow_null=True,
        help_text="null: nothing is signed yet (status awaiting_signature). Submit the signed transactions to "
        "POST /api/payments/escrow/{id}/submit.",
    )
    gas_estimate = GasEstimateOutput()
    transactions = StepOutput(many=True, help_text="Sign and submit in this order.")
    transaction = serializers.JSONField(help_text="The last (create) transaction, for single-step clients.")


class TransitionOutput(serializers.Serializer):
    escrow_id = serializers.UUIDField()
    action = serializers.CharField()
    status = serializers.CharField(help_text="awaiting_signature")
    signer = serializers.CharField(help_text="The wallet that must sign.")
    contract_address = serializers.CharField()
    transactions = StepOutput(many=True)
    transaction = serializers.JSONField()
    gas_estimate = GasEstimateOutput(allow_null=True, help_text="null when this repeats an already prepared call.")
    prepared_until = serializers.DateTimeField(help_text="Submit before this, or the call lapses.")


class WithdrawInput(serializers.Serializer):
    to = serializers.CharField(
        max_length=64, required=False, help_text="Where the payout goes; default: the wallet it was kept for."
    )


class SubmitOutput(serializers.Serializer):
    escrow_id = serializers.UUIDField()
    action = serializers.CharField()
    status = serializers.CharField(help_text="submitted: the escrow's status follows once the chain has it.")
    transaction_hashes = serializers.ListField(child=serializers.CharField())
    escrow_status = serializers.CharField()


class ListQuery(serializers.Serializer):
    role = serializers.ChoiceField(choices=["all", "sender", "recipient"], required=False, default="all")
    status = serializers.ChoiceField(choices=Escrow.Status.choices, required=False)
    asset = serializers.CharField(max_length=16, required=False)
    network = serializers.CharField(max_length=32, required=False)
