"""Tickets as their owner (and the agents' screens) read them. Internal notes never leave this module for the
user's side: every user-facing queryset filters them out."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Count, F, Max, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from apps.support.models import Attachment, Priority, Ticket, TicketMessage
from engipay.api.errors import InvalidInput

PUBLIC = Q(messages__internal=False)


class TicketFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Ticket.Status.choices)
    category = django_filters.ChoiceFilter(choices=Ticket.Category.choices)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)

    class Meta:
        model = Ticket
        fields = ["status", "category", "priority"]


ALLOWED_FILTER_VALUES = {
    "status": Ticket.Status.values,
    "category": Ticket.Category.values,
    "priority": Priority.values,
}


def ticket_list_for_user(*, user: Any, filters: Any = None) -> QuerySet[Ticket]:
    """The user's tickets, newest first, with ``message_count`` and ``last_message_at`` of the public thread.
    Unknown filter values are a 400 that lists the allowed ones."""
    qs = (
        Ticket.objects.filter(user=user)
        .select_related("team")
        .annotate(
            message_count=Count("messages", filter=PUBLIC), last_message_at=Max("messages__created_at", filter=PUBLIC)
        )
        .order_by("-created_at", "-id")
    )
    filterset = TicketFilter(filters or {}, queryset=qs)
    if not filterset.is_valid():
        details = {}
        for field in filterset.errors:
            allowed = ALLOWED_FILTER_VALUES.get(field, [])
            value = (filters or {}).get(field)
            details[field] = [f'Unknown {field} "{value}". Allowed: {", ".join(allowed)}.']
        first = next(iter(details.values()))[0]
        raise InvalidInput("invalid_filter", first, details)
    return filterset.qs


def ticket_get_for_user(*, user: Any, ticket_id: str) -> Ticket:
    """One of the user's tickets; anyone else's (or none) is a 404."""
    return get_object_or_404(Ticket.objects.filter(user=user).select_related("team"), pk=ticket_id)


def ticket_detail_for_user(*, user: Any, ticket_id: str) -> Ticket:
    """A ticket with its public thread (``public_messages``, each with ``attachments``) and its attachments."""
    messages = (
        TicketMessage.objects.filter(internal=False)
        .select_related("author__agent_profile")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    qs = (
        Ticket.objects.filter(user=user)
        .select_related("team")
        .prefetch_related(
            Prefetch("messages", queryset=messages, to_attr="public_messages"),
            Prefetch("attachments", queryset=attachments_public()),
        )
    )
    return get_object_or_404(qs, pk=ticket_id)


def attachments_public() -> QuerySet[Attachment]:
    """Attachments the ticket's owner may see: those on the ticket itself or on a public message."""
    return Attachment.objects.filter(Q(message__isnull=True) | Q(message__internal=False)).order_by("created_at", "id")


def attachment_get_for_user(*, user: Any, ticket_id: str, attachment_id: int) -> Attachment:
    """An attachment of one of the user's tickets (never one on an internal note); else a 404."""
    qs = attachments_public().filter(ticket__user=user, ticket_id=ticket_id)
    return get_object_or_404(qs, pk=attachment_id)


def tickets_sla_breached(queryset: QuerySet[Ticket] | None = None) -> QuerySet[Ticket]:
    """Tickets that missed their first-response target: answered after it, or unanswered past it and not
    resolved before it (a duplicate closed in time without a reply missed nothing)."""
    queryset = Ticket.objects.all() if queryset is None else queryset
    due = F("first_response_due_at")
    return queryset.filter(
        Q(first_response_at__isnull=True, first_response_due_at__lt=timezone.now())
        & (Q(resolved_at__isnull=True) | Q(resolved_at__gt=due))
        | Q(first_response_at__gt=due)
    )


def ticket_recent_for_user(*, user: Any, limit: int = 5) -> list[Ticket]:
    """The user's latest tickets (the chat console's context panel)."""
    return list(Ticket.objects.filter(user=user).select_related("team").order_by("-created_at", "-id")[:limit])


def agent_display_name(user: Any) -> str:
    """What a user sees of an agent: their profile's display name or first name, never their email."""
    profile = getattr(user, "agent_profile", None) if user is not None else None
    if profile is not None and profile.display_name:
        return profile.display_name
    if user is not None and user.first_name:
        return user.first_name
    return "EngiPay Support"
