"""The indexer's notifications: each transition read from the chain, each escrow a reorg changed, and each
pending escrow past its expiry (``escrows_expiry_notify``), to the escrow's parties."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.chains.units import from_base_units
from apps.escrow.models import Escrow, EscrowDeployment
from apps.escrow.selectors import escrow_party_users_many
from apps.notifications.services import notify

from .base import Name, Status, _Event, _Token, _tokens

# --- notifications ----------------------------------------------------------------------------------------------

_TRANSITION_NOTICES = {
    Name.CREATED: ("escrow_created", "Escrow created", "{amount} {asset} are held in escrow on {network}."),
    Name.ACCEPTED: ("escrow_accepted", "Escrow accepted", "The recipient accepted: {amount} {asset} were released."),
    Name.REJECTED: (
        "escrow_rejected",
        "Escrow rejected",
        "The recipient rejected the escrow: {amount} {asset} went back to the sender.",
    ),
    Name.CANCELLED: (
        "escrow_cancelled",
        "Escrow cancelled",
        "The sender cancelled the escrow: {amount} {asset} went back to the sender.",
    ),
    Name.EXPIRED: (
        "escrow_expired",
        "Escrow settled after expiry",
        "The escrow expired: {amount} {asset} were paid to the {party}.",
    ),
    Name.DISPUTED: (
        "escrow_disputed",
        "Escrow disputed",
        "The escrow of {amount} {asset} is disputed: its resolver will decide.",
    ),
    Name.RESOLVED: (
        "escrow_resolved",
        "Dispute resolved",
        "The resolver decided: {to_recipient} {asset} to the recipient, {to_sender} {asset} to the sender.",
    ),
}


def _money(escrow: Escrow, base: int | None, tokens: dict[str, _Token]) -> tuple[str, str]:
    """(amount in token units, asset): base units and the token address when the token is not in the registry."""
    token = tokens.get(escrow.token_address.lower())
    asset = token.symbol if token else escrow.token_address
    value = int(base if base is not None else escrow.amount_base)
    return (from_base_units(value, escrow.decimals) if escrow.decimals is not None else str(value)), asset


def _data(escrow: Escrow, network: str, status: str, tokens: dict[str, _Token], **extra: Any) -> dict[str, Any]:
    amount, asset = _money(escrow, None, tokens)
    return {
        "escrow_id": str(escrow.pk),
        "status": status,
        "network": network,
        "amount": amount,
        "amount_base": str(int(escrow.amount_base)),
        "asset": asset,
        "onchain_id": escrow.onchain_id,
        **extra,
    }


def _notify_transitions(network: str, notices: list[tuple[Escrow, _Event, str]], tokens: dict[str, _Token]) -> None:
    if not notices:
        return
    parties = escrow_party_users_many(escrows=list({escrow.pk: escrow for escrow, _, _ in notices}.values()))
    for escrow, event, status in notices:
        kind, title, template = _TRANSITION_NOTICES[event.name]
        data = _data(escrow, network, status, tokens, tx_hash=event.tx_hash, block_number=event.block_number)
        words = {"amount": data["amount"], "asset": data["asset"], "network": network}
        if event.name == Name.EXPIRED:
            paid_recipient = event.args["paidTo"].lower() == escrow.recipient_address.lower()
            words["party"] = "recipient" if paid_recipient else "sender"
            data["paid_to"] = event.args["paidTo"]
        if event.name == Name.RESOLVED:
            words["to_recipient"] = _money(escrow, int(event.args["toRecipient"]), tokens)[0]
            words["to_sender"] = _money(escrow, int(event.args["toSender"]), tokens)[0]
            data.update(to_recipient=words["to_recipient"], to_sender=words["to_sender"])
        for user in parties[escrow.pk]:
            notify(user=user, kind=kind, title=title, message=template.format(**words), data=data)


def _notify_reorged(network: str, escrows: list[Escrow], *, removed: set[Any], tokens: dict[str, _Token]) -> None:
    if not escrows:
        return
    parties = escrow_party_users_many(escrows=escrows)
    for escrow in escrows:
        if escrow.pk in removed:
            status, message = "removed", "A chain reorganisation dropped this escrow: it is no longer on chain."
        else:
            status = escrow.status
            message = f"A chain reorganisation replaced the block of this escrow's last change: it is {status} again."
        data = _data(escrow, network, status, tokens, block_number=escrow.block_number)
        for user in parties[escrow.pk]:
            notify(
                user=user,
                kind="escrow_reorged",
                title="Escrow changed by a chain reorganisation",
                message=message,
                data=data,
            )


# --- expiry -----------------------------------------------------------------------------------------------------


def escrows_expiry_notify(*, now: datetime | None = None) -> int:
    """Tell both parties of each pending escrow past its expiry (chain time: the later of ``now`` and the indexed
    head's time) that it can be settled now, once (``expiry_notified_at``). Returns how many escrows."""
    now = now or timezone.now()
    return sum(_expiry_notify(deployment, now) for deployment in EscrowDeployment.objects.order_by("network"))


@transaction.atomic
def _expiry_notify(deployment: EscrowDeployment, now: datetime) -> int:
    chain_time = max(now, deployment.head_timestamp) if deployment.head_timestamp else now
    due = list(
        Escrow.objects.select_for_update(skip_locked=True)  # a row a request holds: next round
        .filter(
            deployment=deployment, status=Status.PENDING, expires_at__lte=chain_time, expiry_notified_at__isnull=True
        )
        .order_by("pk")
    )
    if not due:
        return 0
    Escrow.objects.filter(pk__in=[e.pk for e in due]).update(expiry_notified_at=timezone.now())
    tokens, parties = _tokens(deployment.network), escrow_party_users_many(escrows=due)
    for escrow in due:
        data = _data(
            escrow,
            deployment.network,
            Status.EXPIRED,
            tokens,
            expires_at=escrow.expires_at.isoformat(),
            refund_url=f"/api/payments/escrow/{escrow.pk}/refund",
        )
        outcome = (
            "the sender can now be refunded"
            if escrow.require_confirmation
            else "the funds can now be released to the recipient"
        )
        message = (
            f"The escrow of {data['amount']} {data['asset']} has expired: {outcome}. "
            f"Either party can settle it (POST /api/payments/escrow/{escrow.pk}/refund)."
        )
        for user in parties[escrow.pk]:
            notify(user=user, kind="escrow_expiry_due", title="Escrow expired", message=message, data=data)
    return len(due)
