"""End to end: notify() commits, the real Celery worker sends the email (Django's file backend in the worker)."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from apps.notifications.models import Delivery
from apps.notifications.services import notify

pytestmark = pytest.mark.django_db(transaction=True)  # the worker must see committed rows


def test_the_worker_sends_the_email_and_marks_the_delivery_sent(mailbox):
    from apps.accounts.models import User

    user = User.objects.create_user(email="grace@example.com", password="a-long-passphrase-1", is_email_verified=True)
    with transaction.atomic():
        notification = notify(user=user, kind="support_reply", title="New reply on TKT-123456", message="Hello!")
    [message] = mailbox(1)
    assert message["To"] == "grace@example.com"
    assert message["Subject"] == "New reply on TKT-123456"
    assert "Hello!" in message.get_body(("plain",)).get_content()
    deadline = time.monotonic() + 10
    while Delivery.objects.get(notification=notification).status != "sent" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Delivery.objects.get(notification=notification).status == "sent"
