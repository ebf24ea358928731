from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from apps.accounts.models import User, Wallet
from apps.notifications.models import Notification


@pytest.mark.django_db(transaction=True)
def test_demo_data_prints_working_admin_credentials_and_signs_the_demo_wallets_in(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("demo_data", stdout=out)
    call_command("demo_data", stdout=StringIO())  # again: nothing doubles
    email, password = re.search(r"Demo admin: (\S+) / (\S+)", out.getvalue()).groups()
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": password})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    wallets = Wallet.objects.order_by("address")
    assert sorted(w.address for w in wallets) == sorted(
        ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"]
    )
    assert User.objects.filter(wallets__isnull=False).distinct().count() == 2
    assert Notification.objects.filter(kind="welcome").count() == 2


@pytest.mark.django_db
def test_demo_help_editor_signs_in_and_sees_only_the_help_center(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("demo_data", wallets=0, stdout=out)
    password = re.search(r"Demo admin: \S+ / (\S+)", out.getvalue()).group(1)
    editor = re.search(r"Demo help editors: (\S+) ", out.getvalue()).group(1)
    client = Client()
    assert client.post("/admin/login/?next=/admin/", {"username": editor, "password": password}).status_code == 302
    assert {app["app_label"] for app in client.get("/admin/").context["app_list"]} == {"helpcenter"}
    assert client.get("/admin/accounts/user/").status_code == 403


@pytest.mark.django_db
def test_demo_support_agent_signs_in_and_sees_only_support_with_a_profile_and_macros(settings, tmp_path):
    from apps.support.models import AgentProfile, Macro

    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("demo_data", wallets=0, stdout=out)
    call_command("support_load_demo", stdout=StringIO())
    call_command("support_load_demo", stdout=StringIO())  # again: nothing doubles
    password = re.search(r"Demo admin: \S+ / (\S+)", out.getvalue()).group(1)
    agent = re.search(r"Demo support agents: (\S+) ", out.getvalue()).group(1)
    assert agent == "agent@engipay.local"
    profile = AgentProfile.objects.get(user__email=agent)
    assert profile.display_name
    assert profile.teams.exists()
    assert Macro.objects.count() >= 3
    assert Macro.objects.filter(body__contains="{name}").exists()

    client = Client()
    assert client.post("/admin/login/?next=/admin/", {"username": agent, "password": password}).status_code == 302
    assert {app["app_label"] for app in client.get("/admin/").context["app_list"]} == {"support"}
    assert client.get("/admin/support/ticket/").status_code == 200
    assert client.get("/admin/support/console/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 403
