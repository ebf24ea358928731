"""The support agents' back office: least privilege, the ticket inbox (filters, ordering, actions), replies and
internal notes written in the admin, attachment downloads, macros, teams, agent profiles, transcripts, console."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.authentication import user_and_expiry_for_token
from apps.accounts.models import User
from apps.notifications.models import Notification
from apps.support.models import AgentProfile, ChatMessage, ChatSession, Macro, Team, Ticket, TicketMessage
from apps.support.services import tickets as ticket_services
from tests.helpers import logged_in_client, staff_user

pytestmark = pytest.mark.django_db

SUPPORT_PAGES = ["ticket", "macro", "team", "agentprofile", "chatsession"]
EXPECTED_PERMISSIONS = {
    "view_ticket", "change_ticket", "add_ticketmessage", "view_ticketmessage", "view_attachment",
    "add_macro", "change_macro", "delete_macro", "view_macro", "view_team", "view_agentprofile",
    "change_agentprofile", "view_chatsession", "change_chatsession", "view_chatmessage",
}  # fmt: skip


@pytest.fixture
def agent_user() -> User:
    user = staff_user("agent@example.com", "Support agents")
    AgentProfile.objects.create(user=user, display_name="Sam")
    return user


@pytest.fixture
def agent(agent_user) -> Client:
    return logged_in_client(agent_user)


@pytest.fixture
def other_agent() -> User:
    user = staff_user("agent2@example.com", "Support agents")
    AgentProfile.objects.create(user=user, display_name="Kim")
    return user


@pytest.fixture
def editor() -> Client:
    return logged_in_client(staff_user("editor@example.com", "Help editors"))


@pytest.fixture
def private_root(settings, tmp_path):
    settings.SUPPORT_PRIVATE_ROOT = str(tmp_path / "private")
    return settings.SUPPORT_PRIVATE_ROOT


def _ticket(user: User, subject: str = "Cannot swap", category: str = "technical", **kwargs) -> Ticket:
    return ticket_services.ticket_create(
        user=user, subject=subject, description=kwargs.pop("description", "It fails."), category=category, **kwargs
    )


def _customer(email: str = "customer@example.com") -> User:
    return User.objects.create_user(email=email, password="pw-for-tests-only")


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _changelist(client: Client, **query) -> set[str]:
    response = client.get(reverse("admin:support_ticket_changelist"), query)
    assert response.status_code == 200
    return {t.pk for t in response.context["cl"].result_list}


# --- least privilege ---------------------------------------------------------------------------------------------


def test_support_agents_group_holds_exactly_its_support_permissions():
    perms = set(Group.objects.get(name="Support agents").permissions.values_list("content_type__app_label", "codename"))
    assert {label for label, _ in perms} == {"support"}
    assert {codename for _, codename in perms} == EXPECTED_PERMISSIONS


def test_agent_sees_the_support_pages(agent, agent_user):
    index = agent.get("/admin/")
    assert index.status_code == 200
    assert {app["app_label"] for app in index.context["app_list"]} == {"support"}
    for model in SUPPORT_PAGES:
        assert agent.get(reverse(f"admin:support_{model}_changelist")).status_code == 200, model
    ticket = _ticket(_customer())
    assert agent.get(reverse("admin:support_ticket_change", args=[ticket.pk])).status_code == 200
    assert agent.get(reverse("admin:support_console")).status_code == 200
    assert agent.get("/admin/support/console/").status_code == 200


def test_agent_gets_403_on_every_other_admin_page(agent):
    """Users, wallets, KYC, help center, notifications...: whatever else is registered is refused."""
    others = [m for m in admin.site._registry if m._meta.app_label != "support"]
    assert User in others
    for model in others:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert agent.get(url).status_code == 403, url
    page = agent.get(reverse("admin:accounts_user_changelist"))
    assert b"Access denied" in page.content
    assert page["Content-Type"].startswith("text/html")


def test_help_editor_is_refused_the_support_pages_and_the_console(editor):
    ticket = _ticket(_customer())
    for model in SUPPORT_PAGES:
        assert editor.get(reverse(f"admin:support_{model}_changelist")).status_code == 403, model
    assert editor.get(reverse("admin:support_ticket_change", args=[ticket.pk])).status_code == 403
    assert editor.get(reverse("admin:support_console")).status_code == 403
    assert editor.post(reverse("admin:support_console_token")).status_code == 403
    reply = editor.post(reverse("admin:support_ticket_reply", args=[ticket.pk]), {"body": "hi"})
    assert reply.status_code == 403
    assert not TicketMessage.objects.exists()


def test_anonymous_is_sent_to_the_login_page():
    response = Client().get(reverse("admin:support_console"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- inbox: columns, filters, ordering ---------------------------------------------------------------------------


def test_inbox_filters_by_assignment_sla_and_search(agent, agent_user, other_agent):
    customer = _customer("findme@example.com")
    mine = _ticket(customer, "Mine")
    theirs = _ticket(customer, "Theirs")
    free = _ticket(_customer("other@example.com"), "Nobody's")
    ticket_services.ticket_assign(ticket=mine, agent=agent_user, by=agent_user)
    ticket_services.ticket_assign(ticket=theirs, agent=other_agent, by=agent_user)
    Ticket.objects.filter(pk=free.pk).update(first_response_due_at=timezone.now() - timedelta(minutes=5))

    assert _changelist(agent, assigned="me") == {mine.pk}
    assert _changelist(agent, assigned="unassigned") == {free.pk}
    assert _changelist(agent, assigned="anyone") == {mine.pk, theirs.pk}
    assert _changelist(agent, sla_breached="yes") == {free.pk}
    assert _changelist(agent, sla_breached="no") == {mine.pk, theirs.pk}
    assert _changelist(agent, q="findme@example") == {mine.pk, theirs.pk}
    assert _changelist(agent, q=free.pk) == {free.pk}
    assert _changelist(agent, team__id__exact=mine.team_id, status__exact="open") == {mine.pk, theirs.pk, free.pk}

    page = agent.get(reverse("admin:support_ticket_changelist")).content.decode()
    breached = re.search(r'<strong class="sla-breached"[^>]*>[^<]*</strong>', page)
    assert breached is not None
    assert "(breached)" in breached.group(0)
    assert page.count('class="sla-breached"') == 1


def test_inbox_puts_the_most_urgent_and_soonest_due_first(agent):
    customer = _customer()
    low = _ticket(customer, "Low", priority="low")
    urgent_later = _ticket(customer, "Urgent later", priority="urgent")
    urgent_sooner = _ticket(customer, "Urgent sooner", priority="urgent")
    medium = _ticket(customer, "Medium", priority="medium")
    Ticket.objects.filter(pk=urgent_sooner.pk).update(first_response_due_at=timezone.now() - timedelta(hours=1))
    response = agent.get(reverse("admin:support_ticket_changelist"))
    assert [t.pk for t in response.context["cl"].result_list] == [urgent_sooner.pk, urgent_later.pk, medium.pk, low.pk]


# --- actions -----------------------------------------------------------------------------------------------------


def test_claim_takes_free_tickets_and_skips_another_agents(agent, agent_user, other_agent):
    customer = _customer()
    free = _ticket(customer, "Free")
    taken = _ticket(customer, "Taken")
    ticket_services.ticket_assign(ticket=taken, agent=other_agent, by=other_agent)
    response = agent.post(
        reverse("admin:support_ticket_changelist"),
        {"action": "claim", "_selected_action": [free.pk, taken.pk]},
        follow=True,
    )
    notes = _messages(response)
    assert "1 ticket(s) claimed." in notes
    assert any(taken.pk in note and "skipped" in note for note in notes)
    free.refresh_from_db()
    taken.refresh_from_db()
    assert free.assignee == agent_user
    assert taken.assignee == other_agent


def test_assign_action_gives_tickets_to_the_chosen_agent(agent, other_agent):
    customer = _customer()
    one, two = _ticket(customer, "One"), _ticket(customer, "Two")
    url = reverse("admin:support_ticket_changelist")
    refused = agent.post(url, {"action": "assign", "_selected_action": [one.pk]}, follow=True)
    assert "Choose the agent to assign the tickets to." in _messages(refused)
    response = agent.post(
        url, {"action": "assign", "_selected_action": [one.pk, two.pk], "agent": other_agent.pk}, follow=True
    )
    assert "2 ticket(s) assigned to Kim." in _messages(response)
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {other_agent.pk}


def test_bulk_status_reports_changed_and_skipped(agent, agent_user):
    customer = _customer()
    open_one, open_two, closed = _ticket(customer, "A"), _ticket(customer, "B"), _ticket(customer, "C")
    ticket_services.ticket_set_status(ticket=closed, status="closed", by=agent_user)
    url = reverse("admin:support_ticket_changelist")
    response = agent.post(
        url, {"action": "mark_resolved", "_selected_action": [open_one.pk, open_two.pk, closed.pk]}, follow=True
    )
    assert "2 ticket(s) set to resolved; 1 skipped." in _messages(response)
    assert dict(Ticket.objects.values_list("pk", "status")) == {
        open_one.pk: "resolved", open_two.pk: "resolved", closed.pk: "closed"
    }  # fmt: skip
    agent.post(url, {"action": "mark_closed", "_selected_action": [open_one.pk]})
    agent.post(url, {"action": "mark_pending", "_selected_action": [open_two.pk]})
    assert Ticket.objects.get(pk=open_one.pk).status == "closed"
    assert Ticket.objects.get(pk=open_two.pk).status in {"pending", "resolved"}  # as the transitions allow


# --- change page: thread, replies, internal notes, macros --------------------------------------------------------


def test_reply_in_the_admin_reaches_the_user_and_notifies_them(agent, agent_user, alice, api_client_for):
    ticket = _ticket(alice, "Withdrawal stuck", "payments")
    url = reverse("admin:support_ticket_reply", args=[ticket.pk])
    response = agent.post(url, {"body": "We are on it <b>now</b>.", "set_status": ""}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:support_ticket_change", args=[ticket.pk])
    assert "Reply sent to the user." in _messages(response)
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    assert ticket.first_response_at is not None

    detail = api_client_for(alice).get(f"/api/support/tickets/{ticket.pk}").json()
    assert [m["message"] for m in detail["messages"]] == ["We are on it <b>now</b>."]
    notification = Notification.objects.get(user=alice, kind="support_reply")
    assert notification.data["ticket_id"] == ticket.pk

    page = response.content.decode()
    assert "We are on it &lt;b&gt;now&lt;/b&gt;." in page  # escaped in the thread


def test_internal_note_is_marked_and_never_reaches_the_user(agent, alice, api_client_for):
    ticket = _ticket(alice)
    url = reverse("admin:support_ticket_reply", args=[ticket.pk])
    response = agent.post(url, {"body": "User looks confused, check logs.", "internal": "on"}, follow=True)
    assert "Internal note added." in _messages(response)
    note = TicketMessage.objects.get(ticket=ticket)
    assert note.internal
    page = response.content.decode()
    assert "Internal note — the user never sees this" in page
    assert "User looks confused, check logs." in page
    assert api_client_for(alice).get(f"/api/support/tickets/{ticket.pk}").json()["messages"] == []
    assert not Notification.objects.filter(user=alice, kind="support_reply").exists()
    assert Ticket.objects.get(pk=ticket.pk).status == "open"


def test_macro_is_sent_through_the_service_and_applies_its_status(agent, alice, api_client_for):
    ticket = _ticket(alice)
    macro = Macro.objects.create(name="Solved", body="Hi {name}, all fixed.", set_status="resolved")
    url = reverse("admin:support_ticket_reply", args=[ticket.pk])
    response = agent.post(url, {"macro": macro.pk}, follow=True)
    assert "Macro “Solved” sent to the user." in _messages(response)
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"
    detail = api_client_for(alice).get(f"/api/support/tickets/{ticket.pk}").json()
    assert detail["messages"][0]["message"] == "Hi there, all fixed."


def test_a_macro_with_the_same_status_chosen_again_is_one_clean_reply(agent, alice):
    ticket = _ticket(alice)
    macro = Macro.objects.create(name="Solved", body="All fixed.", set_status="resolved")
    url = reverse("admin:support_ticket_reply", args=[ticket.pk])
    response = agent.post(url, {"macro": macro.pk, "set_status": "resolved"}, follow=True)
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("success", "Macro “Solved” sent to the user.")
    ]
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"


def test_a_refused_status_after_a_macro_sends_nothing(agent, alice):
    """The macro and the chosen status are one change: a status the ticket cannot take refuses the macro too."""
    ticket = _ticket(alice)
    ticket_services.ticket_set_status(ticket=ticket, status="closed", by=None)
    macro = Macro.objects.create(name="Note", body="We are on it.")
    url = reverse("admin:support_ticket_reply", args=[ticket.pk])
    response = agent.post(url, {"macro": macro.pk, "set_status": "resolved"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert not TicketMessage.objects.exists()
    assert not Notification.objects.exists()
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


def test_a_status_change_from_the_reply_box_needs_the_change_permission(alice):
    ticket = _ticket(alice)
    writer = staff_user("writer@example.com")
    writer.user_permissions.add(*Permission.objects.filter(codename__in=["view_ticket", "add_ticketmessage"]))
    url = reverse("admin:support_ticket_reply", args=[ticket.pk])
    assert logged_in_client(writer).post(url, {"set_status": "closed"}).status_code == 403
    assert logged_in_client(writer).post(url, {"body": "Hello", "set_status": "resolved"}).status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == "open"
    assert logged_in_client(writer).post(url, {"body": "Hello"}).status_code == 302  # a plain reply is theirs to send
    assert Ticket.objects.get(pk=ticket.pk).status == "pending"


def test_admin_posts_need_the_csrf_token(agent_user, alice):
    ticket = _ticket(alice)
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_user)
    assert client.post(reverse("admin:support_ticket_reply", args=[ticket.pk]), {"body": "hi"}).status_code == 403
    assert client.post(reverse("admin:support_console_token")).status_code == 403
    assert not TicketMessage.objects.exists()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"body": "   "}, "Write a reply, choose a macro or choose a status."),
        ({"body": "x", "macro": "MACRO"}, "Choose a macro or write a reply, not both."),
        ({"macro": "MACRO", "internal": "on"}, "Macros are replies to the user; they cannot be internal notes."),
        ({"internal": "on", "set_status": "pending"}, "An internal note needs a text."),
    ],
)
def test_reply_form_refuses_bad_input(agent, data, error):
    ticket = _ticket(_customer())
    macro = Macro.objects.create(name="M", body="b")
    data = {key: (macro.pk if value == "MACRO" else value) for key, value in data.items()}
    response = agent.post(reverse("admin:support_ticket_reply", args=[ticket.pk]), data, follow=True)
    assert error in _messages(response)
    assert not TicketMessage.objects.exists()


def test_status_only_change_and_a_refused_transition_shows_the_service_error(agent, agent_user):
    ticket = _ticket(_customer())
    url = reverse("admin:support_ticket_reply", args=[ticket.pk])
    assert "Status set to resolved." in _messages(agent.post(url, {"set_status": "resolved"}, follow=True))
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"
    again = agent.post(url, {"set_status": "resolved"}, follow=True)
    assert again.status_code == 200
    assert [m.level_tag for m in again.context["messages"]] == ["error"]


def test_reply_needs_post_and_the_add_message_permission(agent):
    ticket = _ticket(_customer())
    url = reverse("admin:support_ticket_reply", args=[ticket.pk])
    assert agent.get(url).status_code == 405
    viewer = staff_user("viewer@example.com")
    viewer.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    assert logged_in_client(viewer).get(reverse("admin:support_ticket_change", args=[ticket.pk])).status_code == 200
    assert logged_in_client(viewer).post(url, {"body": "hi"}).status_code == 403
    assert not TicketMessage.objects.exists()


def test_change_page_edits_routing_and_assigns_through_the_service(agent, other_agent):
    ticket = _ticket(_customer())
    url = reverse("admin:support_ticket_change", args=[ticket.pk])
    page = agent.get(url)
    assert set(page.context["adminform"].form.fields) == {"priority", "team", "assignee"}
    assert b'id="reply-form"' in page.content
    payments = Team.objects.get(slug="payments")
    response = agent.post(url, {"priority": "high", "team": payments.pk, "assignee": other_agent.pk})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.team, ticket.assignee) == ("high", payments, other_agent)


def test_attachments_download_for_agents_only(agent, editor, private_root):
    text = base64.b64encode(b"wallet log line 1\n").decode()
    ticket = _ticket(_customer(), attachments=[f"data:text/plain;base64,{text}"])
    attachment = ticket.attachments.get()
    page = agent.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    url = reverse("admin:support_attachment_download", args=[attachment.pk])
    assert url in page
    download = agent.get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"wallet log line 1\n"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in download["Content-Disposition"]
    assert editor.get(url).status_code == 403
    assert agent.get(reverse("admin:support_attachment_download", args=[attachment.pk + 1000])).status_code == 404


def test_agents_cannot_add_or_delete_tickets(agent):
    ticket = _ticket(_customer())
    assert agent.get(reverse("admin:support_ticket_add")).status_code == 403
    assert agent.get(reverse("admin:support_ticket_delete", args=[ticket.pk])).status_code == 403


# --- macros, teams, agents, chat sessions ------------------------------------------------------------------------


def test_agent_manages_macros(agent):
    add = agent.post(
        reverse("admin:support_macro_add"), {"name": "Hello", "body": "Hi {name}", "team": "", "set_status": ""}
    )
    assert add.status_code == 302
    macro = Macro.objects.get(name="Hello")
    change = reverse("admin:support_macro_change", args=[macro.pk])
    assert (
        agent.post(change, {"name": "Hello", "body": "Hey {name}", "team": "", "set_status": "pending"}).status_code
        == 302
    )
    assert Macro.objects.get(pk=macro.pk).set_status == "pending"
    assert agent.post(reverse("admin:support_macro_delete", args=[macro.pk]), {"post": "yes"}).status_code == 302
    assert not Macro.objects.exists()


def test_teams_are_read_only_for_agents_and_editable_by_a_superuser(agent):
    team = Team.objects.get(slug="technical")
    url = reverse("admin:support_team_change", args=[team.pk])
    assert agent.get(url).status_code == 200
    data = {"slug": team.slug, "name": team.name, "categories": ["technical"], "sla_urgent_minutes": 5,
            "sla_high_minutes": 60, "sla_medium_minutes": 120, "sla_low_minutes": 600}  # fmt: skip
    assert agent.post(url, data).status_code == 403
    boss = User.objects.create_superuser(email="boss@example.com", password="pw-for-tests-only")
    assert logged_in_client(boss).post(url, data).status_code == 302
    team.refresh_from_db()
    assert (team.categories, team.sla_urgent_minutes) == (["technical"], 5)


def test_agent_edits_their_own_capacity_only_and_sees_the_roster(agent, agent_user, other_agent):
    mine = agent_user.agent_profile
    theirs = other_agent.agent_profile
    customer = _customer()
    ChatSession.objects.create(id="chat_a", user=customer, agent=other_agent, status="active", initial_message="hi",
                               waiting_since=timezone.now(), assigned_at=timezone.now())  # fmt: skip
    roster = agent.get(reverse("admin:support_agentprofile_changelist"))
    rows = {p.pk: p.active_total for p in roster.context["cl"].result_list}
    assert rows == {mine.pk: 0, theirs.pk: 1}

    url = reverse("admin:support_agentprofile_change", args=[mine.pk])
    form = agent.get(url).context["adminform"].form
    assert set(form.fields) == {"display_name", "capacity"}
    assert agent.post(url, {"display_name": "Sam R.", "capacity": 5}).status_code == 302
    mine.refresh_from_db()
    assert (mine.display_name, mine.capacity) == ("Sam R.", 5)

    other_url = reverse("admin:support_agentprofile_change", args=[theirs.pk])
    assert agent.get(other_url).status_code == 200  # view only
    assert agent.post(other_url, {"display_name": "hijack", "capacity": 9}).status_code == 403
    theirs.refresh_from_db()
    assert theirs.display_name == "Kim"


def test_chat_session_admin_shows_a_read_only_transcript_and_links_the_console(agent, agent_user):
    customer = _customer()
    session = ChatSession.objects.create(
        id="chat_transcript", user=customer, agent=agent_user, status="active", initial_message="Help",
        waiting_since=timezone.now(), assigned_at=timezone.now(), user_context={"current_page": "/swap"},
    )  # fmt: skip
    ChatMessage.objects.create(session=session, sender=customer, role="user", body="<script>x()</script>")
    listing = agent.get(reverse("admin:support_chatsession_changelist"), {"status__exact": "active"})
    assert listing.status_code == 200
    assert reverse("admin:support_console").encode() in listing.content
    page = agent.get(reverse("admin:support_chatsession_change", args=[session.pk])).content.decode()
    assert "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "&quot;current_page&quot;: &quot;/swap&quot;" in page
    assert 'name="_save"' not in page
    assert agent.post(reverse("admin:support_chatsession_change", args=[session.pk]), {}).status_code == 403


# --- console -----------------------------------------------------------------------------------------------------


def test_console_page_carries_a_token_for_the_agent_outside_any_url(agent, agent_user):
    page = agent.get(reverse("admin:support_console"))
    html = page.content.decode()
    config = json.loads(re.search(r'<script id="console-config" type="application/json">(.*?)</script>', html).group(1))
    user, _ = user_and_expiry_for_token(config["token"])
    assert user == agent_user
    assert config["consoleSocket"] == "/ws/support/agent/"
    assert "token=" not in html
    assert "support/console.js" in html
    assert "support/console.css" in html

    fresh = agent.post(reverse("admin:support_console_token"))
    assert fresh.status_code == 200
    assert user_and_expiry_for_token(fresh.json()["token"])[0] == agent_user
    assert agent.get(reverse("admin:support_console_token")).status_code == 405
