"""The delivery log in the back office: visible with its status, read-only, failed ones can be sent again."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from apps.notifications import deliveries
from apps.notifications.models import Delivery
from apps.notifications.services import notify
from tests.helpers import logged_in_client, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def bounced(ada, smtp):
    smtp.refuse("ada@example.com")
    notification = notify(user=ada, kind="kyc_verified", title="Identity verified")
    delivery = Delivery.objects.get(notification=notification)
    deliveries.delivery_attempt(delivery_id=delivery.pk)
    return delivery


def test_staff_see_each_delivery_with_its_status_and_error(bounced):
    viewer = staff_user("ops@example.com")
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client = logged_in_client(viewer)
    page = client.get("/admin/notifications/delivery/", {"status__exact": "bounced"})
    assert page.status_code == 200
    assert b"ada@example.com" in page.content
    detail = client.get(f"/admin/notifications/delivery/{bounced.pk}/change/")
    assert detail.status_code == 200
    assert b"550" in detail.content  # the SMTP server's answer
    # Read-only: a POST does not change the log.
    client.post(f"/admin/notifications/delivery/{bounced.pk}/change/", {"status": "sent"})
    bounced.refresh_from_db()
    assert bounced.status == "bounced"
    # Viewing is not resending.
    client.post("/admin/notifications/delivery/", {"action": "send_again", "_selected_action": [str(bounced.pk)]})
    bounced.refresh_from_db()
    assert bounced.status == "bounced"


def test_send_again_requeues_a_bounced_delivery_which_then_goes_out(bounced, smtp):
    operator = staff_user("lead@example.com")
    operator.user_permissions.add(*Permission.objects.filter(codename__in=["view_delivery", "change_delivery"]))
    smtp.state.rules.clear()  # the mailbox exists again
    response = logged_in_client(operator).post(
        "/admin/notifications/delivery/", {"action": "send_again", "_selected_action": [str(bounced.pk)]}
    )
    assert response.status_code == 302
    bounced.refresh_from_db()
    assert bounced.status == "queued"
    assert bounced.attempts == 0
    assert deliveries.delivery_attempt(delivery_id=bounced.pk).outcome == "sent"
    assert len(smtp.messages) == 1
