"""The back office shows price alerts read-only; support groups without the permission are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.prices.models import PriceAlert
from apps.prices.tests.factories import TokenFactory
from tests.helpers import logged_in_client, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(alice) -> PriceAlert:
    token = TokenFactory(symbol="PAADMIN")
    return PriceAlert.objects.create(
        user=alice, token=token, direction="above", price=Decimal("2500"), armed_at=timezone.now(), note="find me"
    )


def test_a_superuser_lists_searches_and_opens_alerts_but_cannot_add_or_edit(alert):
    boss = logged_in_client(User.objects.create_superuser(email="boss@example.com", password="pw-for-tests-only"))
    listing = boss.get(reverse("admin:prices_pricealert_changelist"), {"q": "PAADMIN"})
    assert listing.status_code == 200
    assert b"PAADMIN" in listing.content
    assert boss.get(reverse("admin:prices_pricealert_change", args=[alert.pk])).status_code == 200
    assert boss.get(reverse("admin:prices_pricealert_add")).status_code == 403
    boss.post(reverse("admin:prices_pricealert_change", args=[alert.pk]), {"price": "1", "status": "triggered"})
    alert.refresh_from_db()
    assert (alert.price, alert.status) == (Decimal("2500"), "armed")


def test_support_agents_do_not_see_price_alerts(alert):
    agent = logged_in_client(staff_user("agent@example.com", "Support agents"))
    assert agent.get(reverse("admin:prices_pricealert_changelist")).status_code == 403
