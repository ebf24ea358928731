"""The public payment page of an escrow (its ``payment_link``): what anyone holding the link may see, without
signing in. It shows the terms and the state as last indexed (no chain call per request: the page is public) and
nothing private: no user ids or emails, addresses shortened."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_safe

from apps.chains.registry import chains
from apps.chains.units import from_base_units
from apps.escrow import chain as contract
from apps.escrow.models import Escrow
from apps.escrow.selectors import escrow_effective_status

STATE_TEXT = {
    Escrow.Status.AWAITING_SIGNATURE: "Waiting for the sender to sign and send it",
    Escrow.Status.PENDING: "Funds locked, waiting for the recipient",
    Escrow.Status.ACCEPTED: "Accepted: paid to the recipient",
    Escrow.Status.REJECTED: "Rejected by the recipient: refunded to the sender",
    Escrow.Status.CANCELLED: "Cancelled by the sender: refunded",
    Escrow.Status.EXPIRED: "Expired",
    Escrow.Status.DISPUTED: "Disputed: funds frozen until the resolver decides",
    Escrow.Status.RESOLVED: "Resolved by the dispute resolver",
}


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def _network_name(key: str) -> str:
    return next((config.name for config in chains() if config.key == key), key)


def _context(escrow: Escrow) -> dict[str, Any]:
    symbol = escrow.token.symbol if escrow.token_id else _short(escrow.token_address)
    if escrow.decimals is None:
        amount = f"{int(escrow.amount_base)} base units"
    else:
        amount = from_base_units(int(escrow.amount_base), escrow.decimals)
    status = escrow_effective_status(escrow=escrow)
    on_chain = escrow.status != Escrow.Status.AWAITING_SIGNATURE
    return {
        "escrow": escrow,
        "amount": amount,
        "asset": symbol,
        "status": status,
        "status_text": STATE_TEXT.get(status, status),
        "memo": escrow.memo,
        # A memo kept by EngiPay is checked against the hash the contract holds (a chain-found escrow has none).
        "memo_matches": contract.memo_hash(escrow.memo) == escrow.memo_hash.lower() if escrow.memo else None,
        "network": _network_name(escrow.deployment.network),
        "contract_address": escrow.deployment.address,
        "onchain_id": escrow.onchain_id if on_chain else "",
        "sender": _short(escrow.sender_address),
        "recipient": _short(escrow.recipient_address),
        "is_pending": status == Escrow.Status.PENDING,
    }


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return response


@require_safe
def escrow_payment_page(request: HttpRequest, escrow_id: str) -> HttpResponse:
    """``GET /pay/escrow/<id>``: the escrow's terms and state; an unknown or malformed id is a 404 page."""
    try:
        escrow = Escrow.objects.select_related("deployment", "token").filter(id=uuid.UUID(escrow_id)).first()
    except ValueError:
        escrow = None
    if escrow is None:
        response = TemplateResponse(request, "escrow/pay.html", {"not_found": True}, status=404)
    else:
        response = TemplateResponse(request, "escrow/pay.html", _context(escrow))
    return _private(response)
