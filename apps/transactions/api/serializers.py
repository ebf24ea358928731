from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from apps.chains.clients import client_for
from apps.chains.registry import chain
from apps.chains.units import from_base_units
from apps.prices.selectors import price_at_or_before
from apps.transactions.models import ChainTransaction
from engipay.api.errors import InvalidInput

TX_HASH = re.compile(r"^(0x[0-9a-fA-F]{1,64}|[0-9a-fA-F]{64})$")
SIGNED_HEX = re.compile(r"^(0x)?[0-9a-fA-F]+$")


class AmountField(serializers.DecimalField):
    """A positive decimal string in token units; precision is checked against the asset (``too_precise``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=None, decimal_places=None, min_value=Decimal("0"), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, float):
            raise serializers.ValidationError("Send amounts as decimal strings, not floating-point numbers.")
        if isinstance(data, str) and (len(data) > 100 or "e" in data.lower()):
            raise serializers.ValidationError('Write the amount as plain digits, e.g. "12.5" (no exponent).')
        value = super().to_internal_value(data)
        if not value.is_finite() or value <= 0:
            raise serializers.ValidationError("Must be more than zero.")
        if value.adjusted() > 77:  # more than any uint256 in any token's units
            raise serializers.ValidationError("Too large.")
        return value


def normalize_addresses(attrs: dict, *fields: str) -> dict:
    """Check the address fields with the network's chain client (EVM: hex and EIP-55 checksum; Starknet: a felt;
    Bitcoin: checksum and this network's prefixes); each comes back in its one normalised spelling."""
    client = client_for(chain(attrs["network"]))
    errors = {}
    for name in fields:
        if attrs.get(name) is None:
            continue
        try:
            attrs[name] = client.validate_address(attrs[name])
        except InvalidInput as exc:
            errors[name] = [exc.message]
    if errors:
        raise serializers.ValidationError(errors)
    return attrs


class PrepareInput(serializers.Serializer):
    network = serializers.CharField(
        max_length=32, help_text="A key of the configured chains: e.g. ethereum, starknet, bitcoin."
    )
    asset = serializers.CharField(max_length=16)
    to_address = serializers.CharField(max_length=100, help_text="An address of the network's kind.")
    amount = AmountField()
    from_address = serializers.CharField(
        max_length=100, required=False, help_text="One of your verified wallets; default: the latest used."
    )

    def validate(self, attrs):
        return normalize_addresses(attrs, "to_address", "from_address")


class UnsignedTransactionOutput(serializers.Serializer):
    """Quantities are 0x-hex strings (JSON-RPC QUANTITY), as eth-account's sign_transaction and EIP-1193
    wallets (eth_sendTransaction) take them; wei values exceed JavaScript's safe integers."""

    type = serializers.CharField(help_text="0x2 (EIP-1559)")
    chainId = serializers.CharField()
    nonce = serializers.CharField()
    to = serializers.CharField(help_text="The recipient, or the token contract for an ERC-20 transfer.")
    value = serializers.CharField(help_text="wei, hex")
    data = serializers.CharField(help_text="ERC-20 transfer(address,uint256) call data, or 0x.")
    gas = serializers.CharField(help_text="eth_estimateGas plus TX_GAS_MARGIN_PERCENT, hex")
    maxFeePerGas = serializers.CharField()
    maxPriorityFeePerGas = serializers.CharField()
    from_ = serializers.CharField(help_text="The sending wallet.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class StarknetUnsignedOutput(serializers.Serializer):
    """Starknet: the calls the wallet executes (``account.execute(calls)``), with nonce and resource bounds."""

    type = serializers.CharField(help_text="INVOKE")
    version = serializers.CharField(help_text="0x3")
    chain_id = serializers.CharField()
    sender_address = serializers.CharField()
    nonce = serializers.CharField()
    calls = serializers.ListField(child=serializers.DictField(), help_text="[{contract_address, entrypoint, calldata}]")
    calldata = serializers.ListField(child=serializers.CharField(), help_text="The account's __execute__ calldata.")
    resource_bounds = serializers.DictField(help_text="{l1_gas, l1_data_gas, l2_gas}: {max_amount, max_price_per_unit}")
    tip = serializers.CharField()


class BitcoinUnsignedOutput(serializers.Serializer):
    """Bitcoin: an unsigned PSBT (BIP-174) spending the sender's UTXOs, for the wallet's signPsbt."""

    psbt = serializers.CharField(help_text="base64")
    inputs = serializers.ListField(child=serializers.DictField())
    outputs = serializers.ListField(child=serializers.DictField())
    fee_rate_sat_vb = serializers.CharField()
    vsize = serializers.IntegerField()


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="UnsignedTransaction",
        serializers=[UnsignedTransactionOutput, StarknetUnsignedOutput, BitcoinUnsignedOutput],
        resource_type_field_name=None,
    )
)
class UnsignedTransactionField(serializers.JSONField):
    """What the wallet signs, in the network's own form (EVM transaction, Starknet calls, Bitcoin PSBT)."""


class FeeEstimateOutput(serializers.Serializer):
    asset = serializers.CharField(help_text="The coin the fee is paid in (ETH on EVM, STRK on Starknet, BTC).")
    gas_limit = serializers.CharField(required=False, help_text="EVM only.")
    gas_estimate = serializers.CharField(required=False, help_text="EVM only.")
    base_fee_per_gas = serializers.CharField(required=False, help_text="EVM only; gwei")
    max_priority_fee_per_gas = serializers.CharField(required=False, help_text="EVM only; gwei")
    max_fee_per_gas = serializers.CharField(required=False, help_text="EVM only; gwei")
    expected_fee = serializers.CharField(help_text="In the fee asset: the estimate.")
    max_fee = serializers.CharField(help_text="In the fee asset: the most the signed transaction can spend on fees.")
    price_usd = serializers.DecimalField(max_digits=30, decimal_places=8, coerce_to_string=False, allow_null=True)
    expected_fee_usd = serializers.DecimalField(
        max_digits=30, decimal_places=2, coerce_to_string=False, allow_null=True
    )
    max_fee_usd = serializers.DecimalField(max_digits=30, decimal_places=2, coerce_to_string=False, allow_null=True)
    price_source = serializers.CharField(allow_null=True, help_text="Where price_usd came from; null: no price.")
    unit = serializers.CharField(required=False, help_text="Starknet only: FRI (the fee is paid in STRK).")
    l1_gas_consumed = serializers.CharField(required=False, help_text="Starknet only.")
    l1_gas_price = serializers.CharField(required=False, help_text="Starknet only; FRI per unit.")
    l2_gas_consumed = serializers.CharField(required=False, help_text="Starknet only.")
    l2_gas_price = serializers.CharField(required=False, help_text="Starknet only; FRI per unit.")
    l1_data_gas_consumed = serializers.CharField(required=False, help_text="Starknet only.")
    l1_data_gas_price = serializers.CharField(required=False, help_text="Starknet only; FRI per unit.")
    fee_rate_sat_vb = serializers.CharField(required=False, help_text="Bitcoin only: sat/vB.")
    vsize = serializers.IntegerField(required=False, help_text="Bitcoin only: virtual size, vbytes.")
    target_blocks = serializers.IntegerField(required=False, help_text="Bitcoin only: the fee-rate target.")


class PrepareOutput(serializers.Serializer):
    transaction = UnsignedTransactionField()
    fee_estimate = FeeEstimateOutput()
    network = serializers.CharField()
    asset = serializers.CharField()
    amount = serializers.CharField()
    to_address = serializers.CharField()
    status = serializers.CharField(help_text="awaiting_signature: nothing is sent or stored yet.")


class SignedTransactionField(serializers.JSONField):
    """EVM: the signed raw transaction, 0x-hex. Bitcoin: the signed raw transaction, hex. Starknet: the signed
    INVOKE v3 transaction object (the spec's BROADCASTED_INVOKE_TXN), optionally with its ``chain_id``."""

    max_chars = 262_144

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if isinstance(value, str):
            if not SIGNED_HEX.match(value) or len(value) > self.max_chars:
                raise serializers.ValidationError("Must be a hex string (at most 256 KiB) or a transaction object.")
            return value
        if not isinstance(value, dict) or len(json.dumps(value)) > self.max_chars:
            raise serializers.ValidationError("Must be a hex string or a transaction object (at most 256 KiB).")
        return value


class BroadcastInput(serializers.Serializer):
    network = serializers.CharField(max_length=32)
    signed_transaction = SignedTransactionField(required=False)
    tx_hash = serializers.RegexField(
        TX_HASH,
        required=False,
        help_text="Instead of signed_transaction: a transaction the wallet broadcast itself (0x-hex on EVM and "
        "Starknet, the txid on Bitcoin).",
    )
    to_address = serializers.CharField(max_length=100, required=False)
    asset = serializers.CharField(max_length=16, required=False)
    amount = AmountField(required=False)
    gas_price = serializers.CharField(required=False, help_text="Ignored: the signed transaction says it.")
    gas_limit = serializers.CharField(required=False, help_text="Ignored: the signed transaction says it.")

    def validate(self, attrs):
        if bool(attrs.get("signed_transaction")) == bool(attrs.get("tx_hash")):
            raise serializers.ValidationError("Send either signed_transaction or tx_hash.")
        if attrs.get("signed_transaction"):
            missing = [f for f in ("to_address", "asset", "amount") if attrs.get(f) is None]
            if missing:
                raise serializers.ValidationError({f: "This field is required." for f in missing})
        if attrs.get("tx_hash"):
            try:
                attrs["tx_hash"] = client_for(chain(attrs["network"])).normalize_tx_hash(attrs["tx_hash"])
            except InvalidInput as exc:
                raise serializers.ValidationError({"tx_hash": [exc.message]}) from None
        return normalize_addresses(attrs, "to_address")


def gwei(wei) -> str | None:
    return None if wei is None else from_base_units(wei, 9)


def native(wei) -> str | None:
    return None if wei is None else from_base_units(wei, 18)


class BroadcastOutput(serializers.Serializer):
    transaction_id = serializers.CharField(source="id")
    tx_hash = serializers.CharField()
    status = serializers.CharField()
    network = serializers.CharField()
    estimated_confirmation = serializers.SerializerMethodField()
    gas_used = serializers.SerializerMethodField(help_text="Gas used once mined; the gas limit until then.")
    gas_price = serializers.SerializerMethodField(help_text="gwei: effective price once mined, max fee until then.")
    gas_limit = serializers.SerializerMethodField()
    nonce = serializers.IntegerField()
    from_address = serializers.CharField()

    def get_estimated_confirmation(self, obj: ChainTransaction) -> str:
        config = settings.CHAINS.get(obj.network, {})
        block_time = int(config.get("block_time_seconds", settings.TX_BLOCK_TIME_SECONDS))
        seconds = block_time * max(1, int(config.get("confirmations", 1)))
        eta = (obj.submitted_at or obj.created_at) + timedelta(seconds=seconds)
        return eta.isoformat().replace("+00:00", "Z")

    def get_gas_used(self, obj: ChainTransaction) -> str | None:
        value = obj.gas_used if obj.gas_used is not None else obj.gas_limit
        return None if value is None else str(value)

    def get_gas_price(self, obj: ChainTransaction) -> str | None:
        return gwei(obj.effective_gas_price if obj.effective_gas_price is not None else obj.max_fee_per_gas)

    def get_gas_limit(self, obj: ChainTransaction) -> str | None:
        return None if obj.gas_limit is None else str(obj.gas_limit)


class StatusOutput(serializers.Serializer):
    transaction_id = serializers.CharField(source="id")
    tx_hash = serializers.CharField()
    network = serializers.CharField()
    status = serializers.CharField()
    finalized = serializers.SerializerMethodField()
    confirmations = serializers.IntegerField()
    block_number = serializers.SerializerMethodField()
    block_hash = serializers.SerializerMethodField()
    gas_used = serializers.SerializerMethodField()
    gas_price = serializers.SerializerMethodField(help_text="gwei")
    total_fee = serializers.SerializerMethodField(help_text="In the fee asset (ETH, STRK, BTC); null until mined.")
    timestamp = serializers.SerializerMethodField(help_text="The block's time once mined; the submission before.")
    revert_reason = serializers.SerializerMethodField()

    def get_finalized(self, obj: ChainTransaction) -> bool:
        """The outcome is final: finalized, or failed in a finalized block."""
        return obj.status == ChainTransaction.Status.FINALIZED or (
            obj.status == ChainTransaction.Status.FAILED and obj.finalized_at is not None
        )

    def get_block_number(self, obj: ChainTransaction) -> str | None:
        return None if obj.block_number is None else str(obj.block_number)

    def get_block_hash(self, obj: ChainTransaction) -> str | None:
        return obj.block_hash or None

    def get_gas_used(self, obj: ChainTransaction) -> str | None:
        return None if obj.gas_used is None else str(obj.gas_used)

    def get_gas_price(self, obj: ChainTransaction) -> str | None:
        return gwei(obj.effective_gas_price if obj.effective_gas_price is not None else obj.max_fee_per_gas)

    def get_total_fee(self, obj: ChainTransaction) -> str | None:
        if obj.fee_paid is not None and obj.fee_decimals is not None:
            return from_base_units(obj.fee_paid, obj.fee_decimals)
        if obj.gas_used is None or obj.effective_gas_price is None:
            return None
        return native(obj.gas_used * obj.effective_gas_price)

    def get_timestamp(self, obj: ChainTransaction) -> str:
        moment = obj.block_timestamp or obj.submitted_at or obj.created_at
        return moment.isoformat().replace("+00:00", "Z")

    def get_revert_reason(self, obj: ChainTransaction) -> str | None:
        return obj.revert_reason or None


class TransactionListItemOutput(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    description = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField()
    asset = serializers.CharField(source="asset.symbol")
    value_usd = serializers.SerializerMethodField(
        help_text="Amount times the stored USD price at the time of the transaction; null when none was known then."
    )
    status = serializers.CharField()
    timestamp = serializers.SerializerMethodField()
    tx_hash = serializers.CharField(allow_null=True)
    network = serializers.CharField()
    to_address = serializers.CharField()
    from_address = serializers.CharField()
    confirmations = serializers.IntegerField()
    block_number = serializers.SerializerMethodField()

    def get_description(self, obj: ChainTransaction) -> str:
        amount = from_base_units(obj.amount_base, obj.decimals)
        to = f"{obj.to_address[:6]}…{obj.to_address[-4:]}"
        if obj.type == ChainTransaction.Type.ESCROW:
            return f"Escrow of {amount} {obj.asset.symbol} (contract {to})"
        if obj.type == ChainTransaction.Type.APPROVAL:
            return f"Allowed {to} to move {amount} {obj.asset.symbol}"
        return f"Sent {amount} {obj.asset.symbol} to {to}"

    def get_amount(self, obj: ChainTransaction) -> str:
        return from_base_units(obj.amount_base, obj.decimals)

    @extend_schema_field(
        serializers.DecimalField(max_digits=30, decimal_places=2, coerce_to_string=False, allow_null=True)
    )
    def get_value_usd(self, obj: ChainTransaction) -> Decimal | None:
        moment = obj.submitted_at or obj.created_at
        tolerance = timedelta(seconds=obj.asset.price_stale_after_seconds)
        price = price_at_or_before(token_id=obj.asset_id, moment=moment, tolerance=tolerance)
        if price is None:
            return None
        value = Decimal(obj.amount_base).scaleb(-obj.decimals) * price.price_usd
        return value.quantize(Decimal("0.01"))

    def get_timestamp(self, obj: ChainTransaction) -> str:
        return (obj.submitted_at or obj.created_at).isoformat().replace("+00:00", "Z")

    def get_block_number(self, obj: ChainTransaction) -> str | None:
        return None if obj.block_number is None else str(obj.block_number)


class TransactionPageOutput(serializers.Serializer):
    transactions = TransactionListItemOutput(many=True)
    total_count = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField()
