"""The inbound formats, validated after the signature: ours for each topic, and Alchemy's address-activity envelope
(reference/external-apis.md section 2) on the blockchain topic, normalised to ours.

Validation is about shape only (types, lengths, formats); whether a network, token or transaction means anything
here is the owning app's question when it handles the event. Values are JSON types exactly: a string field does not
take a number, an integer field does not take ``true``, and a price is never a float.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from engipay.api.errors import InvalidInput

MAX_ITEMS = 100
ALCHEMY_MAX_ACTIVITY = 1000
ADDRESS_ACTIVITY = "ADDRESS_ACTIVITY"
# 0x + up to 64 hex digits (EVM, Starknet felts) or a bare 64-digit Bitcoin txid.
TX_HASH = re.compile(r"^(0[xX][0-9a-fA-F]{1,64}|[0-9a-fA-F]{64})$")
EVM_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
HEX_QUANTITY = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
SYMBOL = re.compile(r"^[A-Za-z0-9._-]{1,16}$")
DECIMAL = re.compile(r"^-?\d{1,40}(\.\d{1,40})?$")
ISO_MAX_LENGTH = 64


def parse_iso_datetime(value: Any) -> datetime | None:
    """An ISO-8601 date-time with a zone (``Z`` or an offset), in UTC; fractions beyond microseconds (Alchemy sends
    nanoseconds) are cut. None for anything else: naive times, and years outside 1970-9998."""
    if not isinstance(value, str) or len(value) > ISO_MAX_LENGTH or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.utcoffset() is None:
            return None
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # year 1 at +01:00 has no UTC
        return None
    return moment if 1970 <= moment.year < 9999 else None


# --- strict fields -------------------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string only (DRF's CharField would turn 42 into "42")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only (not "42", not true, not 42.0)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(
    {"oneOf": [{"type": "string", "pattern": DECIMAL.pattern, "example": "2500.12"}, {"type": "integer"}]}
)
class PriceField(serializers.Field):
    """A decimal as a JSON string (``"2500.12"``) or integer; a float is refused: money is never a float. Kept as
    the string given, so no digit is lost before the prices app parses it with ``Decimal``."""

    default_error_messages = {
        "float": 'Must be a JSON string or integer (a decimal such as "2500.12"), never a float.',
        "invalid": 'Must be a decimal number such as "2500.12".',
    }

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, float):
            self.fail("float")
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("invalid")
        text = str(data).strip()
        if not DECIMAL.match(text):
            self.fail("invalid")
        return text

    def to_representation(self, value: Any) -> str:
        return str(value)


@extend_schema_field({"type": "string", "format": "date-time"})
class AwareDateTimeField(serializers.Field):
    """ISO-8601 with a zone; kept as the normalised ISO string (the payload is stored as JSON)."""

    default_error_messages = {"invalid": "Must be an ISO-8601 date-time with a zone, e.g. 2024-01-01T00:00:00Z."}

    def to_internal_value(self, data: Any) -> str:
        moment = parse_iso_datetime(data)
        if moment is None:
            self.fail("invalid")
        return moment.isoformat()

    def to_representation(self, value: Any) -> str:
        return str(value)


def _event_id(help_text: str = "The sender's event id: the replay guard (per sender and topic).") -> StrictCharField:
    return StrictCharField(max_length=128, help_text=help_text)


def _tx_hash(**kwargs: Any) -> StrictCharField:
    return StrictCharField(
        max_length=66,
        validators=[RegexValidator(TX_HASH, "Not a transaction hash.")],
        help_text="0x-hex (EVM, Starknet) or a Bitcoin txid.",
        **kwargs,
    )


# --- blockchain: ours ----------------------------------------------------------------------------------------


class TransactionClaimSerializer(serializers.Serializer):
    tx_hash = _tx_hash()
    block_number = StrictIntegerField(min_value=0, required=False, allow_null=True, help_text="A claim only.")
    status = StrictCharField(max_length=32, required=False, allow_null=True, help_text="A claim only, never applied.")


class BlockchainWebhookSerializer(serializers.Serializer):
    id = _event_id()
    type = StrictCharField(max_length=64, help_text='e.g. "transaction.updated".')
    network = StrictCharField(max_length=32, help_text="A chain key of this deployment (CHAINS).")
    tx_hash = _tx_hash(required=False)
    block_number = StrictIntegerField(min_value=0, required=False, allow_null=True, help_text="A claim only.")
    status = StrictCharField(max_length=32, required=False, allow_null=True, help_text="A claim only, never applied.")
    transactions = serializers.ListField(
        child=TransactionClaimSerializer(),
        required=False,
        max_length=MAX_ITEMS,
        help_text="Several transactions in one event (instead of, or besides, tx_hash).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("tx_hash") and not attrs.get("transactions"):
            raise serializers.ValidationError({"tx_hash": ["Give tx_hash or a non-empty transactions list."]})
        return attrs


# --- blockchain: Alchemy address activity ----------------------------------------------------------------------


class AlchemyLogSerializer(serializers.Serializer):
    removed = serializers.BooleanField(required=False, help_text="true: a re-org dropped the log.")


class AlchemyActivitySerializer(serializers.Serializer):
    hash = StrictCharField(validators=[RegexValidator(EVM_HASH, "Not a transaction hash.")])
    blockNum = StrictCharField(
        required=False, allow_null=True, validators=[RegexValidator(HEX_QUANTITY, "Not a hex quantity.")]
    )
    log = AlchemyLogSerializer(required=False, allow_null=True)


class AlchemyEventSerializer(serializers.Serializer):
    network = StrictCharField(max_length=64, help_text="e.g. ETH_MAINNET (mapped by ALCHEMY_NETWORKS).")
    activity = serializers.ListField(child=AlchemyActivitySerializer(), required=False, max_length=ALCHEMY_MAX_ACTIVITY)
    error = StrictCharField(required=False, allow_blank=True, max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "activity" not in attrs and "error" not in attrs:
            raise serializers.ValidationError({"activity": ["This field is required."]})
        return attrs


class AlchemyWebhookSerializer(serializers.Serializer):
    webhookId = StrictCharField(max_length=128, required=False)
    id = _event_id(help_text="whevt_…: the replay guard.")
    createdAt = AwareDateTimeField(help_text="ISO-8601, up to nanoseconds: the signed timestamp.")
    type = StrictCharField(max_length=64, help_text="ADDRESS_ACTIVITY (other types are stored and ignored).")
    event = serializers.DictField(help_text="network and activity[] (or error).")


# --- prices and DeFi -----------------------------------------------------------------------------------------


class PricePointSerializer(serializers.Serializer):
    symbol = StrictCharField(validators=[RegexValidator(SYMBOL, "Not a token symbol.")])
    price_usd = PriceField(help_text='USD, a JSON string ("2500.12") or integer; floats are refused.')
    observed_at = AwareDateTimeField(help_text="When the sender observed the price (ISO-8601 with a zone).")


class PricesWebhookSerializer(serializers.Serializer):
    id = _event_id()
    prices = serializers.ListField(child=PricePointSerializer(), min_length=1, max_length=MAX_ITEMS)


class DefiWebhookSerializer(serializers.Serializer):
    id = _event_id()
    protocol = serializers.ChoiceField(choices=["vesu", "trove", "endur"])
    network = StrictCharField(max_length=32)
    wallet_address = StrictCharField(validators=[RegexValidator(ADDRESS, "Not a 0x-hex address.")])
    position_id = StrictCharField(max_length=128, required=False, allow_null=True)
    event = StrictCharField(max_length=64, required=False, allow_null=True)


# --- validation and normalisation ------------------------------------------------------------------------------


def _validated(serializer_class: type[serializers.Serializer], data: Any, *, prefix: str = "") -> dict[str, Any]:
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    details = json.loads(json.dumps(serializer.errors))  # ErrorDetail → plain strings
    if prefix:
        details = {prefix: details}
    raise InvalidInput("invalid_payload", f"The payload is not valid: {_first(details)}", details)


def _first(details: Any, path: str = "") -> str:
    if isinstance(details, dict) and details:
        key, value = next(iter(details.items()))
        return _first(value, f"{path}.{key}" if path and key != "non_field_errors" else path or str(key))
    if isinstance(details, list) and details:
        return _first(details[0], path)
    return f"{path}: {details}" if path else str(details)


def claimed_event_id(data: Any) -> str:
    """The body's ``id`` if it looks like one (for the log of a refused delivery), else ""."""
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 128 and "\x00" not in value else ""


def blockchain_payload(data: Any) -> dict[str, Any]:
    attrs = _validated(BlockchainWebhookSerializer, data)
    claims = []
    if attrs.get("tx_hash"):
        claims.append({key: attrs.get(key) for key in ("tx_hash", "block_number", "status")})
    claims += [{"block_number": None, "status": None, **dict(claim)} for claim in attrs.get("transactions", [])]
    unique: dict[str, dict[str, Any]] = {}  # one claim per hash, whatever its case: the first one
    for claim in claims:
        unique.setdefault(claim["tx_hash"].lower(), {**claim, "removed": False})
    return {
        "format": "engipay",
        "id": attrs["id"],
        "type": attrs["type"],
        "network": attrs["network"],
        "transactions": list(unique.values()),
    }


def alchemy_payload(data: Any, *, networks: dict[str, str]) -> dict[str, Any]:
    """Alchemy's envelope as our blockchain event. ``network`` is our chain key, or None when ALCHEMY_NETWORKS has
    no entry for Alchemy's network name (kept in ``provider_network``). An envelope carrying ``event.error``, or of
    a type other than ADDRESS_ACTIVITY, gets ``ignored`` (stored, nothing to do)."""
    envelope = _validated(AlchemyWebhookSerializer, data)
    normalised: dict[str, Any] = {
        "format": "alchemy",
        "id": envelope["id"],
        "type": envelope["type"],
        "created_at": envelope["createdAt"],
        "webhook_id": envelope.get("webhookId", ""),
        "provider_network": None,
        "network": None,
        "transactions": [],
    }
    if envelope["type"] != ADDRESS_ACTIVITY:
        normalised["ignored"] = f"Alchemy {envelope['type']} webhooks are not handled (only {ADDRESS_ACTIVITY})."
        return normalised
    event = _validated(AlchemyEventSerializer, envelope["event"], prefix="event")
    mapped = networks.get(event["network"])
    normalised["provider_network"] = event["network"]
    normalised["network"] = mapped if isinstance(mapped, str) and mapped else None
    if "activity" not in event:
        normalised["ignored"] = f"Alchemy reported an error instead of activity: {event['error']}"
        return normalised
    seen: dict[str, dict[str, Any]] = {}
    for entry in event["activity"]:
        tx_hash = entry["hash"].lower()
        block = entry.get("blockNum")
        claim = seen.setdefault(tx_hash, {"tx_hash": tx_hash, "block_number": None, "status": None, "removed": False})
        if block:
            claim["block_number"] = int(block, 16)
        claim["removed"] = claim["removed"] or bool((entry.get("log") or {}).get("removed"))
    normalised["transactions"] = list(seen.values())
    return normalised


def prices_payload(data: Any) -> dict[str, Any]:
    attrs = _validated(PricesWebhookSerializer, data)
    points = [
        {"symbol": point["symbol"].upper(), "price_usd": point["price_usd"], "observed_at": point["observed_at"]}
        for point in attrs["prices"]
    ]
    return {"id": attrs["id"], "prices": points}


def defi_payload(data: Any) -> dict[str, Any]:
    return _validated(DefiWebhookSerializer, data)
