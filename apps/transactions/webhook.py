"""The blockchain webhook (apps.webhooks, topic "blockchain"; ours or Alchemy's address activity): a hint that some
transactions changed, never the truth (DESIGN.md section 2). Each claimed hash we track on that network, while still
open, is re-read from the chain with the tracker's own service; the claimed status and block are only echoed in the
result. Registered from ``TransactionsConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.chains.clients import ChainClient, client_for
from apps.chains.registry import chain
from apps.transactions.models import ChainTransaction
from apps.transactions.services import transaction_refresh_from_chain
from apps.webhooks.registry import WebhookEvent
from engipay.api.errors import InvalidInput


def blockchain_webhook_handle(event: WebhookEvent) -> str:
    payload = event.payload
    network = payload.get("network")
    if not network:
        provider_network = payload.get("provider_network")
        return f"Network {provider_network!r} is not mapped to a chain here (ALCHEMY_NETWORKS); nothing changed."
    if network not in settings.CHAINS:
        return f"Network {network!r} is not configured here; nothing changed."
    client = client_for(chain(network))
    return "\n".join(_claim_check(client, network, claim) for claim in payload.get("transactions", []))


def _spellings(client: ChainClient, given: str) -> set[str] | None:
    """The stored spelling of the hash and the case variants of what was sent (rows are stored normalised, but a
    hash is the same whatever its case); None if it cannot be a hash on this chain."""
    try:
        normalised = client.normalize_tx_hash(given)
    except InvalidInput:
        return None
    digits = given[2:] if given[:2].lower() == "0x" else given
    prefix = "0x" if given[:2].lower() == "0x" else ""
    return {normalised, given, prefix + digits.lower(), prefix + digits.upper()}


def _claim_check(client: ChainClient, network: str, claim: dict[str, Any]) -> str:
    given = claim["tx_hash"]
    said = _claimed(claim)
    spellings = _spellings(client, given)
    if spellings is None:
        return f"{given}: not a transaction hash on {network}; nothing changed."
    rows = ChainTransaction.objects.filter(network=network, tx_hash__in=spellings).order_by("pk")
    lines = []
    for row in rows.only("pk", "status", "finalized_at"):
        if not row.is_open:
            lines.append(f"{given}: already {row.status} (final){said}; nothing to re-read.")
            continue
        record = transaction_refresh_from_chain(transaction_id=row.pk)
        lines.append(f"{given}{said}: re-read from the chain: {_verdict(row.status, record)}.")
    return "\n".join(lines) or f"{given}: not tracked here{said}; nothing changed."


def _claimed(claim: dict[str, Any]) -> str:
    parts = [f"status {claim['status']}" if claim.get("status") else "", _block(claim.get("block_number"))]
    if claim.get("removed"):
        parts.append("log removed")
    parts = [part for part in parts if part]
    return f" (claimed {', '.join(parts)})" if parts else ""


def _block(number: int | None) -> str:
    return "" if number is None else f"block {number}"


def _verdict(before: str, record: ChainTransaction) -> str:
    where = "not in a block"
    if record.block_number is not None:
        where = f"in block {record.block_number}, {record.confirmations} confirmation(s)"
    if record.status == before:
        return f"still {record.status} ({where})"
    return f"{before} → {record.status} ({where})"
