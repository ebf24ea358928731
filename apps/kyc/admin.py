"""The KYC reviewers' back office (DESIGN.md section 10): the review queue (oldest first, with the review SLA), a
side-by-side viewer of the documents, the selfie and the typed personal info, the decision form (approve, reject,
ask for a resubmission; four-eyes on tier_2), AML cases, and an audit trail that nobody edits.

Identity documents have exactly one URL: ``admin/kyc/kycsubmission/<id>/document/<kind>/``, which checks the
``kyc.view_documents_kycsubmission`` permission, decrypts, streams inline with headers that keep the bytes out of
caches and scripts, and writes a ``document_viewed`` audit event for every fetch. Every decision goes through the
services in ``apps.kyc.services``; a refusal (``ApplicationError``) is shown with ``messages.error``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from apps.kyc.services import review as review_services
from apps.kyc.services import screening as screening_services
from apps.kyc.services.audit import kyc_audit_record
from apps.kyc.services.documents import kyc_document_read
from apps.kyc.services.submissions import REJECT_REASONS
from engipay.api.errors import ApplicationError
from engipay.readonly_admin import ReadOnlyAdmin

from .models import (
    AmlCase,
    KycAuditEvent,
    KycDocument,
    KycSubmission,
    LimitUsage,
    ProviderEvent,
    SanctionedAddress,
    SanctionsList,
    Verification,
)

DOCUMENTS_PERMISSION = "kyc.view_documents_kycsubmission"
DECIDE_PERMISSION = "kyc.decide_kycsubmission"
AML_RESOLVE_PERMISSION = "kyc.change_amlcase"
DOCUMENT_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}
Status = KycSubmission.Status


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _first_approver(submission: KycSubmission) -> str:
    """Who gave a four-eyes submission its first approval: a reviewer, or the vendor's GREEN verdict."""
    if submission.first_approved_by_id is None:
        return f"the verification provider ({submission.get_provider_display()})"
    return _person(submission.first_approved_by)


def _person(user: Any) -> str:
    # Plain text: reviewers have no access to the user admin. No wallet lookup per row (str(user) queries).
    if user is None:
        return "—"
    return user.email or f"user {user.pk}"


def _when(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _sla() -> timedelta:
    return timedelta(hours=settings.KYC_REVIEW_SLA_HOURS)


def _age(delta: timedelta) -> str:
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    days, hours = divmod(hours, 24)
    minutes = rest // 60
    return f"{days}d {hours}h" if days else f"{hours}h {minutes:02d}m"


def _breached_q() -> Q:
    return Q(status__in=KycSubmission.OPEN, created_at__lt=timezone.now() - _sla())


# --- the review queue ------------------------------------------------------------------------------------------


class SlaBreachedFilter(admin.SimpleListFilter):
    title = "SLA breached"
    parameter_name = "sla_breached"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes (open past the SLA)"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[KycSubmission]) -> QuerySet[KycSubmission]:
        if self.value() == "yes":
            return queryset.filter(_breached_q())
        if self.value() == "no":
            return queryset.exclude(_breached_q())
        return queryset


class AwaitingSecondReviewerFilter(admin.SimpleListFilter):
    title = "four-eyes"
    parameter_name = "second_reviewer"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("awaiting", "Awaiting a second reviewer")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[KycSubmission]) -> QuerySet[KycSubmission]:
        if self.value() == "awaiting":
            return queryset.filter(status=Status.IN_REVIEW, needs_second_review=True, first_approved_at__isnull=False)
        return queryset


class DecisionForm(forms.Form):
    """The decision box under the viewer. The rules (reasons required, 'other' needs a message, four-eyes,
    legal transitions) are the services'; this form only reads the request."""

    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject"), ("resubmit", "Request resubmission")]
    )
    reasons = forms.MultipleChoiceField(
        choices=[(code, reason["label"]) for code, reason in REJECT_REASONS.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Reasons (reject / resubmission)",
    )
    message = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        label="Message to the user",
        help_text="Shown to the user with the reasons' own messages (required with “Other”).",
    )
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        label="Internal note",
        help_text="Reviewers only.",
    )


@admin.register(KycSubmission)
class KycSubmissionAdmin(admin.ModelAdmin):
    """The queue. Nobody adds, edits or deletes submissions here: decisions go through the decision form."""

    change_form_template = "admin/kyc/kycsubmission/change_form.html"
    list_display = ["id", "user_display", "requested_level", "status", "age", "sla_state", "reviewer",
                    "first_approval"]  # fmt: skip
    list_filter = ["status", "requested_level", "provider", SlaBreachedFilter, AwaitingSecondReviewerFilter]
    search_fields = ["=id"]
    list_select_related = ["user", "review_started_by", "first_approved_by"]
    ordering = ["created_at", "id"]
    fieldsets = [
        (None, {"fields": ["id", "user_display", "status", "requested_level", "document_type", "age", "sla_state"]}),
        (
            "Review",
            {
                "fields": [
                    "needs_second_review",
                    "review_started_by",
                    "review_started_at",
                    "first_approved_by",
                    "first_approved_at",
                    "decided_by",
                    "decided_at",
                    "reasons_display",
                    "reviewer_message",
                    "internal_note",
                ]
            },
        ),
        (
            "Provider and retention",
            {
                "fields": ["provider", "provider_reference", "provider_result", "documents_purged_at", "created_at"],
                "classes": ["collapse"],
            },
        ),
    ]
    # personal_info is deliberately absent: it is shown (and audited) by the viewer, to permitted reviewers only.
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # users submit through the API

    def has_change_permission(self, request: HttpRequest, obj: KycSubmission | None = None) -> bool:
        return False  # no field is edited directly; decisions have their own form and permission

    def has_delete_permission(self, request: HttpRequest, obj: KycSubmission | None = None) -> bool:
        return False

    # --- columns

    @admin.display(description="user")
    def user_display(self, submission: KycSubmission) -> str:
        return _person(submission.user)

    @admin.display(description="age", ordering="created_at")
    def age(self, submission: KycSubmission) -> str:
        end = submission.decided_at if not submission.is_open and submission.decided_at else timezone.now()
        return _age(end - submission.created_at)

    @admin.display(description="SLA")
    def sla_state(self, submission: KycSubmission) -> str:
        due = submission.created_at + _sla()
        if submission.is_open:
            if timezone.now() > due:
                return format_html(
                    '<strong class="sla-breached" style="color:#ba2121">breached (due {})</strong>', _when(due)
                )
            return format_html('<span class="sla-ok">due {}</span>', _when(due))
        if submission.decided_at and submission.decided_at > due:
            return mark_safe('<span class="sla-late">decided late</span>')
        return mark_safe('<span class="sla-met">met</span>')

    @admin.display(description="reviewer", ordering="review_started_by")
    def reviewer(self, submission: KycSubmission) -> str:
        return _person(submission.review_started_by) if submission.review_started_by_id else "—"

    @admin.display(description="first approval")
    def first_approval(self, submission: KycSubmission) -> str:
        if submission.first_approved_at is None:
            return "—"
        return f"{_first_approver(submission)} · {_when(submission.first_approved_at)}"

    @admin.display(description="reasons")
    def reasons_display(self, submission: KycSubmission) -> str:
        labels = [REJECT_REASONS.get(code, {}).get("label", code) for code in submission.reject_reasons]
        return "; ".join(labels) or "—"

    # --- the viewer, documents and decisions

    def get_urls(self) -> list[Any]:
        site = self.admin_site
        return [
            path(
                "<str:object_id>/document/<str:kind>/",
                site.admin_view(self.document_view, cacheable=True),  # sets its own no-store
                name="kyc_kycsubmission_document",
            ),
            path(
                "<str:object_id>/decide/",
                site.admin_view(require_POST(self.decide_view)),
                name="kyc_kycsubmission_decide",
            ),
            path(
                "<str:object_id>/start-review/",
                site.admin_view(require_POST(self.start_review_view)),
                name="kyc_kycsubmission_start_review",
            ),
            *super().get_urls(),
        ]

    def _submission_for(self, request: HttpRequest, object_id: str, permission: str) -> KycSubmission:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        submission = get_object_or_404(KycSubmission.objects.select_related("user"), pk=object_id)
        if not self.has_view_permission(request, submission):
            raise PermissionDenied
        return submission

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        submission = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if submission is not None and self.has_view_permission(request, submission):
            extra.update(self._viewer_context(request, submission))
        return super().change_view(request, object_id, form_url, extra)

    def _viewer_context(self, request: HttpRequest, submission: KycSubmission) -> dict[str, Any]:
        may_see = request.user.has_perm(DOCUMENTS_PERMISSION)
        personal_info = submission.personal_info if may_see else None
        if personal_info and request.method == "GET":
            kyc_audit_record(
                action=KycAuditEvent.Action.PERSONAL_INFO_VIEWED,
                actor=request.user,
                submission=submission,
                ip_address=_ip(request),
            )
        documents = []
        if may_see:
            for document in submission.documents.order_by("pk"):
                documents.append(
                    {
                        "kind": document.kind,
                        "label": document.get_kind_display(),
                        "content_type": document.content_type,
                        "is_image": document.content_type.startswith("image/"),
                        "width": document.width,
                        "height": document.height,
                        "size": document.size,
                        "purged": document.purged_at is not None or not document.file,
                        "url": reverse("admin:kyc_kycsubmission_document", args=[submission.pk, document.kind]),
                    }
                )
        first = submission.first_approved_by
        awaiting_second = (
            submission.needs_second_review
            and submission.first_approved_at is not None
            and submission.status == Status.IN_REVIEW
        )
        return {
            "can_view_documents": may_see,
            "personal_info": personal_info,
            "kyc_documents": documents,
            "can_decide": request.user.has_perm(DECIDE_PERMISSION) and submission.is_open,
            "can_start_review": request.user.has_perm(DECIDE_PERMISSION) and submission.status == Status.PENDING,
            "decision_form": DecisionForm(),
            "awaiting_second": awaiting_second,
            "first_approver": _first_approver(submission) if awaiting_second else "",
            "first_approved_at": _when(submission.first_approved_at),
            "i_gave_first_approval": awaiting_second and first is not None and first.pk == request.user.pk,
            "sla_due": _when(submission.created_at + _sla()),
            "audit_events": list(submission.audit_events.select_related("actor").order_by("-created_at", "-id")),
        }

    def document_view(self, request: HttpRequest, object_id: str, kind: str) -> HttpResponse:
        """Decrypts one document and streams it inline to a permitted reviewer; every fetch is audited."""
        submission = self._submission_for(request, object_id, DOCUMENTS_PERMISSION)
        if kind not in KycDocument.Kind.values:
            raise Http404("No such document kind.")
        document = get_object_or_404(KycDocument, submission=submission, kind=kind)
        try:
            data = kyc_document_read(document=document)
        except ApplicationError as exc:
            raise Http404(exc.message) from exc
        kyc_audit_record(
            action=KycAuditEvent.Action.DOCUMENT_VIEWED,
            actor=request.user,
            submission=submission,
            details={"kind": kind, "content_type": document.content_type},
            ip_address=_ip(request),
        )
        response = HttpResponse(data, content_type=document.content_type)
        extension = DOCUMENT_EXTENSIONS.get(document.content_type, "bin")
        response["Content-Disposition"] = f'inline; filename="{submission.pk}-{kind}.{extension}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store, private"
        response["Content-Security-Policy"] = "sandbox"
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        response["Referrer-Policy"] = "no-referrer"
        return response

    def decide_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST from the decision form: approve (first or final approval), reject or request a resubmission."""
        submission = self._submission_for(request, object_id, DECIDE_PERMISSION)
        change_url = reverse("admin:kyc_kycsubmission_change", args=[quote(submission.pk)])
        form = DecisionForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                messages.error(request, f"{label or field}: {' '.join(errors)}")
            return HttpResponseRedirect(change_url)
        data = form.cleaned_data
        try:
            outcome = self._decide(request, submission, data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, outcome)
        return HttpResponseRedirect(change_url)

    def _decide(self, request: HttpRequest, submission: KycSubmission, data: dict[str, Any]) -> str:
        common = {"submission": submission, "reviewer": request.user, "note": data["note"], "ip_address": _ip(request)}
        if data["decision"] == "approve":
            result = review_services.kyc_submission_approve(**common)
            if result.status != Status.VERIFIED:
                return "First approval recorded: a second reviewer must confirm it."
            return f"Approved: the user is verified at {result.requested_level}."
        refuse = {"reasons": data["reasons"], "message": data["message"], **common}
        if data["decision"] == "reject":
            review_services.kyc_submission_reject(**refuse)
            return "Rejected; the user has been told why."
        review_services.kyc_submission_request_resubmission(**refuse)
        return "Resubmission requested; the user has been told what to fix."

    def start_review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        submission = self._submission_for(request, object_id, DECIDE_PERMISSION)
        try:
            review_services.kyc_review_start(submission=submission, reviewer=request.user, ip_address=_ip(request))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Review started.")
        return HttpResponseRedirect(reverse("admin:kyc_kycsubmission_change", args=[quote(submission.pk)]))


# --- audit trail -----------------------------------------------------------------------------------------------


@admin.register(KycAuditEvent)
class KycAuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor_display", "submission_id", "aml_case_id", "ip_address",
                    "details_summary"]  # fmt: skip
    list_filter = ["action", ("actor", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=submission__id"]
    list_select_related = ["actor"]
    ordering = ["-created_at", "-id"]
    fields = ["created_at", "action", "actor_display", "submission_id", "aml_case_id", "ip_address", "details_json"]
    readonly_fields = fields

    @admin.display(description="actor")
    def actor_display(self, event: KycAuditEvent) -> str:
        return _person(event.actor) if event.actor_id else "system"

    @admin.display(description="details")
    def details_summary(self, event: KycAuditEvent) -> str:
        return ", ".join(f"{key}={value}" for key, value in sorted(event.details.items()))[:120] or "—"

    @admin.display(description="details")
    def details_json(self, event: KycAuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.details, indent=2, sort_keys=True, default=str))


# --- AML cases -------------------------------------------------------------------------------------------------


class AmlActionForm(ActionForm):
    note = forms.CharField(required=False, label="Note (for “clear” / “confirm”)")


class AmlResolveForm(forms.Form):
    decision = forms.ChoiceField(choices=[("clear", "Clear (false positive)"), ("confirm", "Confirm")])
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 70}))


@admin.register(AmlCase)
class AmlCaseAdmin(ReadOnlyAdmin):
    """Screening hits. Reviewers clear (false positive) or confirm them with a note; nothing else is edited."""

    change_form_template = "admin/kyc/amlcase/change_form.html"
    action_form = AmlActionForm
    actions = ["clear_cases", "confirm_cases"]
    list_display = ["id", "address", "user_display", "chain_kind", "context", "source", "status", "created_at",
                    "resolved_by_display"]  # fmt: skip
    list_filter = ["status", "source", "context"]
    search_fields = ["address", "normalized", "=user__email"]
    list_select_related = ["user", "resolved_by"]
    ordering = ["-created_at", "-id"]
    fields = ["id", "user_display", "address", "normalized", "chain_kind", "context", "source",
              "sanctions_list", "match_json", "status", "resolution_note", "resolved_by_display", "resolved_at",
              "created_at"]  # fmt: skip
    readonly_fields = fields

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(AML_RESOLVE_PERMISSION)

    @admin.display(description="user")
    def user_display(self, case: AmlCase) -> str:
        return _person(case.user) if case.user_id else "— (sign-up)"

    @admin.display(description="resolved by")
    def resolved_by_display(self, case: AmlCase) -> str:
        return _person(case.resolved_by) if case.resolved_by_id else "—"

    @admin.display(description="match")
    def match_json(self, case: AmlCase) -> str:
        return format_html("<pre>{}</pre>", json.dumps(case.match, indent=2, sort_keys=True, default=str))

    def get_urls(self) -> list[Any]:
        resolve = self.admin_site.admin_view(require_POST(self.resolve_view))
        return [path("<str:object_id>/resolve/", resolve, name="kyc_amlcase_resolve"), *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        case = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if case is not None:
            extra["can_resolve"] = self.has_resolve_permission(request) and case.status == AmlCase.Status.OPEN
            extra["resolve_form"] = AmlResolveForm()
            extra["case_events"] = list(case.audit_events.select_related("actor").order_by("-created_at", "-id"))
        return super().change_view(request, object_id, form_url, extra)

    def _resolve(self, request: HttpRequest, case: AmlCase, decision: str, note: str) -> AmlCase:
        service = screening_services.aml_case_clear if decision == "clear" else screening_services.aml_case_confirm
        return service(case=case, reviewer=request.user, note=note)

    def resolve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        case = get_object_or_404(AmlCase, pk=object_id)
        form = AmlResolveForm(request.POST)
        change_url = reverse("admin:kyc_amlcase_change", args=[quote(case.pk)])
        if not form.is_valid():
            messages.error(request, "Choose to clear or to confirm the case.")
            return HttpResponseRedirect(change_url)
        try:
            case = self._resolve(request, case, form.cleaned_data["decision"], form.cleaned_data["note"])
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Case {case.pk} {case.get_status_display().lower()}.")
        return HttpResponseRedirect(change_url)

    def _bulk(self, request: HttpRequest, queryset: QuerySet[AmlCase], decision: str) -> None:
        note = request.POST.get("note", "")
        done, refused = 0, []
        for case in queryset.order_by("pk"):
            try:
                self._resolve(request, case, decision, note)
                done += 1
            except ApplicationError as exc:
                refused.append(f"{case.pk}: {exc.message}")
        verb = "cleared" if decision == "clear" else "confirmed"
        self.message_user(request, f"{done} case(s) {verb}.", messages.SUCCESS if not refused else messages.WARNING)
        if refused:
            self.message_user(request, f"{len(refused)} skipped: " + "; ".join(refused), messages.ERROR)

    @admin.action(description="Clear selected cases (false positive) with the note", permissions=["resolve"])
    def clear_cases(self, request: HttpRequest, queryset: QuerySet[AmlCase]) -> None:
        self._bulk(request, queryset, "clear")

    @admin.action(description="Confirm selected cases with the note", permissions=["resolve"])
    def confirm_cases(self, request: HttpRequest, queryset: QuerySet[AmlCase]) -> None:
        self._bulk(request, queryset, "confirm")


# --- reference data, read-only ---------------------------------------------------------------------------------


@admin.register(Verification)
class VerificationAdmin(ReadOnlyAdmin):
    list_display = ["user_display", "level", "submission_id", "verified_at", "updated_at"]
    list_filter = ["level"]
    search_fields = ["=submission__id", "=user__email"]
    list_select_related = ["user"]
    ordering = ["-updated_at"]
    fields = ["user_display", "level", "submission_id", "verified_at", "updated_at"]
    readonly_fields = fields

    @admin.display(description="user")
    def user_display(self, verification: Verification) -> str:
        return _person(verification.user)


@admin.register(SanctionsList)
class SanctionsListAdmin(ReadOnlyAdmin):
    list_display = ["source", "sha256", "file_name", "entry_count", "address_count", "is_current", "loaded_at"]
    list_filter = ["source", "is_current"]
    ordering = ["-loaded_at"]


@admin.register(SanctionedAddress)
class SanctionedAddressAdmin(ReadOnlyAdmin):
    list_display = ["ticker", "address", "entry_number", "entry_name", "sanctions_list"]
    list_filter = ["ticker", "sanctions_list"]
    search_fields = ["normalized", "address", "entry_name"]
    list_select_related = ["sanctions_list"]


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "provider", "event_type", "verdict", "submission_id", "event_key"]
    list_filter = ["provider", "event_type", "verdict"]
    search_fields = ["=submission__id", "event_key"]
    ordering = ["-received_at"]
    fields = ["received_at", "provider", "event_type", "event_key", "verdict", "submission_id", "payload_json"]
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_json(self, event: ProviderEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, sort_keys=True, default=str))


@admin.register(LimitUsage)
class LimitUsageAdmin(ReadOnlyAdmin):
    """Superusers only (the reviewers' group has no permission on it)."""

    list_display = ["created_at", "user_id", "usd_amount", "kind", "reference", "released_at"]
    list_filter = ["kind"]
    search_fields = ["=reference"]
    ordering = ["-created_at"]
