"""The support agents' back office (DESIGN.md section 10): ticket inbox with replies, internal notes, macros and
bulk actions; teams, agents and chat transcripts; and the live chat console at ``/admin/support/console/``.

Every write goes through the support services; a refusal (``ApplicationError``) is shown with ``messages.error``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from apps.accounts.models import User
from apps.accounts.services.tokens import tokens_issue
from apps.support.selectors import tickets as ticket_selectors
from apps.support.services import attachments as attachment_services
from apps.support.services import chat as chat_services
from apps.support.services import tickets as ticket_services
from engipay.api.errors import ApplicationError, error_body

from .models import PRIORITY_RANK, AgentProfile, Attachment, ChatMessage, ChatSession, Macro, Team, Ticket

CONSOLE_PERMISSION = "support.change_chatsession"
REPLY_PERMISSION = "support.add_ticketmessage"


_RANK_WHENS = [When(priority=priority, then=Value(rank)) for priority, rank in PRIORITY_RANK.items()]


def _agents() -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True, is_staff=True, agent_profile__isnull=False)
        .select_related("agent_profile")
        .order_by("email")
    )


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return str(obj.agent_profile)


# --- ticket inbox ---------------------------------------------------------------------------------------------


class AssignedFilter(admin.SimpleListFilter):
    title = "assigned to"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "Me"), ("unassigned", "Unassigned"), ("anyone", "Anyone")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.value() == "me":
            return queryset.filter(assignee=request.user)
        if self.value() == "unassigned":
            return queryset.filter(assignee__isnull=True)
        if self.value() == "anyone":
            return queryset.filter(assignee__isnull=False)
        return queryset


class SlaBreachedFilter(admin.SimpleListFilter):
    title = "SLA breached"
    parameter_name = "sla_breached"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.value() == "yes":
            return ticket_selectors.tickets_sla_breached(queryset)
        if self.value() == "no":
            return queryset.exclude(pk__in=ticket_selectors.tickets_sla_breached(Ticket.objects.all()).values("pk"))
        return queryset


class TicketActionForm(ActionForm):
    agent = AgentChoiceField(queryset=_agents(), required=False, label="Agent (for “assign”)")


class TicketForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["priority", "team", "assignee"]
        field_classes = {"assignee": AgentChoiceField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "assignee" in self.fields:
            self.fields["assignee"].queryset = _agents()


class ReplyForm(forms.Form):
    """The reply box under a ticket's thread. Either a written body or a macro (sent as written, through
    ``macro_apply``); with neither, only the status changes."""

    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6, "cols": 80}))
    internal = forms.BooleanField(required=False, label="Internal note — the user never sees this")
    macro = forms.ModelChoiceField(queryset=Macro.objects.all(), required=False, empty_label="— no macro —")
    set_status = forms.ChoiceField(
        required=False, label="Then set status", choices=[("", "— default —"), *Ticket.Status.choices]
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        body = (data.get("body") or "").strip()
        data["body"] = body
        if data.get("macro") and body:
            raise forms.ValidationError("Choose a macro or write a reply, not both.")
        if data.get("macro") and data.get("internal"):
            raise forms.ValidationError("Macros are replies to the user; they cannot be internal notes.")
        if not body and not data.get("macro") and not data.get("set_status"):
            raise forms.ValidationError("Write a reply, choose a macro or choose a status.")
        if data.get("internal") and not body:
            raise forms.ValidationError("An internal note needs a text.")
        return data


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketForm
    action_form = TicketActionForm
    change_form_template = "admin/support/ticket/change_form.html"
    list_display = ["id", "subject", "user", "category", "priority", "status", "team", "assignee", "sla_due",
                    "updated_at"]  # fmt: skip
    list_filter = ["status", "priority", "team", "category", AssignedFilter, SlaBreachedFilter]
    search_fields = ["id", "subject", "user__email", "wallet_address", "user__wallets__address"]
    list_select_related = ["user", "team", "assignee__agent_profile"]
    readonly_fields = ["id", "customer", "subject", "description", "category", "requested_priority", "status",
                       "wallet_address", "user_agent", "estimated_response_time", "first_response_due_at",
                       "first_response_at", "created_at", "updated_at", "resolved_at", "closed_at"]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["id", "customer", "subject", "description", "category", "status"]}),
        ("Routing", {"fields": ["priority", "requested_priority", "team", "assignee"]}),
        (
            "Service level",
            {
                "fields": [
                    "estimated_response_time",
                    "first_response_due_at",
                    "first_response_at",
                    "created_at",
                    "updated_at",
                    "resolved_at",
                    "closed_at",
                ]
            },
        ),
        ("Client", {"fields": ["wallet_address", "user_agent"], "classes": ["collapse"]}),
    ]
    actions = ["claim", "assign", "mark_pending", "mark_resolved", "mark_closed"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        breached = ticket_selectors.tickets_sla_breached(Ticket.objects.all()).filter(pk=OuterRef("pk"))
        return super().get_queryset(request).annotate(sla_is_breached=Exists(breached))

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        # Most urgent first, then the first-response deadline that falls soonest.
        rank = Case(*_RANK_WHENS, default=Value(0), output_field=IntegerField())
        return [rank.desc(), "first_response_due_at", "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets are opened by users (API) or from a chat

    def has_delete_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        return False

    @admin.display(description="user")
    def customer(self, ticket: Ticket) -> str:
        # Plain text: agents have no access to the user admin, so a link there would only lead to a 403.
        wallets = ", ".join(w.address for w in ticket.user.wallets.all())
        return f"{ticket.user.email or '(no email)'}" + (f" · wallets: {wallets}" if wallets else "")

    @admin.display(description="SLA due", ordering="first_response_due_at")
    def sla_due(self, ticket: Ticket) -> str:
        if ticket.first_response_at is not None:
            return format_html('<span class="sla-met">answered {}</span>', _when(ticket.first_response_at))
        if getattr(ticket, "sla_is_breached", False):
            return format_html(
                '<strong class="sla-breached" style="color:#ba2121">{} (breached)</strong>',
                _when(ticket.first_response_due_at),
            )
        return _when(ticket.first_response_due_at)

    # --- change page: thread, reply box, attachment downloads

    def get_urls(self) -> list[Any]:
        reply = self.admin_site.admin_view(require_POST(self.reply_view))
        download = self.admin_site.admin_view(self.attachment_view)
        return [
            path("<str:object_id>/reply/", reply, name="support_ticket_reply"),
            path("attachment/<int:attachment_id>/", download, name="support_attachment_download"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        ticket = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if ticket is not None:
            extra.update(self._thread_context(request, ticket, ReplyForm()))
        return super().change_view(request, object_id, form_url, extra)

    def _thread_context(self, request: HttpRequest, ticket: Ticket, reply_form: ReplyForm) -> dict[str, Any]:
        thread = list(ticket.messages.select_related("author").prefetch_related("attachments"))
        loose = list(ticket.attachments.filter(message__isnull=True))
        macros = {str(m.pk): {"body": m.body, "set_status": m.set_status} for m in Macro.objects.all()}
        return {
            "thread": thread,
            "ticket_attachments": loose,
            "reply_form": reply_form,
            "can_reply": request.user.has_perm(REPLY_PERMISSION),
            "macro_previews": macros,
        }

    def reply_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST from the reply box: a public reply, an internal note, a macro or a status change."""
        if not request.user.has_perm(REPLY_PERMISSION):
            raise PermissionDenied
        ticket = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, ticket):
            raise PermissionDenied
        # Choosing a status is changing the ticket, as the bulk actions are: that needs the change permission.
        if request.POST.get("set_status") and not self.has_change_permission(request, ticket):
            raise PermissionDenied
        change_url = reverse("admin:support_ticket_change", args=[ticket.pk])
        form = ReplyForm(request.POST)
        if not form.is_valid():
            for error in form.non_field_errors() or [str(e) for e in form.errors.values()]:
                messages.error(request, error)
            return HttpResponseRedirect(change_url)
        try:
            note = self._reply(request, ticket, form.cleaned_data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, note)
        return HttpResponseRedirect(change_url)

    def _reply(self, request: HttpRequest, ticket: Ticket, data: dict[str, Any]) -> str:
        status = data["set_status"] or None
        if data["macro"] is not None:  # the chosen status, else the macro's, applies with the reply or not at all
            ticket_services.macro_apply(ticket=ticket, macro=data["macro"], agent=request.user, set_status=status)
            return f"Macro “{data['macro'].name}” sent to the user."
        if data["body"]:
            ticket_services.ticket_agent_reply(
                ticket=ticket, agent=request.user, body=data["body"], internal=data["internal"], set_status=status
            )
            return "Internal note added." if data["internal"] else "Reply sent to the user."
        ticket_services.ticket_set_status(ticket=ticket, status=status, by=request.user)
        return f"Status set to {Ticket.Status(status).label.lower()}."

    def attachment_view(self, request: HttpRequest, attachment_id: int) -> HttpResponse:
        """Streams a private attachment to an agent; nobody else reaches it through the admin."""
        if not (request.user.has_perm("support.view_ticket") and request.user.has_perm("support.view_attachment")):
            raise PermissionDenied
        attachment = get_object_or_404(Attachment.objects.select_related("ticket"), pk=attachment_id)
        return attachment_services.attachment_response(attachment)

    def save_model(self, request: HttpRequest, obj: Ticket, form: forms.ModelForm, change: bool) -> None:
        assignee = obj.assignee
        reassigned = "assignee" in form.changed_data and assignee is not None
        if reassigned:
            obj.assignee_id = form.initial.get("assignee")  # the service records the assignment itself
        super().save_model(request, obj, form, change)
        if reassigned:
            try:
                ticket_services.ticket_assign(ticket=obj, agent=assignee, by=request.user)
            except ApplicationError as exc:
                messages.error(request, exc.message)

    # --- list actions

    @admin.action(description="Claim (assign to me)", permissions=["change"])
    def claim(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        claimed, refused = 0, []
        for ticket in queryset:
            try:
                ticket_services.ticket_claim(ticket=ticket, agent=request.user)
                claimed += 1
            except ApplicationError as exc:
                refused.append(f"{ticket.pk}: {exc.message}")
        self._report(request, f"{claimed} ticket(s) claimed.", refused)

    @admin.action(description="Assign to the chosen agent", permissions=["change"])
    def assign(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        agent = _agents().filter(pk=request.POST.get("agent") or None).first()
        if agent is None:
            self.message_user(request, "Choose the agent to assign the tickets to.", messages.ERROR)
            return
        assigned, refused = 0, []
        for ticket in queryset:
            try:
                ticket_services.ticket_assign(ticket=ticket, agent=agent, by=request.user)
                assigned += 1
            except ApplicationError as exc:
                refused.append(f"{ticket.pk}: {exc.message}")
        self._report(request, f"{assigned} ticket(s) assigned to {agent.agent_profile}.", refused)

    def _bulk_status(self, request: HttpRequest, queryset: QuerySet[Ticket], status: str) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        try:
            changed = ticket_services.tickets_bulk_set_status(ticket_ids=ids, status=status, by=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        label = Ticket.Status(status).label.lower()
        self.message_user(request, f"{changed} ticket(s) set to {label}; {len(ids) - changed} skipped.")

    @admin.action(description="Mark pending (waiting on user)", permissions=["change"])
    def mark_pending(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._bulk_status(request, queryset, Ticket.Status.PENDING)

    @admin.action(description="Mark resolved", permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._bulk_status(request, queryset, Ticket.Status.RESOLVED)

    @admin.action(description="Mark closed", permissions=["change"])
    def mark_closed(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._bulk_status(request, queryset, Ticket.Status.CLOSED)

    def _report(self, request: HttpRequest, done: str, refused: list[str]) -> None:
        self.message_user(request, done, messages.SUCCESS if not refused else messages.WARNING)
        if refused:
            self.message_user(request, f"{len(refused)} skipped: " + "; ".join(refused), messages.ERROR)


def _when(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


# --- macros, teams, agents -------------------------------------------------------------------------------------


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "set_status", "created_at"]
    list_filter = ["team", "set_status"]
    search_fields = ["name", "body"]
    list_select_related = ["team"]
    ordering = ["name"]


class TeamForm(forms.ModelForm):
    categories = forms.MultipleChoiceField(
        choices=Ticket.Category.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tickets of these categories are routed to this team; unlisted ones go to the general team.",
    )

    class Meta:
        model = Team
        fields = ["slug", "name", "categories", "sla_urgent_minutes", "sla_high_minutes", "sla_medium_minutes",
                  "sla_low_minutes"]  # fmt: skip


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Agents read the teams (view permission only); a superuser edits routing and SLAs."""

    form = TeamForm
    list_display = ["name", "slug", "routed_categories", "sla_urgent_minutes", "sla_high_minutes",
                    "sla_medium_minutes", "sla_low_minutes", "agent_count"]  # fmt: skip
    search_fields = ["name", "slug"]
    ordering = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(agent_total=Count("agents", distinct=True))

    @admin.display(description="categories")
    def routed_categories(self, team: Team) -> str:
        labels = dict(Ticket.Category.choices)
        return ", ".join(str(labels.get(c, c)) for c in team.categories) or "—"

    @admin.display(description="agents", ordering="agent_total")
    def agent_count(self, team: Team) -> int:
        return team.agent_total


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    """Every agent sees the roster (status, load); an agent edits only their own name and capacity."""

    list_display = ["__str__", "user", "status", "capacity", "active_chats", "team_names", "status_changed_at"]
    list_filter = ["status", "teams"]
    search_fields = ["display_name", "user__email"]
    list_select_related = ["user"]
    filter_horizontal = ["teams"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AgentProfile]:
        active = Count(
            "user__agent_chats", filter=Q(user__agent_chats__status=ChatSession.Status.ACTIVE), distinct=True
        )
        return super().get_queryset(request).annotate(active_total=active).prefetch_related("teams")

    def get_fields(self, request: HttpRequest, obj: AgentProfile | None = None) -> list[str]:
        return ["user", "display_name", "status", "capacity", "teams", "console_connections", "status_changed_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: AgentProfile | None = None) -> list[str]:
        # Presence is set from the console (going online there is what makes chats arrive).
        fixed = ["status", "console_connections", "status_changed_at"]
        if request.user.is_superuser:
            return fixed if obj is None else ["user", *fixed]
        return ["user", "teams", *fixed]

    def has_change_permission(self, request: HttpRequest, obj: AgentProfile | None = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        if obj is None or request.user.is_superuser:
            return allowed
        return allowed and obj.user_id == request.user.pk

    def save_model(self, request: HttpRequest, obj: AgentProfile, form: forms.ModelForm, change: bool) -> None:
        capacity = obj.capacity
        recapacity = change and "capacity" in form.changed_data
        if recapacity:
            obj.capacity = form.initial["capacity"]  # the service changes it, and re-runs chat assignment
        super().save_model(request, obj, form, change)
        if recapacity:
            try:
                chat_services.agent_set_capacity(agent=obj.user, capacity=capacity)
            except ApplicationError as exc:
                messages.error(request, exc.message)

    @admin.display(description="active chats", ordering="active_total")
    def active_chats(self, profile: AgentProfile) -> int:
        return profile.active_total

    @admin.display(description="teams")
    def team_names(self, profile: AgentProfile) -> str:
        return ", ".join(t.name for t in profile.teams.all()) or "—"


# --- chat sessions and the console -----------------------------------------------------------------------------


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    """Read-only transcripts; live chats are handled in the console."""

    change_list_template = "admin/support/chatsession/change_list.html"
    list_display = ["id", "user", "agent", "status", "waiting_since", "assigned_at", "ended_at", "ticket_link"]
    list_filter = ["status", ("agent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["id", "user__email", "initial_message"]
    list_select_related = ["user", "agent", "ticket"]
    ordering = ["-created_at"]
    fields = ["id", "user", "agent", "status", "initial_message", "context", "waiting_since", "assigned_at",
              "ended_at", "ended_by", "ticket_link", "transcript"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ChatSession | None = None) -> bool:
        return False  # the model permission "change" opens the console; the stored session is not edited here

    def has_delete_permission(self, request: HttpRequest, obj: ChatSession | None = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        convert = self.admin_site.admin_view(require_POST(self.convert_view))
        return [path("<str:object_id>/ticket/", convert, name="support_chatsession_ticket"), *super().get_urls()]

    def convert_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """The console's "Convert to ticket": the chat's agent turns it into a ticket (ending it if needed)."""
        if not request.user.has_perm(CONSOLE_PERMISSION):
            raise PermissionDenied
        session = get_object_or_404(ChatSession, pk=object_id)
        try:
            ticket = chat_services.chat_session_convert_to_ticket(session=session, by=request.user)
        except ApplicationError as exc:
            return JsonResponse(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
        url = reverse("admin:support_ticket_change", args=[ticket.pk])
        return JsonResponse({"ticket_id": ticket.pk, "status": ticket.status, "url": url})

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = {"console_url": reverse("admin:support_console"), **(extra_context or {})}
        extra["can_use_console"] = request.user.has_perm(CONSOLE_PERMISSION)
        return super().changelist_view(request, extra)

    @admin.display(description="ticket")
    def ticket_link(self, session: ChatSession) -> str:
        if session.ticket_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:support_ticket_change", args=[session.ticket_id]),
                           session.ticket_id)  # fmt: skip

    @admin.display(description="user context")
    def context(self, session: ChatSession) -> str:
        return format_html("<pre>{}</pre>", json.dumps(session.user_context, indent=2, sort_keys=True))

    @admin.display(description="transcript")
    def transcript(self, session: ChatSession) -> str:
        rows = ChatMessage.objects.filter(session=session).select_related("sender")
        lines = format_html_join(
            "",
            '<li class="chat-{}"><small>{} · {}</small><br>{}</li>',
            ((m.role, _when(m.created_at), m.get_role_display(), m.body) for m in rows),
        )
        return format_html('<ol class="chat-transcript">{}</ol>', lines) if rows else "—"


def console_view(request: HttpRequest) -> HttpResponse:
    """The live chat console: queue, assigned chats, several conversations at once over the websockets."""
    if not request.user.has_perm(CONSOLE_PERMISSION):
        raise PermissionDenied
    profile = AgentProfile.objects.filter(user=request.user).first()
    config = {
        "token": tokens_issue(user=request.user)["token"],
        "tokenUrl": reverse("admin:support_console_token"),
        "consoleSocket": "/ws/support/agent/",
        "chatSocket": "/api/support/chat/",
        "convertUrl": reverse("admin:support_chatsession_ticket", args=["SESSION_ID"]),
        "ticketUrl": reverse("admin:support_ticket_change", args=["TICKET_ID"]),
        "agentName": str(profile) if profile else str(request.user),
    }
    context = {
        **admin.site.each_context(request),
        "title": "Agent console",
        "opts": ChatSession._meta,
        "console_config": config,
    }
    return TemplateResponse(request, "admin/support/console.html", context)


def console_token_view(request: HttpRequest) -> JsonResponse:
    """A fresh access token for the console's sockets (the page's one expires; the session cookie does not)."""
    if not request.user.has_perm(CONSOLE_PERMISSION):
        raise PermissionDenied
    return JsonResponse({"token": tokens_issue(user=request.user)["token"]})


def _with_console_urls(get_urls: Any) -> Any:
    def urls() -> list[Any]:
        site = admin.site
        return [
            path("support/console/", site.admin_view(console_view), name="support_console"),
            path(
                "support/console/token/",
                site.admin_view(require_POST(console_token_view)),
                name="support_console_token",
            ),
            *get_urls(),
        ]

    return urls


# The console is a page of the support app rather than of one model: mounted on the site, ahead of its catch-all.
admin.site.get_urls = _with_console_urls(admin.site.get_urls)
