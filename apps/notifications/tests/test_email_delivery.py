"""Email deliveries through Django's SMTP backend to a real (local) SMTP server: send, retry, bounce, quiet hours,
preferences, and the unsubscribe link of the email itself."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.utils import timezone
from rest_framework.test import APIClient

from apps.notifications import deliveries, preferences
from apps.notifications.models import Delivery, NotificationPreference
from apps.notifications.services import notify
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db


def _header_link(message) -> str:
    return "".join(str(message["List-Unsubscribe"]).split()).strip("<>")  # unfolded


def _only_delivery(notification) -> Delivery:
    rows = list(Delivery.objects.filter(notification=notification))
    assert len(rows) == 1, rows
    return rows[0]


def _notify_tx(user, kind="transaction_confirmed"):
    return notify(
        user=user,
        kind=kind,
        title="Transaction Confirmed",
        message="Your ETH transfer has been confirmed",
        data={"tx_hash": "0x" + "ab" * 32, "amount": "0.5", "asset": "ETH"},
    )


def test_an_email_goes_out_with_text_html_and_one_click_unsubscribe(ada, smtp, settings):
    settings.PUBLIC_BASE_URL = "https://api.engipay.test"
    notification = _notify_tx(ada)
    delivery = _only_delivery(notification)
    assert (delivery.channel, delivery.target, delivery.status) == ("email", "ada@example.com", "queued")

    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"

    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert delivery.attempts == 1
    assert delivery.sent_at is not None
    [message] = smtp.messages
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Transaction Confirmed"
    assert message["X-EngiPay-Delivery"] == str(delivery.pk)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = _header_link(message)
    assert link.startswith("https://api.engipay.test/api/notifications/unsubscribe?token=")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Your ETH transfer has been confirmed" in text
    assert "0.5" in text
    assert "Your ETH transfer has been confirmed" in html
    assert link in text  # the link in the body is the one in the header
    # A second run of the same task (a duplicate message from the broker) sends nothing more.
    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "skipped"
    assert len(smtp.messages) == 1


def test_a_deferral_is_retried_with_backoff_then_sent(ada, smtp, settings):
    settings.NOTIFY_RETRY_BASE_SECONDS = 30
    smtp.defer("ada@example.com", times=1)
    delivery = _only_delivery(_notify_tx(ada))

    attempt = deliveries.delivery_attempt(delivery_id=delivery.pk)
    assert attempt.outcome == "retry"
    assert 24 <= attempt.retry_in <= 36
    delivery.refresh_from_db()
    assert delivery.status == "queued"
    assert delivery.attempts == 1
    assert "451" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)
    # Run early (a duplicate task): not due yet, nothing happens.
    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "skipped"
    assert smtp.messages == []

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert delivery.attempts == 2
    assert len(smtp.messages) == 1


def test_a_refused_mailbox_is_a_bounce_and_is_not_retried(ada, smtp):
    smtp.refuse("ada@example.com")
    delivery = _only_delivery(_notify_tx(ada))
    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "bounced"
    # The address is no longer used until it is confirmed again.
    assert NotificationPreference.objects.get(user=ada).email_verified_at is None
    assert not Delivery.objects.filter(notification=_notify_tx(ada)).exclude(pk=delivery.pk).exists()
    delivery.refresh_from_db()
    assert delivery.status == "bounced"
    assert "550" in delivery.last_error
    assert delivery.attempts == 1


def test_an_unreachable_server_is_retried_until_the_attempts_run_out(ada, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    settings.NOTIFY_DELIVERY_MAX_ATTEMPTS = 3
    delivery = _only_delivery(_notify_tx(ada))
    outcomes = []
    for _ in range(3):
        outcomes.append(deliveries.delivery_attempt(delivery_id=delivery.pk).outcome)
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert outcomes == ["retry", "retry", "failed"]
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts == 3
    assert delivery.last_error.startswith("Gave up after 3 attempts: SMTP unavailable")


def test_the_sweep_requeues_a_delivery_whose_task_was_lost_but_not_a_fresh_one(ada):
    delivery = _only_delivery(_notify_tx(ada))
    assert delivery.enqueued_at is not None
    assert deliveries.deliveries_sweep() == 0  # just queued: its task is on its way
    lost_at = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=delivery.pk).update(enqueued_at=lost_at)
    assert deliveries.deliveries_sweep() == 1
    delivery.refresh_from_db()
    assert delivery.enqueued_at > lost_at
    assert deliveries.deliveries_sweep() == 0  # once per grace period, not on every tick


def _quiet(user, start: str, end: str, zone: str) -> NotificationPreference:
    preferences.preferences_update(user=user, data={"quiet_hours": {"start": start, "end": end, "timezone": zone}})
    return NotificationPreference.objects.get(user=user)


def test_quiet_hours_hold_email_until_they_end_then_the_sweep_sends_it(ada, smtp, settings):
    zone = "Asia/Tokyo"
    now_local = timezone.now().astimezone(__import__("zoneinfo").ZoneInfo(zone))
    start = (now_local - timedelta(hours=1)).strftime("%H:%M")
    end = (now_local + timedelta(hours=2)).strftime("%H:%M")
    _quiet(ada, start, end, zone)

    notification = _notify_tx(ada)
    delivery = _only_delivery(notification)
    assert delivery.enqueued_at is None  # not queued now
    expected_end = (now_local + timedelta(hours=2)).replace(second=0, microsecond=0)
    assert abs((delivery.scheduled_for - expected_end).total_seconds()) < 61
    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "skipped"
    assert smtp.messages == []
    assert deliveries.deliveries_sweep() == 0  # not due yet

    later = delivery.scheduled_for + timedelta(seconds=1)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert deliveries.deliveries_sweep(now=later) == 1
    delivery.refresh_from_db()
    assert delivery.enqueued_at is not None
    # Still inside the quiet hours by the real clock: the attempt defers again instead of sending.
    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "deferred"
    assert smtp.messages == []
    preferences.preferences_update(user=ada, data={"quiet_hours": None})  # the hours are over
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "sent"
    assert len(smtp.messages) == 1


@pytest.mark.parametrize(
    ("start", "end", "at", "until"),
    [
        ("22:00", "07:00", "23:30", "2026-11-28T07:00"),  # over midnight, before it
        ("22:00", "07:00", "03:00", "2026-11-27T07:00"),  # over midnight, after it
        ("22:00", "07:00", "12:00", None),
        ("09:00", "17:00", "09:00", "2026-11-27T17:00"),
        ("09:00", "17:00", "17:00", None),  # the end is not quiet
        ("08:00", "08:00", "08:00", None),  # start == end: no quiet hours
    ],
)
def test_quiet_hours_arithmetic_in_the_users_time_zone(start, end, at, until):
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("America/New_York")
    pref = NotificationPreference(
        quiet_hours_start=time.fromisoformat(start), quiet_hours_end=time.fromisoformat(end), timezone=zone.key
    )
    now = datetime.fromisoformat(f"2026-11-27T{at}").replace(tzinfo=zone).astimezone(UTC)
    got = preferences.quiet_until(pref, now)
    assert (got.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if got else None) == until


def test_preferences_decide_which_notifications_are_emailed(ada, smtp):
    preferences.preferences_update(user=ada, data={"types": {"transaction_confirmed": ["in_app"]}})
    assert not Delivery.objects.filter(notification=_notify_tx(ada)).exists()
    assert Delivery.objects.filter(notification=_notify_tx(ada, kind="transaction_failed")).count() == 1
    # A kind of a family follows the family's setting.
    preferences.preferences_update(user=ada, data={"types": {"kyc": []}})
    assert not Delivery.objects.filter(notification=notify(user=ada, kind="kyc_rejected", title="x")).exists()
    # The master switch wins over every type.
    preferences.preferences_update(user=ada, data={"channels": ["in_app"]})
    assert not Delivery.objects.filter(notification=_notify_tx(ada, kind="transaction_failed")).exists()


def test_a_delivery_stops_if_the_user_unsubscribes_before_it_is_sent(ada, smtp):
    delivery = _only_delivery(_notify_tx(ada))
    preferences.unsubscribe_apply(token=preferences.unsubscribe_token(user_id=ada.pk, topic=None))
    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "failed"
    delivery.refresh_from_db()
    assert "switched this channel off" in delivery.last_error
    assert smtp.messages == []


def _link_token(message) -> str:
    link = _header_link(message)
    return parse_qs(urlsplit(link).query)["token"][0]


def test_the_unsubscribe_link_works_without_login_and_only_for_its_type(ada, smtp):
    delivery = _only_delivery(_notify_tx(ada))
    deliveries.delivery_attempt(delivery_id=delivery.pk)
    token = _link_token(smtp.messages[0])
    anonymous = APIClient()

    page = anonymous.get("/api/notifications/unsubscribe", {"token": token}, HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"Unsubscribe" in page.content
    assert b'<form method="post"' in page.content
    assert Delivery.objects.filter(notification=_notify_tx(ada)).exists()  # GET (a mail scanner) changes nothing

    # A mail client's RFC 8058 one-click POST.
    done = anonymous.post(
        f"/api/notifications/unsubscribe?token={token}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200
    assert done.json() == {"unsubscribed": True, "scope": "transaction_confirmed", "label": "Transaction confirmed"}
    assert not Delivery.objects.filter(notification=_notify_tx(ada)).exists()
    assert Delivery.objects.filter(notification=_notify_tx(ada, kind="transaction_failed")).exists()
    again = anonymous.post(f"/api/notifications/unsubscribe?token={token}", HTTP_ACCEPT="text/html")
    assert again.status_code == 200
    assert b"You are unsubscribed" in again.content


def test_an_unsubscribe_token_cannot_be_forged(ada, make_user, settings):
    victim = make_user()
    real = preferences.unsubscribe_token(user_id=ada.pk, topic="kyc_*")
    forged = [
        "",
        "garbage",
        real[:-2] + ("AA" if not real.endswith("AA") else "BB"),  # a changed signature
        signing.dumps({"u": str(victim.pk), "t": "*"}, key="not-the-server-secret", salt=preferences.UNSUBSCRIBE_SALT),
        signing.dumps({"u": str(victim.pk), "t": "*"}, salt="another.purpose"),  # signed for something else
        signing.dumps({"u": str(victim.pk), "t": "no_such_type"}, salt=preferences.UNSUBSCRIBE_SALT),
    ]
    client = APIClient()
    for token in forged:
        response = client.post(f"/api/notifications/unsubscribe?token={token}")
        assert_error_shape(response, 400, "invalid_token")
        page = client.get("/api/notifications/unsubscribe", {"token": token}, HTTP_ACCEPT="text/html")
        assert page.status_code == 400
        assert b"This link does not work" in page.content
    assert not NotificationPreference.objects.filter(user=victim).exists()
    assert client.post(f"/api/notifications/unsubscribe?token={real}").status_code == 200
    assert NotificationPreference.objects.get(user=ada).types["kyc_*"] == ["in_app"]


def test_quiet_hours_set_after_planning_or_reached_by_a_retry_still_hold_the_email(ada, smtp):
    from zoneinfo import ZoneInfo

    smtp.defer("ada@example.com", times=1)
    delivery = _only_delivery(_notify_tx(ada))  # planned outside quiet hours
    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "retry"
    zone = ZoneInfo("Asia/Tokyo")
    now_local = timezone.now().astimezone(zone)
    _quiet(
        ada,
        (now_local - timedelta(hours=1)).strftime("%H:%M"),
        (now_local + timedelta(hours=1)).strftime("%H:%M"),
        zone.key,
    )
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # the retry is due now

    assert deliveries.delivery_attempt(delivery_id=delivery.pk).outcome == "deferred"
    delivery.refresh_from_db()
    assert delivery.status == "queued"
    assert delivery.attempts == 1  # deferring is not an attempt
    assert delivery.enqueued_at is None
    assert delivery.next_attempt_at > timezone.now() + timedelta(minutes=50)
    assert smtp.messages == []
    assert deliveries.deliveries_sweep() == 0
    assert deliveries.deliveries_sweep(now=delivery.next_attempt_at + timedelta(seconds=1)) == 1
