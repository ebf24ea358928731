"""Escrow disputes: the parties' statements with evidence files, and the resolver's decision.

Evidence is validated like ticket attachments (:mod:`engipay.uploads`, every check before anything is stored) under
a stricter policy: polyglots refused and PDF metadata dropped (the other party downloads these files). Files get
random names under ``escrow/%Y/%m/`` on ``evidence_storage``, which has no URL: only the parties' API and the
resolvers' admin stream them, through :func:`dispute_evidence_response`.

A decision is prepared by a staff member holding ``escrow.resolve_dispute`` for the platform's resolver key
(ESCROW_RESOLVER_ADDRESS), which only the resolvers hold: the server builds the unsigned ``resolve(id,
toRecipient)`` transaction, logs the decision (who, the split, why, the transaction) and records the transition;
the resolver signs offline and the admin submits the signed transaction. Decisions are never edited: a new one is
prepared instead (the old row stays in the log); only the indexer fills ``tx_hash`` once the resolution is on chain.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse

from apps.accounts.models import User
from apps.chains.clients import client_for
from apps.chains.registry import chain
from apps.chains.units import from_base_units, to_base_units
from apps.escrow import chain as contract
from apps.escrow.models import (
    DisputeDecision,
    DisputeEvidence,
    DisputeStatement,
    Escrow,
    EscrowAction,
    evidence_storage,
)
from apps.escrow.selectors import escrow_effective_status, escrow_party_users, escrow_roles
from apps.notifications.services import notify
from engipay import uploads
from engipay.api.errors import Forbidden, InvalidInput, NotFound, StateConflict
from engipay.uploads import EXTENSION, JPEG, PDF, PNG, TEXT, WEBP

from .calls import Call, calls_prepare
from .escrows import _action_create, escrow_action_submit, open_action

RESOLVE_PERMISSION = "escrow.resolve_dispute"
STATEMENT_MAX_CHARS = 5_000
EVIDENCE_TYPES = frozenset({PNG, JPEG, WEBP, PDF, TEXT})
Kind = EscrowAction.Kind
Role = DisputeStatement.Role


# --- evidence files ------------------------------------------------------------------------------------------


def evidence_policy(index: int) -> uploads.UploadPolicy:
    """The rules for the ``index``-th evidence file of a statement (settings are read at each call)."""
    return uploads.UploadPolicy(
        allowed=EVIDENCE_TYPES,
        max_bytes=settings.ESCROW_EVIDENCE_MAX_BYTES,
        max_pixels=settings.ESCROW_EVIDENCE_MAX_PIXELS,
        code_prefix="evidence",
        noun="evidence file",
        codes={"too_many_pixels": "evidence_image_too_large"},
        details={"index": index, "field": f"files[{index}]"},
        refuse_polyglots=True,
        strip_pdf_metadata=True,
    )


def evidence_prepare(raw: Iterable[Any]) -> list[uploads.PreparedFile]:
    """Validate raw evidence (base64 strings, data URLs or uploaded files) in order. Raises :class:`InvalidInput`
    naming the first refused item's index; stores nothing."""
    items = list(raw or ())
    limit = settings.ESCROW_EVIDENCE_PER_STATEMENT
    if len(items) > limit:
        raise InvalidInput(
            "too_many_evidence_files",
            f"At most {limit} evidence files per statement.",
            {"limit": limit, "count": len(items), "field": "files"},
        )
    return [uploads.upload_prepare(item, policy=evidence_policy(index)) for index, item in enumerate(items)]


def evidence_files_removed_on_error() -> AbstractContextManager[list[str]]:
    """:func:`engipay.uploads.files_removed_on_error` for evidence files."""
    return uploads.files_removed_on_error(evidence_storage)


def dispute_evidence_store(
    *, statement: DisputeStatement, items: Sequence[uploads.PreparedFile], written: list[str]
) -> list[DisputeEvidence]:
    """Write prepared evidence and its rows inside the caller's transaction. Each stored file's name is appended
    to ``written`` (from :func:`evidence_files_removed_on_error`) so it is deleted if the transaction fails."""
    stored = []
    for item in items:
        extension = EXTENSION[item.content_type]
        evidence = DisputeEvidence(
            statement=statement,
            original_name=item.original_name or f"evidence.{extension}",
            content_type=item.content_type,
            size=len(item.content),
            sha256=item.sha256,
        )
        evidence.file.save(f"{uuid.uuid4().hex}.{extension}", ContentFile(item.content), save=False)
        written.append(evidence.file.name)
        evidence.save()
        stored.append(evidence)
    return stored


def dispute_evidence_response(*, evidence: DisputeEvidence) -> FileResponse:
    """Stream an evidence file as a download that no browser will render or sniff. The caller has checked that
    the requester may see it (a party through the API, a resolver in the admin)."""
    return uploads.private_download(
        storage=evidence_storage,
        name=evidence.file.name,
        content_type=evidence.content_type,
        original_name=evidence.original_name,
        noun="evidence",
        missing_code="evidence_missing",
    )


# --- reads (the escrow is already scoped to the caller) --------------------------------------------------------


def dispute_statement_list(*, escrow: Escrow) -> QuerySet[DisputeStatement]:
    """Both parties' statements on ``escrow``, oldest first, with their evidence."""
    return escrow.statements.select_related("author").prefetch_related("evidence").order_by("created_at", "id")


def dispute_evidence_get(*, escrow: Escrow, evidence_id: int) -> DisputeEvidence:
    """One evidence file of ``escrow`` (which comes from ``escrow_get_for_user``); any other id is 404."""
    found = DisputeEvidence.objects.filter(pk=evidence_id, statement__escrow=escrow).first()
    if found is None:
        raise NotFound("evidence_not_found", "No such evidence file on this escrow.")
    return found


# --- statements ----------------------------------------------------------------------------------------------


def _open_for_statements(escrow: Escrow, *, has_open_dispute: bool) -> None:
    """409 unless a dispute is open or may still be opened: disputed, pending before expiry, or a dispute
    transaction on its way."""
    status = escrow_effective_status(escrow=escrow)
    if status in (Escrow.Status.DISPUTED, Escrow.Status.PENDING) or has_open_dispute:
        return
    raise StateConflict(
        "invalid_state", f"The escrow is {status}: statements are only taken during a dispute.", {"status": status}
    )


def _check_statement(escrow: Escrow, user: User, text: str) -> str:
    roles = escrow_roles(escrow=escrow, user=user)
    if not roles:
        raise Forbidden("not_party", "Only the escrow's sender or recipient can add a statement.")
    if not text:
        raise InvalidInput("text_required", "Write your statement.", {"field": "text"})
    if len(text) > STATEMENT_MAX_CHARS:
        raise InvalidInput(
            "text_too_long",
            f"A statement may have at most {STATEMENT_MAX_CHARS} characters.",
            {"field": "text", "max_chars": STATEMENT_MAX_CHARS, "length": len(text)},
        )
    return Role.SENDER if "sender" in roles else Role.RECIPIENT


def dispute_statement_add(*, escrow: Escrow, user: User, text: str, files: Iterable[Any] = ()) -> DisputeStatement:
    """A party's account of the dispute, with evidence files (base64 strings, data URLs or uploaded files).
    Everything is checked before anything is stored; a refusal leaves no row and no file. The other party is
    notified after commit."""
    text = (text or "").strip()
    role = _check_statement(escrow, user, text)
    open_dispute = escrow.actions.filter(kind=Kind.DISPUTE, status__in=EscrowAction.OPEN_STATUSES).exists()
    _open_for_statements(escrow, has_open_dispute=open_dispute)
    prepared = evidence_prepare(files)
    with evidence_files_removed_on_error() as written, transaction.atomic():
        escrow = Escrow.objects.select_for_update(of=("self",)).select_related("deployment").get(pk=escrow.pk)
        current = open_action(escrow=escrow)  # the status may have moved while the files were checked
        _open_for_statements(escrow, has_open_dispute=current is not None and current.kind == Kind.DISPUTE)
        statement = DisputeStatement.objects.create(escrow=escrow, author=user, role=role, text=text)
        dispute_evidence_store(statement=statement, items=prepared, written=written)
        _notify_other_party(escrow=escrow, statement=statement, evidence_count=len(prepared))
    return statement


def _notify_other_party(*, escrow: Escrow, statement: DisputeStatement, evidence_count: int) -> None:
    other = Role.RECIPIENT if statement.role == Role.SENDER else Role.SENDER
    files = f" with {evidence_count} evidence file{'s' if evidence_count != 1 else ''}" if evidence_count else ""
    for party in escrow_party_users(escrow=escrow):
        if party.pk == statement.author_id or other not in escrow_roles(escrow=escrow, user=party):
            continue
        notify(
            user=party,
            kind="escrow_dispute_statement",
            title="New statement in an escrow dispute",
            message=f"The {statement.role} added a statement{files}.",
            data={
                "escrow_id": str(escrow.id),
                "statement_id": statement.pk,
                "role": statement.role,
                "evidence_count": evidence_count,
            },
        )


# --- decisions -----------------------------------------------------------------------------------------------


def _require_resolver(staff_user: User) -> None:
    if not (staff_user.is_active and staff_user.is_staff and staff_user.has_perm(RESOLVE_PERMISSION)):
        raise Forbidden("not_resolver", "Only EngiPay's dispute resolvers can decide disputes.")


def _split(escrow: Escrow, to_recipient: Decimal) -> int:
    """``to_recipient`` (token units; base units for a token outside the registry, whose decimals are unknown)
    in base units, within the escrow's amount."""
    decimals = escrow.decimals if escrow.decimals is not None else 0
    if not isinstance(to_recipient, Decimal) or not to_recipient.is_finite() or to_recipient < 0:
        raise InvalidInput(
            "invalid_amount", "The amount to the recipient must be zero or more.", {"field": "to_recipient"}
        )
    base = to_base_units(to_recipient, decimals)
    amount = int(escrow.amount_base)
    if base > amount:
        total = from_base_units(amount, decimals)
        raise InvalidInput(
            "split_exceeds_amount",
            f"The recipient can get at most the escrowed amount, {total}.",
            {"field": "to_recipient", "amount": total, "to_recipient": from_base_units(base, decimals)},
        )
    return base


def _platform_resolver(escrow: Escrow, onchain_resolver: str | None = None) -> None:
    platform = (settings.ESCROW_RESOLVER_ADDRESS or "").lower()
    named = [escrow.resolver_address.lower()]
    if onchain_resolver is not None:
        named.append(onchain_resolver.lower())
    if not platform or any(address != platform for address in named):
        raise StateConflict(
            "not_platform_resolver",
            "This escrow names another resolver than EngiPay's: its dispute cannot be decided here.",
            {"resolver": onchain_resolver or escrow.resolver_address},
        )


def dispute_decision_prepare(
    *, escrow: Escrow, staff_user: User, to_recipient: Decimal, reason: str
) -> DisputeDecision:
    """Log a resolver's decision on a disputed escrow and prepare its ``resolve(id, toRecipient)`` transaction for
    the platform's resolver key; the rest goes back to the sender. The escrow must be disputed in the database
    and on chain, name the platform's resolver and have no other open transition (409 otherwise)."""
    _require_resolver(staff_user)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason_required", "Give the reason for the decision.", {"field": "reason"})
    to_recipient_base = _split(escrow, to_recipient)
    config = chain(escrow.deployment.network)
    with transaction.atomic():
        escrow = Escrow.objects.select_for_update(of=("self",)).select_related("deployment").get(pk=escrow.pk)
        current = open_action(escrow=escrow)
        if current is not None:
            raise StateConflict(
                "transition_in_progress",
                f"A {current.kind} of this escrow is already {current.status}; wait for it to settle.",
                {"action": current.kind, "status": current.status},
            )
        if escrow.status != Escrow.Status.DISPUTED:
            raise StateConflict(
                "invalid_state", f"The escrow is {escrow.status}, not disputed.", {"status": escrow.status}
            )
        _platform_resolver(escrow)
        deployment = escrow.deployment
        onchain = contract.escrow_read(client_for(config), contract=deployment.address, onchain_id=escrow.onchain_id)
        if onchain.state != "disputed":
            raise StateConflict(
                "invalid_state", f"The escrow is {onchain.state} on chain, not disputed.", {"state": onchain.state}
            )
        _platform_resolver(escrow, onchain.resolver)
        if to_recipient_base > onchain.amount:  # the chain is the truth; the row should agree
            raise InvalidInput("split_exceeds_amount", "The recipient can get at most the escrowed amount.")
        data = contract.calldata("resolve", contract.id_bytes(escrow.onchain_id), to_recipient_base)
        prepared = calls_prepare(
            config=config, sender=onchain.resolver, calls=[Call(Kind.RESOLVE, deployment.address, data)]
        )
        _action_create(escrow=escrow, kind=Kind.RESOLVE, user=staff_user, signer=onchain.resolver, steps=prepared.steps)
        return DisputeDecision.objects.create(
            escrow=escrow,
            decided_by=staff_user,
            resolver_address=onchain.resolver,
            to_recipient_base=Decimal(to_recipient_base),
            to_sender_base=Decimal(onchain.amount - to_recipient_base),
            reason=reason,
            transaction=prepared.steps[0]["transaction"],
        )


def dispute_decision_submit(*, decision: DisputeDecision, staff_user: User, signed_transaction: str) -> EscrowAction:
    """Send the resolver's signed ``resolve`` transaction for ``decision`` (it must be exactly the prepared one;
    the signer is the resolver key, not a wallet of the staff member). Only who prepared the decision submits it,
    while it is still the escrow's latest transition of theirs. The indexer fills the decision's ``tx_hash`` when
    the resolution is on chain."""
    _require_resolver(staff_user)
    if decision.decided_by_id != staff_user.pk:
        raise Forbidden("not_decider", "Only the resolver who prepared this decision can submit its transaction.")
    escrow = decision.escrow
    if escrow.decisions.order_by("-created_at", "-id").first() != decision:
        raise StateConflict("decision_superseded", "A later decision on this escrow replaced this one.")
    latest = escrow.actions.filter(user=staff_user).order_by("-created_at", "-id").first()
    prepared = latest.transactions[0]["transaction"] if latest is not None and latest.transactions else None
    if latest is None or latest.kind != Kind.RESOLVE or prepared != decision.transaction:
        raise StateConflict("decision_superseded", "This decision is no longer the one waiting for a signature.")
    return escrow_action_submit(
        escrow=escrow, user=staff_user, signed_transactions=[signed_transaction], own_wallet=False
    )
