"""Concurrent evaluations of the same prices (two ingestions, an ingestion and the webhook) notify once per alert."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from apps.notifications.models import Notification
from apps.prices.alerts import price_alert_create, price_alerts_evaluate
from apps.prices.models import PriceAlert
from apps.prices.tests.factories import AssetPriceFactory

# Real row locks and concurrent transactions; SQLite serialises every writer, so there is nothing to race there.
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
pytestmark = [pytest.mark.django_db(transaction=True), postgres_only]

THREADS = 6


def test_concurrent_evaluations_of_the_same_rows_notify_once_per_alert(make_token, alice, bob):
    token = make_token("PARACE")
    AssetPriceFactory(token=token, price_usd=Decimal("2400"), observed_at=timezone.now() - timedelta(minutes=1))
    alerts = [
        price_alert_create(user=user, symbol="PARACE", direction=direction, price=Decimal(price))
        for user in (alice, bob)
        for direction, price in [("above", "2500"), ("above", "2550"), ("below", "2700"), ("above", "9999")]
    ]
    later = timezone.now() + timedelta(seconds=1)
    rows = [
        AssetPriceFactory(token=token, price_usd=Decimal("2600"), observed_at=later),
        AssetPriceFactory(token=token, price_usd=Decimal("2610"), observed_at=later, source="chainlink:local"),
    ]
    barrier = threading.Barrier(THREADS)
    fired: list[int] = []
    errors: list[BaseException] = []

    def evaluate() -> None:
        try:
            barrier.wait()
            fired.append(price_alerts_evaluate(rows=rows))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(fired) == 6  # three of each user's four alerts are crossed
    notifications = Notification.objects.filter(kind="price_alert")
    assert notifications.count() == 6
    assert len({n.data["alert_id"] for n in notifications}) == 6
    triggered = PriceAlert.objects.filter(status="triggered")
    assert {str(a.pk) for a in triggered} == {n.data["alert_id"] for n in notifications}
    assert {a.notification_id for a in triggered} == {n.id for n in notifications}
    assert PriceAlert.objects.filter(status="armed").count() == len(alerts) - 6
