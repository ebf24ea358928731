"""The escrow back office (DESIGN.md section 10): escrows as the chain made them (read-only: the indexer writes
them), a "Disputed" shortcut, and, for the Escrow resolvers, a resolution page per disputed escrow.

The resolution page (``admin/escrow/escrow/<id>/resolution/``, permission ``escrow.resolve_dispute``) shows both
parties' statements and evidence, the escrow as the contract holds it now and the decision log; its forms call
:func:`dispute_decision_prepare` (which logs the decision and shows the unsigned ``resolve`` transaction for the
resolver key, held offline by the resolvers) and :func:`dispute_decision_submit` (the signed transaction pasted
back). Evidence has one admin URL, ``admin/escrow/escrow/evidence/<id>/``, behind the same permission and
``escrow.view_disputeevidence``. A refusal of a service (``ApplicationError``) is shown with ``messages.error``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from apps.chains.clients import client_for
from apps.chains.registry import chain
from apps.chains.units import from_base_units
from apps.escrow import chain as contract
from apps.escrow.services import disputes as dispute_services
from engipay.api.errors import ApplicationError
from engipay.readonly_admin import ReadOnlyAdmin

from .models import (
    DisputeDecision,
    DisputeEvidence,
    DisputeStatement,
    Escrow,
    EscrowAction,
    EscrowDeployment,
    EscrowEvent,
)

RESOLVE_PERMISSION = dispute_services.RESOLVE_PERMISSION
EVIDENCE_PERMISSION = "escrow.view_disputeevidence"


def _amount(escrow: Escrow, base: Any) -> str:
    if base is None:
        return "—"
    symbol = escrow.token.symbol if escrow.token_id else escrow.token_address
    if escrow.decimals is None:
        return f"{int(base)} base units of {symbol}"
    return f"{from_base_units(int(base), escrow.decimals)} {symbol}"


def _person(user: Any) -> str:
    # Plain text: resolvers have no access to the user admin.
    if user is None:
        return "—"
    return user.email or f"user {user.pk}"


def _pretty(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- escrows -----------------------------------------------------------------------------------------------------


class EventInline(ReadOnlyInline):
    model = EscrowEvent
    fields = ["name", "block_number", "block_timestamp", "tx_hash", "log_index", "args_json"]
    readonly_fields = fields

    @admin.display(description="args")
    def args_json(self, event: EscrowEvent) -> str:
        return _pretty(event.args)


class ActionInline(ReadOnlyInline):
    model = EscrowAction
    fields = ["kind", "status", "user_display", "signer_address", "tx_hashes", "prepared_until", "created_at"]
    readonly_fields = fields

    @admin.display(description="asked by")
    def user_display(self, action: EscrowAction) -> str:
        return _person(action.user)


class StatementInline(ReadOnlyInline):
    model = DisputeStatement
    fields = ["role", "text", "evidence_links", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[DisputeStatement]:
        return super().get_queryset(request).prefetch_related("evidence")

    @admin.display(description="evidence")
    def evidence_links(self, statement: DisputeStatement) -> str:
        return _evidence_links(statement) or "—"


def _evidence_links(statement: DisputeStatement) -> str:
    return format_html_join(
        ", ",
        '<a href="{}" class="evidence-link">{}</a> ({}, {} bytes)',
        (
            (reverse("admin:escrow_escrow_evidence", args=[e.pk]), str(e), e.content_type, e.size)
            for e in statement.evidence.all()
        ),
    )


class DecisionColumns:
    """Who decided and the split, for the decision inline and the decision log."""

    @admin.display(description="decided by")
    def decided_by_display(self, decision: DisputeDecision) -> str:
        return _person(decision.decided_by)

    @admin.display(description="to the recipient")
    def to_recipient(self, decision: DisputeDecision) -> str:
        return _amount(decision.escrow, decision.to_recipient_base)

    @admin.display(description="to the sender")
    def to_sender(self, decision: DisputeDecision) -> str:
        return _amount(decision.escrow, decision.to_sender_base)


class DecisionInline(DecisionColumns, ReadOnlyInline):
    model = DisputeDecision
    fields = ["created_at", "decided_by_display", "to_recipient", "to_sender", "reason", "tx_hash"]
    readonly_fields = fields


class DecisionForm(forms.Form):
    """The decision box of the resolution page; the rules (split within the amount, state) are the service's."""

    to_recipient = forms.DecimalField(
        label="Amount to the recipient",
        min_value=0,
        help_text="In token units; the rest goes back to the sender.",
    )
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 4, "cols": 80}), max_length=5000)


class SubmitForm(forms.Form):
    decision = forms.IntegerField(widget=forms.HiddenInput)
    signed_transaction = forms.CharField(
        label="Signed transaction",
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80, "spellcheck": "false"}),
        help_text="The raw transaction (0x…) signed with the resolver key.",
    )


@admin.register(Escrow)
class EscrowAdmin(ReadOnlyAdmin):
    change_list_template = "admin/escrow/escrow/change_list.html"
    change_form_template = "admin/escrow/escrow/change_form.html"
    list_display = ["id", "status", "network", "asset", "amount", "sender_address", "recipient_address",
                    "expires_at", "created_at"]  # fmt: skip
    list_filter = ["status", "deployment__network", "source"]
    search_fields = ["=id", "=onchain_id", "sender_address", "recipient_address", "=events__tx_hash",
                     "=decisions__tx_hash", "actions__tx_hashes__icontains"]  # fmt: skip
    list_select_related = ["deployment", "token"]
    ordering = ["-created_at", "-id"]
    inlines = [EventInline, ActionInline, StatementInline, DecisionInline]
    fieldsets = [
        (None, {"fields": ["id", "status", "network", "contract_address", "onchain_id", "source", "created_at"]}),
        ("Parties", {"fields": ["sender_address", "recipient_address", "resolver_address", "disputed_by"]}),
        ("Funds", {"fields": ["asset", "token_address", "amount", "paid_to_recipient", "refunded_to_sender"]}),
        ("Terms", {"fields": ["expires_at", "require_confirmation", "memo", "memo_hash"]}),
        ("Chain", {"fields": ["block_number", "block_hash", "updated_at"]}),
    ]
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    @admin.display(description="network", ordering="deployment__network")
    def network(self, escrow: Escrow) -> str:
        return escrow.deployment.network

    @admin.display(description="contract")
    def contract_address(self, escrow: Escrow) -> str:
        return escrow.deployment.address

    @admin.display(description="asset")
    def asset(self, escrow: Escrow) -> str:
        return escrow.token.symbol if escrow.token_id else escrow.token_address

    @admin.display(description="amount", ordering="amount_base")
    def amount(self, escrow: Escrow) -> str:
        return _amount(escrow, escrow.amount_base)

    @admin.display(description="paid to the recipient")
    def paid_to_recipient(self, escrow: Escrow) -> str:
        return _amount(escrow, escrow.paid_to_recipient_base)

    @admin.display(description="refunded to the sender")
    def refunded_to_sender(self, escrow: Escrow) -> str:
        return _amount(escrow, escrow.refunded_to_sender_base)

    # --- the disputed shortcut and the resolution page

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None):
        extra = dict(extra_context or {})
        extra["disputed_count"] = Escrow.objects.filter(status=Escrow.Status.DISPUTED).count()
        extra["disputed_url"] = reverse("admin:escrow_escrow_changelist") + "?status__exact=disputed"
        return super().changelist_view(request, extra)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        escrow = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if escrow is not None and request.user.has_perm(RESOLVE_PERMISSION):
            extra["resolution_url"] = reverse("admin:escrow_escrow_resolution", args=[quote(escrow.pk)])
            extra["is_disputed"] = escrow.status == Escrow.Status.DISPUTED
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list[Any]:
        site = self.admin_site
        return [
            path("<str:object_id>/resolution/", site.admin_view(self.resolution_view), name="escrow_escrow_resolution"),
            path(
                "<str:object_id>/resolution/decide/",
                site.admin_view(require_POST(self.decide_view)),
                name="escrow_escrow_decide",
            ),
            path(
                "<str:object_id>/resolution/submit/",
                site.admin_view(require_POST(self.submit_view)),
                name="escrow_escrow_submit",
            ),
            path(
                "evidence/<int:evidence_id>/",
                site.admin_view(self.evidence_view, cacheable=True),  # sets its own no-store
                name="escrow_escrow_evidence",
            ),
            *super().get_urls(),
        ]

    def _escrow_for(self, request: HttpRequest, object_id: str) -> Escrow:
        if not request.user.has_perm(RESOLVE_PERMISSION):
            raise PermissionDenied
        escrow = get_object_or_404(Escrow.objects.select_related("deployment", "token"), pk=unquote(object_id))
        if not self.has_view_permission(request, escrow):
            raise PermissionDenied
        return escrow

    def _resolution_url(self, escrow: Escrow) -> str:
        return reverse("admin:escrow_escrow_resolution", args=[quote(escrow.pk)])

    def resolution_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Statements, evidence, the contract's view of the escrow, the decision log and the two forms."""
        escrow = self._escrow_for(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Resolve the dispute on escrow {escrow.pk}",
            "original": escrow,
            "amount": _amount(escrow, escrow.amount_base),
            "statements": list(dispute_services.dispute_statement_list(escrow=escrow)),
            "decision_form": DecisionForm(),
            **self._chain_context(escrow),
            **self._decisions_context(request, escrow),
        }
        return TemplateResponse(request, "admin/escrow/escrow/resolution.html", context)

    def _chain_context(self, escrow: Escrow) -> dict[str, Any]:
        if escrow.status == Escrow.Status.AWAITING_SIGNATURE:
            return {"onchain": None, "onchain_error": "Not on chain yet."}
        try:
            config = chain(escrow.deployment.network)
            onchain = contract.escrow_read(
                client_for(config), contract=escrow.deployment.address, onchain_id=escrow.onchain_id
            )
        except ApplicationError as exc:
            return {"onchain": None, "onchain_error": exc.message}
        return {
            "onchain": onchain,
            "onchain_amount": _amount(escrow, onchain.amount),
            "onchain_expires_at": onchain.expires_at,
            "memo_matches": contract.memo_hash(escrow.memo) == onchain.memo_hash if escrow.memo else None,
        }

    def _decisions_context(self, request: HttpRequest, escrow: Escrow) -> dict[str, Any]:
        decisions = list(escrow.decisions.select_related("decided_by", "escrow__token"))
        open_resolve = escrow.actions.filter(kind=EscrowAction.Kind.RESOLVE, status__in=EscrowAction.OPEN_STATUSES)
        open_transactions = [a.transactions[0]["transaction"] for a in open_resolve if a.transactions]
        # Newest first: the decision whose transaction is still open, if any.
        pending = next((d for d in decisions if d.transaction in open_transactions), None)
        rows = [
            {
                "decision": d,
                "to_recipient": _amount(escrow, d.to_recipient_base),
                "to_sender": _amount(escrow, d.to_sender_base),
                "decided_by": _person(d.decided_by),
            }
            for d in decisions
        ]
        can_submit = pending is not None and pending.decided_by_id == request.user.pk
        return {
            "decisions": rows,
            "pending": pending,
            "pending_transaction": json.dumps(pending.transaction, indent=2) if pending else "",
            "submit_form": SubmitForm(initial={"decision": pending.pk}) if can_submit else None,
        }

    def decide_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        escrow = self._escrow_for(request, object_id)
        form = DecisionForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else field
                messages.error(request, f"{label or field}: {' '.join(errors)}")
            return HttpResponseRedirect(self._resolution_url(escrow))
        try:
            decision = dispute_services.dispute_decision_prepare(
                escrow=escrow,
                staff_user=request.user,
                to_recipient=form.cleaned_data["to_recipient"],
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"Decision logged: {_amount(escrow, decision.to_recipient_base)} to the recipient, "
                f"{_amount(escrow, decision.to_sender_base)} to the sender. Sign the transaction below with the "
                "resolver key and paste it back.",
            )
        return HttpResponseRedirect(self._resolution_url(escrow))

    def submit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        escrow = self._escrow_for(request, object_id)
        form = SubmitForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Paste the signed transaction.")
            return HttpResponseRedirect(self._resolution_url(escrow))
        decision = get_object_or_404(DisputeDecision, pk=form.cleaned_data["decision"], escrow=escrow)
        try:
            action = dispute_services.dispute_decision_submit(
                decision=decision,
                staff_user=request.user,
                signed_transaction=form.cleaned_data["signed_transaction"].strip(),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            hashes = ", ".join(action.tx_hashes)
            messages.success(request, f"Resolution sent ({hashes}); the escrow turns resolved once it is on chain.")
        return HttpResponseRedirect(self._resolution_url(escrow))

    def evidence_view(self, request: HttpRequest, evidence_id: int) -> HttpResponse:
        """Streams a private evidence file to a resolver; nobody else reaches it through the admin."""
        if not (request.user.has_perm(RESOLVE_PERMISSION) and request.user.has_perm(EVIDENCE_PERMISSION)):
            raise PermissionDenied
        evidence = get_object_or_404(DisputeEvidence, pk=evidence_id)
        try:
            return dispute_services.dispute_evidence_response(evidence=evidence)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(self._resolution_url(evidence.statement.escrow))


# --- the decision log and the deployments --------------------------------------------------------------------


@admin.register(DisputeDecision)
class DisputeDecisionAdmin(DecisionColumns, ReadOnlyAdmin):
    """The decision log: written by the resolution page only, never edited (the indexer adds the tx hash)."""

    list_display = ["created_at", "escrow_link", "decided_by_display", "to_recipient", "to_sender", "tx_hash"]
    list_select_related = ["escrow__token", "decided_by"]
    search_fields = ["=escrow__id", "=tx_hash", "resolver_address"]
    ordering = ["-created_at", "-id"]
    fields = ["created_at", "escrow_link", "decided_by_display", "resolver_address", "to_recipient", "to_sender",
              "reason", "transaction_json", "tx_hash"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="escrow")
    def escrow_link(self, decision: DisputeDecision) -> str:
        url = reverse("admin:escrow_escrow_change", args=[quote(decision.escrow_id)])
        return format_html('<a href="{}">{}</a>', url, decision.escrow_id)

    @admin.display(description="unsigned transaction")
    def transaction_json(self, decision: DisputeDecision) -> str:
        return _pretty(decision.transaction)


@admin.register(EscrowDeployment)
class EscrowDeploymentAdmin(ReadOnlyAdmin):
    list_display = ["network", "address", "deployed_block", "indexed_block", "head_timestamp", "indexed_at"]
    fields = ["network", "address", "deploy_tx_hash", "deployer", "deployed_block", "indexed_block",
              "indexed_block_hash", "head_timestamp", "indexed_at", "created_at", "updated_at"]  # fmt: skip
    readonly_fields = fields
    ordering = ["network"]
