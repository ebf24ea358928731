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


def test_send_again_requeues_a_failed_delivery_which_then_goes_out(ada, smtp, settings):
    settings.NOTIFY_DELIVERY_MAX_ATTEMPTS = 1
    smtp.defer("ada@example.com", times=1)  # the mail server is down for the only attempt allowed
    failed = Delivery.objects.get(notification=notify(user=ada, kind="kyc_verified", title="Identity verified"))
    assert deliveries.delivery_attempt(delivery_id=failed.pk).outcome == "failed"
    operator = staff_user("lead@example.com")
    operator.user_permissions.add(*Permission.objects.filter(codename__in=["view_delivery", "change_delivery"]))
    response = logged_in_client(operator).post(
        "/admin/notifications/delivery/", {"action": "send_again", "_selected_action": [str(failed.pk)]}
    )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == "queued"
    assert failed.attempts == 0
    assert deliveries.delivery_attempt(delivery_id=failed.pk).outcome == "sent"
    assert len(smtp.messages) == 1


def test_a_bounced_address_is_not_mailed_again_until_confirmed(bounced, ada, smtp):
    operator = staff_user("lead@example.com")
    operator.user_permissions.add(*Permission.objects.filter(codename__in=["view_delivery", "change_delivery"]))
    smtp.state.rules.clear()
    logged_in_client(operator).post(
        "/admin/notifications/delivery/", {"action": "send_again", "_selected_action": [str(bounced.pk)]}
    )
    assert deliveries.delivery_attempt(delivery_id=bounced.pk).outcome == "failed"
    assert smtp.messages == []
