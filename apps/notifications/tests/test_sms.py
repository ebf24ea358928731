"""SMS end to end: phone codes texted by the ``phone_code_send`` task and notifications sent by the delivery loop,
through Twilio's Messages API (a local double, tests/doubles/twilio.py) or the console provider (the log)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import httpx
import pytest
from django.core import checks
from django.utils import timezone

from apps.notifications import deliveries, preferences, services, tasks
from apps.notifications.models import Channel, Delivery, NotificationPreference
from conftest import free_port
from engipay.api.errors import InvalidInput
from tests.doubles.twilio import Answer, TwilioDouble

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"
FROM = "+15005550006"
SERVICE_SID = "MG" + "5" * 32


@pytest.fixture
def twilio(settings):
    with TwilioDouble(numbers=(FROM,), messaging_service_sids=(SERVICE_SID,)) as double:
        settings.SMS_PROVIDER = "twilio"
        settings.TWILIO_API_BASE = double.url
        settings.TWILIO_ACCOUNT_SID = double.account_sid
        settings.TWILIO_AUTH_TOKEN = double.auth_token
        settings.TWILIO_FROM = FROM
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.SMS_TIMEOUT_SECONDS = 2
        yield double


def code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def send_code(user) -> bool:
    """The task as the worker runs it (eagerly: its retries run at once)."""
    return tasks.phone_code_send.apply(kwargs={"user_id": str(user.pk)}).get()


def confirm_phone(user, twilio: TwilioDouble, phone: str = PHONE) -> None:
    preferences.notifications_subscribe(user=user, channels=["sms"], phone=phone)
    assert send_code(user) is True
    preferences.phone_verify(user=user, code=code_in(twilio.messages_to(phone)[-1].body))


@pytest.fixture
def texted(alice, twilio):
    """alice with a confirmed phone and SMS on for every topic."""
    confirm_phone(alice, twilio)
    return alice


def sms_delivery(user, *, title: str = "Identity verified", message: str = "You can now send payments.") -> Delivery:
    notification = services.notify(user=user, kind="kyc_verified", title=title, message=message)
    return Delivery.objects.get(notification=notification, channel=Channel.SMS)


def attempt(delivery: Delivery) -> Delivery:
    deliveries.delivery_attempt(delivery_id=str(delivery.pk))
    return Delivery.objects.get(pk=delivery.pk)


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_texted_code_confirms_the_phone_and_a_wrong_one_counts(alice, twilio):
    _, pending = preferences.notifications_subscribe(user=alice, channels=["sms"], phone=PHONE)
    assert pending.phone

    assert send_code(alice) is True

    [sms] = twilio.messages_to(PHONE)
    assert re.fullmatch(r"SM[0-9a-f]{32}", sms.sid)
    assert (sms.from_, sms.status) == (FROM, "queued")
    code = code_in(sms.body)
    [request] = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert request["form"] == {"To": PHONE, "Body": sms.body, "From": FROM}

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with pytest.raises(InvalidInput) as refused:
        preferences.phone_verify(user=alice, code=wrong)
    assert refused.value.code == "wrong_code"
    pref = NotificationPreference.objects.get(user=alice)
    assert (pref.phone_verified_at, pref.phone_code_attempts) == (None, 1)

    preferences.phone_verify(user=alice, code=code)

    assert NotificationPreference.objects.get(user=alice).phone_verified_at is not None


def test_the_code_task_retries_a_twilio_outage_and_the_delivered_code_works(alice, twilio):
    preferences.notifications_subscribe(user=alice, channels=["sms"], phone=PHONE)
    twilio.plan(PHONE, 500, 201)

    assert send_code(alice) is True

    assert [r["status"] for r in twilio.requests] == [500, 201]
    [sms] = twilio.messages_to(PHONE)
    preferences.phone_verify(user=alice, code=code_in(sms.body))
    assert NotificationPreference.objects.get(user=alice).phone_verified_at is not None


def test_a_second_code_request_within_a_minute_texts_nothing(alice, twilio):
    preferences.notifications_subscribe(user=alice, channels=["sms"], phone=PHONE)
    assert send_code(alice) is True

    assert send_code(alice) is False

    assert len(twilio.messages_to(PHONE)) == 1


def test_a_notification_is_texted_through_the_loop(texted, twilio):
    delivery = sms_delivery(texted)
    assert (delivery.status, delivery.target) == (Delivery.Status.QUEUED, PHONE)

    delivery = attempt(delivery)

    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 1)
    sms = twilio.messages_to(PHONE)[-1]
    assert delivery.provider_message_id == sms.sid
    assert sms.body == "Identity verified\nYou can now send payments."
    assert twilio.requests[-1]["form"]["From"] == FROM


def test_a_messaging_service_can_send_instead_of_a_number(settings, texted, twilio):
    settings.TWILIO_FROM = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = SERVICE_SID

    assert attempt(sms_delivery(texted)).status == Delivery.Status.SENT

    sms = twilio.messages_to(PHONE)[-1]
    assert (sms.messaging_service_sid, sms.from_, sms.status) == (SERVICE_SID, None, "accepted")


def test_a_long_notification_is_cut_to_three_segments(texted, twilio):
    attempt(sms_delivery(texted, title="Price alert", message="ETH moved. " * 100))

    body = twilio.messages_to(PHONE)[-1].body
    assert len(body) == 320
    assert body.startswith("Price alert\nETH moved. ")
    assert body.endswith("...")


def test_a_twilio_error_is_retried_later_then_sent(texted, twilio):
    twilio.plan(PHONE, 500, 201)
    delivery = sms_delivery(texted)
    before = timezone.now()

    delivery = attempt(delivery)

    assert (delivery.status, delivery.attempts) == (Delivery.Status.QUEUED, 1)
    assert delivery.next_attempt_at > before
    assert "Twilio answered 500, error 20500" in delivery.last_error
    make_due(delivery)
    delivery = attempt(delivery)
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 2)
    assert len(twilio.messages_to(PHONE)) == 2  # the code, then the notification once


def test_it_gives_up_after_the_last_attempt(settings, texted, twilio):
    settings.NOTIFY_DELIVERY_MAX_ATTEMPTS = 2
    twilio.plan(PHONE, 503, 500)
    delivery = attempt(sms_delivery(texted))
    make_due(delivery)

    delivery = attempt(delivery)

    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 2)
    assert delivery.last_error.startswith("Gave up after 2 attempts")


@pytest.mark.parametrize("code", [21211, 21610, 21614])
def test_a_number_twilio_will_not_text_bounces(texted, twilio, code):
    twilio.refuse(PHONE, code)

    delivery = attempt(sms_delivery(texted))

    assert (delivery.status, delivery.attempts) == (Delivery.Status.BOUNCED, 1)
    assert f"error {code}" in delivery.last_error


@pytest.mark.parametrize(
    ("answer", "wait"),
    [(Answer(429, retry_after=900), 900), (Answer(503, retry_after=120), 120)],
    ids=["429_too_many_requests", "503_unavailable"],
)
def test_twilio_s_retry_after_is_respected(settings, texted, twilio, answer, wait):
    settings.NOTIFY_RETRY_BASE_SECONDS = 1
    twilio.plan(PHONE, answer)
    delivery = sms_delivery(texted)
    before = timezone.now()

    delivery = attempt(delivery)

    after = timezone.now()
    assert delivery.status == Delivery.Status.QUEUED
    assert before + timedelta(seconds=wait) <= delivery.next_attempt_at <= after + timedelta(seconds=wait + 1)


def test_rate_limit_code_without_retry_after_is_still_transient(settings, texted, twilio):
    twilio.plan(PHONE, Answer(429, code=20429))
    delivery = attempt(sms_delivery(texted))

    assert delivery.status == Delivery.Status.QUEUED
    assert "error 20429" in delivery.last_error


def test_wrong_credentials_fail_without_retry(settings, texted, twilio):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"

    delivery = attempt(sms_delivery(texted))

    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 1)
    assert "error 20003" in delivery.last_error
    assert "TWILIO_AUTH_TOKEN" in delivery.last_error


def test_an_unreachable_twilio_is_retried(settings, texted, twilio):
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{free_port()}"

    delivery = attempt(sms_delivery(texted))

    assert (delivery.status, delivery.attempts) == (Delivery.Status.QUEUED, 1)
    assert "Twilio is unreachable" in delivery.last_error


@pytest.mark.parametrize(
    ("changes", "reason", "check_id"),
    [
        ({"SMS_PROVIDER": "carrier-pigeon"}, "'carrier-pigeon' is not an SMS provider", "notifications.W002"),
        ({"TWILIO_AUTH_TOKEN": ""}, "these are not set: TWILIO_AUTH_TOKEN", "notifications.W003"),
        (
            {"TWILIO_FROM": "", "TWILIO_MESSAGING_SERVICE_SID": ""},
            "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID",
            "notifications.W003",
        ),
    ],
    ids=["unknown_provider", "no_token", "no_sender"],
)
def test_a_misconfigured_provider_fails_clearly_and_is_checked(settings, texted, twilio, changes, reason, check_id):
    for name, value in changes.items():
        setattr(settings, name, value)

    delivery = attempt(sms_delivery(texted))

    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 1)
    assert reason in delivery.last_error
    found = [message.id for message in checks.run_checks(tags=[checks.Tags.compatibility])]
    assert check_id in found


def test_the_console_provider_logs_the_text_and_never_claims_delivery(settings, alice, caplog):
    settings.SMS_PROVIDER = "console"
    caplog.set_level(logging.INFO, logger="apps.notifications.channels.sms")
    preferences.notifications_subscribe(user=alice, channels=["sms"], phone=PHONE)

    assert send_code(alice) is True

    [record] = [r for r in caplog.records if r.name == "apps.notifications.channels.sms"]
    assert PHONE in record.getMessage()
    assert "not sent" in record.getMessage()
    preferences.phone_verify(user=alice, code=code_in(record.getMessage()))
    delivery = attempt(sms_delivery(alice, title="Console title", message="Console message"))
    assert (delivery.status, delivery.provider_message_id) == (Delivery.Status.SENT, "console")
    assert any(f"to {PHONE}: Console title\nConsole message" in r.getMessage() for r in caplog.records)
    assert not [m for m in checks.run_checks(tags=[checks.Tags.compatibility]) if m.id.startswith("notifications.W")]


def test_the_twilio_double_wants_a_form_body_and_the_account_s_own_number(twilio):
    url = f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    auth = (twilio.account_sid, twilio.auth_token)
    as_json = httpx.post(url, json={"To": PHONE, "From": FROM, "Body": "x"}, auth=auth)
    foreign_sender = httpx.post(url, data={"To": PHONE, "From": "+15550000000", "Body": "x"}, auth=auth)
    not_e164 = httpx.post(url, data={"To": "4155550123", "From": FROM, "Body": "x"}, auth=auth)
    other_account = httpx.post(url.replace(twilio.account_sid, "AC" + "0" * 32), data={"To": PHONE}, auth=auth)

    assert (as_json.status_code, as_json.json()["code"]) == (400, 21604)
    assert (foreign_sender.status_code, foreign_sender.json()["code"]) == (400, 21606)
    assert (not_e164.status_code, not_e164.json()["code"]) == (400, 21211)
    assert (other_account.status_code, other_account.json()["code"]) == (401, 20003)
    assert set(not_e164.json()) == {"code", "message", "more_info", "status"}
    assert twilio.messages == []
