"""Fixtures shared by the support tests."""

from __future__ import annotations

import pytest

# --- live chat (test_chat_api.py, test_chat_ws.py) -----------------------------------------------------------


@pytest.fixture
def make_agent(make_user):
    """A support agent: an active staff user holding ``support.change_chatsession`` (what the "Support agents"
    group grants), signed in through the API like any user (``agent.auth["token"]``)."""
    from django.contrib.auth.models import Permission

    def make(name: str = "Agent"):
        agent = make_user()
        agent.first_name, agent.is_staff = name, True
        agent.save(update_fields=["first_name", "is_staff"])
        agent.user_permissions.add(Permission.objects.get(codename="change_chatsession"))
        return agent

    return make


# --- tickets and attachments (test_tickets_api.py, test_ticket_services.py, test_attachments.py) -------------


@pytest.fixture
def support_files(settings, tmp_path):
    """Attachments go to a fresh folder for the test; returns it (list it to see what was stored)."""
    root = tmp_path / "private-support"
    root.mkdir()
    settings.SUPPORT_PRIVATE_ROOT = str(root)
    return root


@pytest.fixture
def support_teams(db):
    """The five default teams of migration 0002 (a transactional test's flush removes them)."""
    import importlib

    from django.apps import apps as django_apps

    from apps.support.models import Team

    importlib.import_module("apps.support.migrations.0002_default_teams").create(django_apps, None)
    return {team.slug: team for team in Team.objects.all()}


@pytest.fixture
def make_ticket_agent(db):
    """An active staff user with an AgentProfile (display name shown to users), optionally in some teams."""
    import uuid

    from apps.accounts.models import User
    from apps.support.models import AgentProfile

    def make(display_name: str = "Sam", teams=()):
        user = User.objects.create_user(email=f"agent-{uuid.uuid4().hex[:8]}@example.com", password="pw-tests-only")
        user.is_staff = True
        user.first_name = "Samuel"
        user.save(update_fields=["is_staff", "first_name"])
        profile = AgentProfile.objects.create(user=user, display_name=display_name)
        profile.teams.set(teams)
        return user

    return make
