"""AML screening of addresses (wallets users link, counterparties they pay) against the current sanctions list
and, when configured, a Chainalysis-style API. A hit blocks the action with 403 ``sanctioned_address`` (the user
learns nothing about the list), opens an AML case for reviewers and is logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.kyc.models import AmlCase, KycAuditEvent, SanctionedAddress, SanctionsList
from engipay.api.errors import Forbidden, InvalidInput, StateConflict

from . import chainalysis
from .audit import kyc_audit_record
from .sanctions import address_normalize, sanctions_list_current

logger = logging.getLogger(__name__)

SANCTIONED_CODE = "sanctioned_address"
SANCTIONED_MESSAGE = "This address cannot be used with EngiPay."
SOURCE_CHAINALYSIS = "chainalysis"


@dataclass
class Hit:
    source: str
    sanctions_list: SanctionsList | None
    match: dict[str, Any] = field(default_factory=dict)


def address_screen(*, user, address: str, chain_kind: str | None, context: str, block: bool = True) -> AmlCase | None:
    """Screen ``address`` for ``user`` (None: someone signing up). No hit → None. A hit → an open AML case, an
    ``aml_hit`` audit event and a warning log, then ``Forbidden("sanctioned_address")`` (or, with
    ``block=False``, the case is returned: for what already happened on chain, e.g. tracking a sent transfer).

    Precondition: call it BEFORE opening a transaction. The case is written in a durable transaction of its own
    and must be committed before the Forbidden rolls the caller's work back (see ``_own_transaction``)."""
    normalized = address_normalize(address, chain_kind=chain_kind)
    current = sanctions_list_current()
    hit = _list_hit(normalized, current) or _chainalysis_hit(address, current)
    if hit is None:
        return None
    if _cleared_before(user=user, normalized=normalized, hit=hit):
        logger.info("AML: %s for user %s matches %s, cleared by a reviewer before", address, _uid(user), hit.source)
        return None
    case = _case_record(
        user=user, address=address, normalized=normalized, chain_kind=chain_kind, context=context, hit=hit
    )
    logger.warning(
        "AML hit: %s address %s (user %s, %s) matched %s (sanctions list %s); case %s%s",
        chain_kind or "unknown",
        address,
        _uid(user),
        context,
        hit.source,
        current.sha256[:12] if current else "none",
        case.pk,
        "" if block else " (not blocked)",
    )
    if block:
        raise Forbidden(SANCTIONED_CODE, SANCTIONED_MESSAGE)
    return case


def _uid(user) -> str:
    return str(user.pk) if user is not None else "none (sign-up)"


def _list_hit(normalized: str, current: SanctionsList | None) -> Hit | None:
    if current is None:
        return None
    row = SanctionedAddress.objects.filter(sanctions_list=current, normalized=normalized).order_by("pk").first()
    if row is None:
        return None
    match = {
        "ticker": row.ticker,
        "address": row.address,
        "entry_number": row.entry_number,
        "entry_name": row.entry_name,
        "list_sha256": current.sha256,
    }
    return Hit(source=current.source, sanctions_list=current, match=match)


def _chainalysis_hit(address: str, current: SanctionsList | None) -> Hit | None:
    """Fails open on an outage: the API is a second opinion on top of the list, which still applies; blocking
    every payment while a vendor is down is not what the rule asks for. The outage is logged."""
    if not chainalysis.chainalysis_configured():
        return None
    try:
        identifications = chainalysis.chainalysis_identifications(address=address)
    except chainalysis.ChainalysisUnavailable as exc:
        logger.warning("AML: the Chainalysis API failed for %s (%s); screened against the list only", address, exc)
        return None
    if not identifications:
        return None
    match = {"identifications": identifications, "list_sha256": current.sha256 if current else None}
    return Hit(source=SOURCE_CHAINALYSIS, sanctions_list=None, match=match)


def _cleared_before(*, user, normalized: str, hit: Hit) -> bool:
    """A reviewer cleared this very match (same user, address, source and list) as a false positive."""
    return (
        AmlCase.objects.filter(user=user, normalized=normalized, source=hit.source, sanctions_list=hit.sanctions_list)
        .filter(status=AmlCase.Status.CLEARED)
        .exists()
    )


def _own_transaction(context: str):
    """The case must survive the caller's rollback (the Forbidden that follows undoes the caller's writes).

    A second database connection would do that on PostgreSQL, but not on SQLite, where the caller's open write
    transaction holds the only write lock (the second connection would wait, then fail); and a row on another
    connection cannot reference a user the caller created but has not committed. So the callers screen before
    they open their transaction, and the case is written in a *durable* atomic block: Django refuses a durable
    block nested in another one, so it is committed when it closes, on every backend (pytest-django's test
    transaction excepted, which Django allows on purpose). A caller that breaks the precondition still blocks
    the action; its case then shares the caller's fate, so that is logged as an error (the warning log line
    with the match is written either way)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and not getattr(connection.atomic_blocks[-1], "_from_testcase", False):
        logger.error("AML: %s screened inside an open transaction; the case may be rolled back with it", context)
        return transaction.atomic()
    return transaction.atomic(durable=True)


def _case_record(*, user, address: str, normalized: str, chain_kind: str | None, context: str, hit: Hit) -> AmlCase:
    """The user's open case for this address (one per user and address), or a new one; plus an aml_hit event
    for every blocked attempt."""
    with _own_transaction(context):
        case = (
            AmlCase.objects.select_for_update()
            .filter(user=user, normalized=normalized, status=AmlCase.Status.OPEN)
            .order_by("pk")
            .first()
        )
        created = case is None
        if created:
            case = AmlCase.objects.create(
                user=user,
                address=address.strip()[:128],
                normalized=normalized[:128],
                chain_kind=chain_kind or "",
                context=context[:32],
                source=hit.source,
                sanctions_list=hit.sanctions_list,
                match=hit.match,
            )
        details = {"context": context, "source": hit.source, "address": address, "new_case": created, **hit.match}
        kyc_audit_record(action=KycAuditEvent.Action.AML_HIT, aml_case=case, details=details)
    return case


def wallets_rescreen(*, sanctions_list: SanctionsList) -> int:
    """Screen every linked wallet against a newly imported list: a hit opens a case (nothing is blocked until
    the wallet is used). Returns the number of hits. Precondition: no open transaction (see address_screen)."""
    from apps.accounts.models import Wallet

    listed = set(sanctions_list.addresses.values_list("normalized", flat=True))
    if not listed:
        return 0
    hits = 0
    for wallet in Wallet.objects.select_related("user").order_by("pk").iterator(chunk_size=2000):
        if address_normalize(wallet.address, chain_kind=wallet.chain_kind) in listed:
            hits += 1
            address_screen(
                user=wallet.user,
                address=wallet.address,
                chain_kind=wallet.chain_kind,
                context="list_rescreen",
                block=False,
            )
    logger.info("Sanctions list %s: %s linked wallet(s) matched", sanctions_list.sha256[:12], hits)
    return hits


# --- Reviewers (the admin) --------------------------------------------------------------------------------------


def aml_case_clear(*, case: AmlCase, reviewer, note: str) -> AmlCase:
    """A false positive: the same match no longer blocks this user (a new list or source opens a new case)."""
    return _aml_case_resolve(
        case=case, reviewer=reviewer, note=note, status=AmlCase.Status.CLEARED, action=KycAuditEvent.Action.AML_CLEARED
    )


def aml_case_confirm(*, case: AmlCase, reviewer, note: str) -> AmlCase:
    """A true match: the case is closed as confirmed; the address stays blocked."""
    return _aml_case_resolve(
        case=case,
        reviewer=reviewer,
        note=note,
        status=AmlCase.Status.CONFIRMED,
        action=KycAuditEvent.Action.AML_CONFIRMED,
    )


@transaction.atomic
def _aml_case_resolve(*, case: AmlCase, reviewer, note: str, status: str, action: str) -> AmlCase:
    if not (note or "").strip():
        raise InvalidInput("note_required", "Say why the case is resolved this way.")
    case = AmlCase.objects.select_for_update().get(pk=case.pk)  # two reviewers may race
    if case.status != AmlCase.Status.OPEN:
        raise StateConflict("aml_case_not_open", f"The case is {case.status}.")
    case.status = status
    case.resolution_note = note.strip()
    case.resolved_by = reviewer
    case.resolved_at = timezone.now()
    case.save(update_fields=["status", "resolution_note", "resolved_by", "resolved_at"])
    kyc_audit_record(
        action=action,
        actor=reviewer,
        aml_case=case,
        details={"from": AmlCase.Status.OPEN, "to": status, "note": case.resolution_note},
    )
    return case
