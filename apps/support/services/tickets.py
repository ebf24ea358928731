"""Tickets: creation with routing, priority and a response-time estimate; user replies; the agents' side
(replies, internal notes, macros, assignment, status changes) that the admin calls.

Statuses: open → pending (waiting on the user) → resolved → closed; a user's reply reopens any of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from statistics import median_low
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.notifications.services import notify
from apps.support.models import PRIORITY_RANK, AgentProfile, Macro, Priority, Team, Ticket, TicketMessage
from engipay.api.errors import InvalidInput, StateConflict

from .attachments import attachments_prepare, attachments_store, files_removed_on_error

Status = Ticket.Status
Category = Ticket.Category

# Legal status changes; anything else (including "to the same status") is a conflict.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.PENDING, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING: frozenset({Status.OPEN, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}
# Categories whose tickets get at least this priority, whatever the user asked for: money that may be lost
# right now goes first; a security report is never below high.
PRIORITY_FLOOR: dict[str, str] = {Category.FUNDS_AT_RISK: Priority.URGENT, Category.SECURITY: Priority.HIGH}
FALLBACK_TEAM = "general"
HANDLING_WINDOW = timedelta(days=14)
HANDLING_MIN_SAMPLES = 5
ID_ATTEMPTS = 20


# --- pure rules ---------------------------------------------------------------------------------------------


def priority_for(*, category: str, requested: str) -> str:
    """The requested priority, raised to the category's floor (``PRIORITY_FLOOR``); never lowered."""
    floor = PRIORITY_FLOOR.get(category)
    if floor and PRIORITY_RANK[floor] > PRIORITY_RANK[requested]:
        return floor
    return requested


def estimate_response_minutes(*, handling_minutes: int, queue_ahead: int, agents: int) -> int:
    """Minutes until a first answer: the typical handling time, stretched by the tickets ahead of this one
    shared among the team's agents: ``handling * (1 + queue_ahead / agents)``, rounded up."""
    agents = max(agents, 1)
    return -(-max(handling_minutes, 1) * (agents + max(queue_ahead, 0)) // agents)


def humanize_minutes(minutes: int) -> str:
    """Rounded up, for a person: "45 minutes" (by 5, below an hour), "3 hours" (up to 48), then "2 days"."""
    if minutes <= 55:
        value, unit = max(5, -(-minutes // 5) * 5), "minute"
    elif minutes <= 48 * 60:
        value, unit = -(-minutes // 60), "hour"
    else:
        value, unit = -(-minutes // (24 * 60)), "day"
    return f"{value} {unit}{'s' if value != 1 else ''}"


def _check_transition(ticket: Ticket, status: str) -> None:
    if status not in Status.values:
        raise InvalidInput("invalid_status", f'Unknown status "{status}".', {"allowed": Status.values})
    if status not in TRANSITIONS[ticket.status]:
        raise StateConflict(
            "illegal_status_change",
            f"Ticket {ticket.id} is {ticket.status} and cannot become {status}.",
            {"from": ticket.status, "to": status, "allowed": sorted(TRANSITIONS[ticket.status])},
        )


def _apply_status(ticket: Ticket, status: str, now: datetime) -> list[str]:
    ticket.status = status
    if status == Status.RESOLVED:
        ticket.resolved_at = now
    elif status == Status.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif status == Status.OPEN:  # reopened: the earlier resolution no longer holds
        ticket.resolved_at = ticket.closed_at = None
    return ["status", "resolved_at", "closed_at"]


# --- routing and estimate ---------------------------------------------------------------------------------


def team_for_category(category: str) -> Team:
    """The team whose ``categories`` lists this one (lowest id first), else the general team."""
    for team in Team.objects.order_by("pk"):
        if category in (team.categories or []):
            return team
    team, _ = Team.objects.get_or_create(slug=FALLBACK_TEAM, defaults={"name": "General support"})
    return team


def _handling_minutes(team: Team, priority: str, now: datetime) -> int:
    """Median first-response time of the team's recent tickets of this priority (slow answers to low ones say
    nothing of urgent ones); the priority's SLA until there are enough of them."""
    answered = (
        Ticket.objects.filter(team=team, priority=priority, first_response_at__gte=now - HANDLING_WINDOW)
        .order_by("-first_response_at")
        .values_list("created_at", "first_response_at")[:500]
    )
    seconds = [int((answered_at - created).total_seconds()) for created, answered_at in answered]
    if len(seconds) < HANDLING_MIN_SAMPLES:
        return team.sla_minutes(priority)
    return max(1, -(-median_low(seconds) // 60))


def response_estimate(*, team: Team, priority: str, now: datetime | None = None) -> str:
    """The human estimate for a new ticket of this priority in this team, from the live queue."""
    now = now or timezone.now()
    ranks = [p for p, rank in PRIORITY_RANK.items() if rank >= PRIORITY_RANK[priority]]
    queue_ahead = Ticket.objects.filter(
        team=team, status=Status.OPEN, first_response_at__isnull=True, priority__in=ranks
    ).count()
    agents = AgentProfile.objects.filter(teams=team, user__is_active=True, user__is_staff=True).count()
    minutes = estimate_response_minutes(
        handling_minutes=_handling_minutes(team, priority, now), queue_ahead=queue_ahead, agents=agents
    )
    return humanize_minutes(minutes)


# --- the user's side ----------------------------------------------------------------------------------------


def _new_ticket_id() -> str:
    return f"TKT-{secrets.randbelow(1_000_000):06d}"


def _insert_with_random_id(ticket: Ticket) -> Ticket:
    for _ in range(ID_ATTEMPTS):
        ticket.id = _new_ticket_id()
        try:
            with transaction.atomic():  # a savepoint: a colliding id leaves the outer transaction usable
                ticket.save(force_insert=True)
        except IntegrityError:
            if not Ticket.objects.filter(pk=ticket.id).exists():
                raise  # not a collision of ids
            continue
        return ticket
    raise StateConflict("ticket_id_exhausted", "Could not allocate a ticket id; try again.")


def ticket_create(
    *,
    user: Any,
    subject: str,
    description: str,
    category: str,
    priority: str = Priority.MEDIUM,
    attachments: Iterable[Any] = (),
    user_agent: str = "",
    wallet_address: str = "",
) -> Ticket:
    """Open a ticket, routed to its category's team. ``attachments`` are raw (base64 strings, data URLs,
    uploaded files) or already prepared; all are validated before anything is written."""
    if category not in Category.values:
        raise InvalidInput("invalid_category", f'Unknown category "{category}".', {"allowed": Category.values})
    if priority not in Priority.values:
        raise InvalidInput("invalid_priority", f'Unknown priority "{priority}".', {"allowed": Priority.values})
    prepared = attachments_prepare(attachments)
    team = team_for_category(category)
    final_priority = priority_for(category=category, requested=priority)
    with files_removed_on_error() as written, transaction.atomic():
        now = timezone.now()
        ticket = Ticket(
            user=user,
            subject=subject,
            description=description,
            category=category,
            priority=final_priority,
            requested_priority=priority,
            team=team,
            user_agent=user_agent[:500],
            wallet_address=wallet_address[:100],
            estimated_response_time=response_estimate(team=team, priority=final_priority, now=now),
            first_response_due_at=now + timedelta(minutes=team.sla_minutes(final_priority)),
            last_user_message_at=now,
        )
        _insert_with_random_id(ticket)
        attachments_store(ticket=ticket, message=None, items=prepared, uploaded_by=user, written=written)
    return ticket


def ticket_message_add(*, ticket: Ticket, author: Any, message: str, attachments: Iterable[Any] = ()) -> TicketMessage:
    """The user's reply. Reopens a pending, resolved or closed ticket."""
    prepared = attachments_prepare(attachments)
    with files_removed_on_error() as written, transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        reply = TicketMessage.objects.create(ticket=ticket, author=author, role=TicketMessage.Role.USER, body=message)
        attachments_store(ticket=ticket, message=reply, items=prepared, uploaded_by=author, written=written)
        ticket.last_user_message_at = reply.created_at
        fields = ["last_user_message_at", "updated_at"]
        if ticket.status != Status.OPEN:
            fields += _apply_status(ticket, Status.OPEN, reply.created_at)
        ticket.save(update_fields=fields)
    return reply


# --- the agents' side ---------------------------------------------------------------------------------------


def _check_agent(agent: Any) -> None:
    if agent is None or not agent.is_active or not agent.is_staff:
        raise InvalidInput("not_an_agent", "Tickets can only be handled by active staff users.")


def user_display_name(user: Any) -> str:
    return (user.first_name or "").strip() or "there"


@transaction.atomic
def ticket_agent_reply(
    *, ticket: Ticket, agent: Any, body: str, internal: bool = False, set_status: str | None = None
) -> TicketMessage:
    """An agent's message. A public reply is the user's to see: it records the first response, moves the
    ticket to ``set_status`` (default: pending, i.e. waiting on the user; a resolved or closed ticket keeps
    its status unless ``set_status`` says otherwise) and notifies the user after commit. An internal note
    changes nothing but the thread, and the user never sees it."""
    _check_agent(agent)
    if not (body or "").strip():
        raise InvalidInput("empty_message", "The message is empty.")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if internal:
        return TicketMessage.objects.create(
            ticket=ticket, author=agent, role=TicketMessage.Role.AGENT, body=body, internal=True
        )
    target = set_status or (Status.PENDING if ticket.status == Status.OPEN else ticket.status)
    if target != ticket.status:
        _check_transition(ticket, target)
    reply = TicketMessage.objects.create(ticket=ticket, author=agent, role=TicketMessage.Role.AGENT, body=body)
    ticket.first_response_at = ticket.first_response_at or reply.created_at
    ticket.last_agent_message_at = reply.created_at
    fields = ["first_response_at", "last_agent_message_at", "updated_at"]
    if target != ticket.status:
        fields += _apply_status(ticket, target, reply.created_at)
    ticket.save(update_fields=fields)
    notify(
        user=ticket.user,
        kind="support_reply",
        title=f"Reply on {ticket.id}",
        message=body[:200],
        data={"ticket_id": ticket.id},
    )
    return reply


def macro_apply(*, ticket: Ticket, macro: Macro, agent: Any, set_status: str | None = None) -> TicketMessage:
    """Send a canned reply (``{name}`` becomes the user's first name, or "there") and apply ``set_status``, else
    the macro's own status, in the reply's transaction."""
    body = macro.body.replace("{name}", user_display_name(ticket.user))
    return ticket_agent_reply(ticket=ticket, agent=agent, body=body, set_status=set_status or macro.set_status or None)


@transaction.atomic
def ticket_assign(*, ticket: Ticket, agent: Any, by: Any) -> Ticket:
    """Give the ticket to ``agent`` (an active staff user), whoever had it."""
    _check_agent(agent)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    ticket.assignee = agent
    ticket.save(update_fields=["assignee", "updated_at"])
    return ticket


@transaction.atomic
def ticket_claim(*, ticket: Ticket, agent: Any) -> Ticket:
    """Take an unassigned ticket (no-op if already the agent's); another agent's ticket is a conflict."""
    _check_agent(agent)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.assignee_id == agent.pk:
        return ticket
    if ticket.assignee_id is not None:
        raise StateConflict("already_assigned", f"Ticket {ticket.id} is already assigned to another agent.")
    ticket.assignee = agent
    ticket.save(update_fields=["assignee", "updated_at"])
    return ticket


@transaction.atomic
def ticket_set_status(*, ticket: Ticket, status: str, by: Any) -> Ticket:
    """Move the ticket along ``TRANSITIONS``; an illegal change (or none) is a 409."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    _check_transition(ticket, status)
    ticket.save(update_fields=[*_apply_status(ticket, status, timezone.now()), "updated_at"])
    return ticket


@transaction.atomic
def tickets_bulk_set_status(*, ticket_ids: Sequence[str], status: str, by: Any) -> int:
    """Apply a status to many tickets; those that cannot make that change are skipped. Returns how many
    changed. Rows are locked in primary-key order so two bulk changes cannot deadlock."""
    if status not in Status.values:
        raise InvalidInput("invalid_status", f'Unknown status "{status}".', {"allowed": Status.values})
    now = timezone.now()
    changed = 0
    for ticket in Ticket.objects.select_for_update().filter(pk__in=list(ticket_ids)).order_by("pk"):
        if status not in TRANSITIONS[ticket.status]:
            continue
        ticket.save(update_fields=[*_apply_status(ticket, status, now), "updated_at"])
        changed += 1
    return changed
