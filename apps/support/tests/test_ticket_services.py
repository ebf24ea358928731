"""Ticket services as the API and the admin call them: ids, routing, priority, estimates, the agents' side
(replies, internal notes, macros, assignment, status changes) and the selectors the admin and chat use."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notifications.models import Notification
from apps.support.models import Macro, Ticket, TicketMessage
from apps.support.selectors import tickets as selectors
from apps.support.services import tickets as services
from engipay.api.errors import InvalidInput, StateConflict

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_ticket(alice, support_teams, support_files):
    def make(category: str = "technical", priority: str = "medium", user=None) -> Ticket:
        return services.ticket_create(
            user=user or alice, subject="Wallet", description="It fails.", category=category, priority=priority
        )

    return make


# --- pure rules -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handling", "queue_ahead", "agents", "minutes"),
    [(60, 0, 1, 60), (60, 1, 1, 120), (60, 3, 2, 150), (45, 1, 3, 60), (10, 0, 0, 10), (7, 1, 2, 11)],
)
def test_estimate_is_handling_time_stretched_by_the_queue_per_agent(handling, queue_ahead, agents, minutes):
    assert services.estimate_response_minutes(handling_minutes=handling, queue_ahead=queue_ahead, agents=agents) == (
        minutes
    )


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (1, "5 minutes"),
        (44, "45 minutes"),
        (45, "45 minutes"),
        (58, "1 hour"),
        (61, "2 hours"),
        (180, "3 hours"),
        (1440, "24 hours"),
        (2880, "48 hours"),
        (2881, "3 days"),
    ],
)
def test_estimates_are_rounded_up_for_people(minutes, text):
    assert services.humanize_minutes(minutes) == text


@pytest.mark.parametrize(
    ("category", "requested", "final"),
    [
        ("funds_at_risk", "low", "urgent"),
        ("funds_at_risk", "high", "urgent"),
        ("security", "low", "high"),
        ("security", "medium", "high"),
        ("security", "urgent", "urgent"),
        ("technical", "low", "low"),
        ("payments", "urgent", "urgent"),
    ],
)
def test_priority_is_raised_for_risky_categories_never_lowered(new_ticket, category, requested, final):
    ticket = new_ticket(category=category, priority=requested)
    assert (ticket.priority, ticket.requested_priority) == (final, requested)
    due_in = ticket.first_response_due_at - ticket.created_at
    assert abs(due_in - timedelta(minutes=ticket.team.sla_minutes(final))) < timedelta(seconds=1)


# --- ids and routing --------------------------------------------------------------------------------------------


def test_ids_are_random_six_digits(new_ticket):
    ids = [new_ticket().id for _ in range(6)]
    assert all(re.fullmatch(r"TKT-\d{6}", ticket_id) for ticket_id in ids)
    assert len(set(ids)) == 6
    numbers = [int(ticket_id[4:]) for ticket_id in ids]
    assert any(abs(b - a) != 1 for a, b in itertools.pairwise(numbers))


def test_a_colliding_id_is_drawn_again_in_a_savepoint(new_ticket, monkeypatch):
    draws = iter([123456, 123456, 123456, 654321])
    monkeypatch.setattr(services.secrets, "randbelow", lambda _: next(draws))
    assert new_ticket().id == "TKT-123456"
    assert new_ticket().id == "TKT-654321"
    assert Ticket.objects.count() == 2


@pytest.mark.parametrize(
    ("category", "team"),
    [
        ("technical", "technical"),
        ("wallet", "technical"),
        ("payments", "payments"),
        ("swaps", "payments"),
        ("security", "trust-safety"),
        ("funds_at_risk", "trust-safety"),
        ("kyc", "accounts"),
        ("account", "accounts"),
        ("feedback", "general"),
        ("other", "general"),
    ],
)
def test_tickets_are_routed_to_their_categorys_team(new_ticket, category, team):
    assert new_ticket(category=category).team.slug == team


def test_a_category_no_team_lists_goes_to_general(new_ticket, support_teams):
    technical = support_teams["technical"]
    technical.categories = ["technical"]
    technical.save()
    assert new_ticket(category="wallet").team.slug == "general"


def test_the_chat_engineers_call_opens_a_ticket_without_attachments(alice, support_teams):
    ticket = services.ticket_create(user=alice, subject="From chat", description="Transcript…", category="other")
    assert (ticket.status, ticket.priority, ticket.team.slug) == ("open", "medium", "general")
    assert not ticket.attachments.exists()


# --- the estimate follows the queue and recent handling times ---------------------------------------------------


def test_estimate_grows_with_the_unanswered_queue_and_shrinks_with_agents(new_ticket, make_ticket_agent, support_teams):
    assert new_ticket().estimated_response_time == "8 hours"  # technical, medium: SLA 480 minutes, empty queue
    assert new_ticket().estimated_response_time == "16 hours"  # one ahead, one (implicit) agent
    for _ in range(3):
        new_ticket()
    assert new_ticket().estimated_response_time == "48 hours"  # 5 ahead: 480 * 6 = 2880 minutes
    make_ticket_agent(teams=[support_teams["technical"]])
    make_ticket_agent(teams=[support_teams["technical"]])
    make_ticket_agent(teams=[support_teams["technical"]])
    # 6 ahead, 3 agents: 480 * (1 + 6/3) = 1440 minutes
    assert new_ticket().estimated_response_time == "24 hours"


def test_lower_priority_tickets_do_not_count_as_ahead(new_ticket):
    for _ in range(4):
        new_ticket(priority="low")
    assert new_ticket(priority="urgent").estimated_response_time == "1 hour"  # technical urgent SLA: 60
    assert new_ticket(priority="high").estimated_response_time == "8 hours"  # 240 * 2: the urgent one is ahead


def test_estimate_uses_recent_first_response_times_once_there_are_enough(new_ticket, make_ticket_agent):
    agent = make_ticket_agent()
    answered = [new_ticket() for _ in range(5)]
    for ticket in answered:
        services.ticket_agent_reply(ticket=ticket, agent=agent, body="Looking into it.")
    now = timezone.now()
    Ticket.objects.filter(pk__in=[t.pk for t in answered]).update(
        created_at=now - timedelta(minutes=40), first_response_at=now - timedelta(minutes=15)
    )
    assert new_ticket().estimated_response_time == "25 minutes"
    # Answers older than the window are ignored again: back to the SLA, with one ticket waiting ahead.
    Ticket.objects.filter(pk__in=[t.pk for t in answered]).update(first_response_at=now - timedelta(days=15))
    assert new_ticket().estimated_response_time == "16 hours"


def test_the_median_handling_time_is_the_same_prioritys(new_ticket, make_ticket_agent):
    """Slow answers to low-priority tickets say nothing about how fast an urgent one is answered."""
    agent = make_ticket_agent()
    answered = [new_ticket(priority="low") for _ in range(5)]
    for ticket in answered:
        services.ticket_agent_reply(ticket=ticket, agent=agent, body="Looking into it.")
    now = timezone.now()
    Ticket.objects.filter(pk__in=[t.pk for t in answered]).update(
        created_at=now - timedelta(hours=21), first_response_at=now - timedelta(hours=1)
    )
    assert new_ticket(priority="low").estimated_response_time == "20 hours"  # the low tickets' median
    assert new_ticket(priority="urgent").estimated_response_time == "1 hour"  # technical urgent SLA: 60


# --- user replies and agent replies -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "resolved", "closed"])
def test_a_user_reply_reopens_the_ticket(new_ticket, alice, status):
    ticket = new_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(status=status, resolved_at=timezone.now())
    message = services.ticket_message_add(ticket=ticket, author=alice, message="Still broken")
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.resolved_at is None
    assert ticket.last_user_message_at == message.created_at
    assert (message.role, message.internal, message.body) == ("user", False, "Still broken")


def test_a_public_agent_reply_answers_sets_pending_and_notifies(
    new_ticket, alice, make_ticket_agent, django_capture_on_commit_callbacks
):
    ticket = new_ticket()
    agent = make_ticket_agent()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reply = services.ticket_agent_reply(ticket=ticket, agent=agent, body="Hi! " + "x" * 300)
    ticket.refresh_from_db()
    assert (reply.role, reply.internal) == ("agent", False)
    assert ticket.status == "pending"
    assert ticket.first_response_at == reply.created_at == ticket.last_agent_message_at
    notification = Notification.objects.get(user=alice)
    assert (notification.kind, notification.title) == ("support_reply", f"Reply on {ticket.id}")
    assert notification.message == ("Hi! " + "x" * 300)[:200]
    assert notification.data == {"ticket_id": ticket.id}
    assert len(callbacks) == 1  # the push, after commit

    later = services.ticket_agent_reply(ticket=ticket, agent=agent, body="Done.", set_status="resolved")
    ticket.refresh_from_db()
    assert ticket.first_response_at == reply.created_at  # the first one stays
    assert ticket.last_agent_message_at == later.created_at
    assert (ticket.status, ticket.resolved_at is not None) == ("resolved", True)


def test_an_internal_note_changes_nothing_and_notifies_nobody(new_ticket, make_ticket_agent):
    ticket = new_ticket()
    note = services.ticket_agent_reply(ticket=ticket, agent=make_ticket_agent(), body="VIP", internal=True)
    ticket.refresh_from_db()
    assert note.internal is True
    assert (ticket.status, ticket.first_response_at, ticket.last_agent_message_at) == ("open", None, None)
    assert not Notification.objects.exists()


def test_an_agent_reply_to_a_closed_ticket_keeps_it_closed_unless_told(new_ticket, make_ticket_agent):
    ticket, agent = new_ticket(), make_ticket_agent()
    services.ticket_set_status(ticket=ticket, status="closed", by=agent)
    services.ticket_agent_reply(ticket=ticket, agent=agent, body="PS")
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    with pytest.raises(StateConflict):
        services.ticket_agent_reply(ticket=ticket, agent=agent, body="PS", set_status="pending")
    assert ticket.messages.count() == 1


def test_only_staff_may_reply_as_agents(new_ticket, bob):
    with pytest.raises(InvalidInput):
        services.ticket_agent_reply(ticket=new_ticket(), agent=bob, body="I am support, honest")
    assert not TicketMessage.objects.exists()


def test_a_macro_greets_the_user_and_applies_its_status(new_ticket, alice, make_ticket_agent):
    alice.first_name = "Alice"
    alice.save(update_fields=["first_name"])
    ticket = new_ticket()
    macro = Macro.objects.create(name="Solved", body="Hi {name}, fixed. {unknown}", set_status="resolved")
    message = services.macro_apply(ticket=ticket, macro=macro, agent=make_ticket_agent())
    ticket.refresh_from_db()
    assert message.body == "Hi Alice, fixed. {unknown}"
    assert ticket.status == "resolved"


def test_a_macro_says_there_to_a_user_without_a_name(new_ticket, make_ticket_agent):
    macro = Macro.objects.create(name="Hello", body="Hi {name}!")
    message = services.macro_apply(ticket=new_ticket(), macro=macro, agent=make_ticket_agent())
    assert message.body == "Hi there!"
    assert message.ticket.status == "pending"


# --- assignment and status --------------------------------------------------------------------------------------


def test_assign_and_claim(new_ticket, make_ticket_agent, bob):
    ticket, sam, kim = new_ticket(), make_ticket_agent("Sam"), make_ticket_agent("Kim")
    with pytest.raises(InvalidInput):
        services.ticket_assign(ticket=ticket, agent=bob, by=sam)
    assert services.ticket_claim(ticket=ticket, agent=sam).assignee == sam
    assert services.ticket_claim(ticket=ticket, agent=sam).assignee == sam  # again: no-op
    with pytest.raises(StateConflict):
        services.ticket_claim(ticket=ticket, agent=kim)
    assert services.ticket_assign(ticket=ticket, agent=kim, by=sam).assignee == kim
    ticket.refresh_from_db()
    assert ticket.assignee == kim


LEGAL = [
    ("open", "pending"),
    ("open", "resolved"),
    ("open", "closed"),
    ("pending", "open"),
    ("pending", "resolved"),
    ("pending", "closed"),
    ("resolved", "open"),
    ("resolved", "closed"),
    ("closed", "open"),
]
ILLEGAL = [
    ("open", "open"),
    ("pending", "pending"),
    ("resolved", "pending"),
    ("resolved", "resolved"),
    ("closed", "pending"),
    ("closed", "resolved"),
    ("closed", "closed"),
]


@pytest.mark.parametrize(("start", "target"), LEGAL)
def test_legal_status_changes(new_ticket, make_ticket_agent, start, target):
    ticket = new_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(status=start)
    ticket = services.ticket_set_status(ticket=ticket, status=target, by=make_ticket_agent())
    ticket.refresh_from_db()
    assert ticket.status == target
    assert (ticket.resolved_at is not None) == (target in ("resolved", "closed"))
    assert (ticket.closed_at is not None) == (target == "closed")


@pytest.mark.parametrize(("start", "target"), ILLEGAL)
def test_illegal_status_changes_are_conflicts(new_ticket, make_ticket_agent, start, target):
    ticket = new_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(status=start)
    with pytest.raises(StateConflict) as error:
        services.ticket_set_status(ticket=ticket, status=target, by=make_ticket_agent())
    assert error.value.status_code == 409
    ticket.refresh_from_db()
    assert ticket.status == start


def test_an_unknown_status_is_bad_input(new_ticket, make_ticket_agent):
    with pytest.raises(InvalidInput):
        services.ticket_set_status(ticket=new_ticket(), status="snoozed", by=make_ticket_agent())


def test_bulk_status_skips_tickets_that_cannot_change(new_ticket, make_ticket_agent):
    tickets = [new_ticket() for _ in range(4)]
    Ticket.objects.filter(pk=tickets[0].pk).update(status="closed")
    Ticket.objects.filter(pk=tickets[1].pk).update(status="resolved")
    ids = [t.pk for t in tickets] + ["TKT-000000"]
    assert services.tickets_bulk_set_status(ticket_ids=ids, status="resolved", by=make_ticket_agent()) == 2
    assert sorted(Ticket.objects.values_list("status", flat=True)) == ["closed", "resolved", "resolved", "resolved"]
    with pytest.raises(InvalidInput):
        services.tickets_bulk_set_status(ticket_ids=ids, status="nope", by=None)


# --- selectors ---------------------------------------------------------------------------------------------------


def test_sla_breached_tickets(new_ticket, make_ticket_agent):
    agent = make_ticket_agent()
    unanswered_late, answered_late, answered_in_time, waiting = (new_ticket() for _ in range(4))
    past = timezone.now() - timedelta(hours=1)
    Ticket.objects.filter(pk__in=[unanswered_late.pk, answered_late.pk]).update(first_response_due_at=past)
    services.ticket_agent_reply(ticket=answered_late, agent=agent, body="Sorry for the wait")
    services.ticket_agent_reply(ticket=answered_in_time, agent=agent, body="Quick")
    breached = set(selectors.tickets_sla_breached(Ticket.objects.all()).values_list("pk", flat=True))
    assert breached == {unanswered_late.pk, answered_late.pk}
    assert waiting.pk not in breached


def test_a_ticket_resolved_in_time_without_a_reply_is_not_breached(new_ticket, make_ticket_agent):
    """A duplicate or spam ticket closed before its deadline missed nothing; one closed after it did."""
    agent = make_ticket_agent()
    closed_in_time, closed_late = new_ticket(), new_ticket()
    services.ticket_set_status(ticket=closed_in_time, status="closed", by=agent)
    services.ticket_set_status(ticket=closed_late, status="resolved", by=agent)
    past = timezone.now() - timedelta(hours=1)
    in_time = past - timedelta(minutes=5)
    Ticket.objects.filter(pk=closed_in_time.pk).update(first_response_due_at=past, resolved_at=in_time)
    Ticket.objects.filter(pk=closed_late.pk).update(first_response_due_at=past)
    breached = set(selectors.tickets_sla_breached(Ticket.objects.all()).values_list("pk", flat=True))
    assert breached == {closed_late.pk}


def test_recent_tickets_of_a_user(new_ticket, alice, bob):
    mine = [new_ticket() for _ in range(3)]
    new_ticket(user=bob)
    recent = selectors.ticket_recent_for_user(user=alice, limit=2)
    assert [t.pk for t in recent] == [mine[2].pk, mine[1].pk]
