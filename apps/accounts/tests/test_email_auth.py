"""Email sign-up, login and password reset through the API; mail is sent by the real worker (file backend)."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db(transaction=True)  # the worker must see committed rows
PASSWORD = "correct horse battery staple 9"


def signup(client: APIClient, email: str, password: str = PASSWORD):
    return client.post("/api/auth/signup", {"email": email, "password": password}, format="json")


def login(client: APIClient, email: str, password: str = PASSWORD):
    return client.post("/api/auth/login", {"email": email, "password": password}, format="json")


def forgot(client: APIClient, email: str):
    return client.post("/api/auth/forgot-password", {"email": email}, format="json")


def link_token(message, path: str) -> str:
    match = re.search(rf"{path}\?token=(\S+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


def verify(client: APIClient, message) -> None:
    response = client.post("/api/auth/verify-email", {"token": link_token(message, "verify-email")}, format="json")
    assert response.status_code == 200, response.content


def test_signup_then_login_then_me(api_client):
    response = signup(api_client, "Carol@Example.com")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["message"] == "User created successfully"
    assert data["user"]["email"] == "carol@example.com"
    assert data["user"]["is_email_verified"] is False
    assert data["user"]["referral_code"].startswith("ENGI")
    assert data["token"]
    assert data["refresh"]

    logged_in = login(api_client, "carol@example.com")
    assert logged_in.status_code == 200
    assert logged_in.json()["user"]["id"] == data["user"]["id"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {logged_in.json()['token']}")
    assert client.get("/api/auth/me").json()["user"]["email"] == "carol@example.com"


def test_signup_sends_a_verification_link_that_verifies_the_email(api_client, mailbox):
    signup(api_client, "dave@example.com")
    [message] = mailbox(1)
    assert message["To"] == "dave@example.com"
    assert message["Subject"] == "Confirm your EngiPay email"
    verify(api_client, message)
    user = User.objects.get(email="dave@example.com")
    assert user.is_email_verified
    assert user.pending_email is None


def test_signup_on_a_verified_email_answers_the_same_and_tells_only_the_mailbox(api_client, mailbox):
    fresh = signup(api_client, "faye@example.com")
    verify(api_client, mailbox(1)[0])
    taken = signup(api_client, "FAYE@example.com", password="an attacker passphrase 1")
    assert taken.status_code == fresh.status_code == 201
    assert taken.json()["message"] == fresh.json()["message"]
    assert set(taken.json()["user"]) == set(fresh.json()["user"])
    assert taken.json()["user"]["email"] == "faye@example.com"
    assert taken.json()["user"]["is_email_verified"] is False
    warning = mailbox(2)[1]
    assert warning["Subject"] == "Someone tried to sign up with your email"
    assert "token=" not in warning.get_content()
    # The owner's account is untouched and still answers to its own password.
    assert login(api_client, "faye@example.com").json()["user"]["id"] == fresh.json()["user"]["id"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"email": "x@example.com", "password": "short"}, "weak_password"),
        ({"email": "x@example.com", "password": "12345678901234"}, "weak_password"),
        ({"email": "not-an-email", "password": PASSWORD}, "invalid_input"),
        ({"email": "x@example.com"}, "invalid_input"),
        ({}, "invalid_input"),
    ],
)
def test_signup_rejects_bad_input(api_client, data, code):
    response = api_client.post("/api/auth/signup", data, format="json")
    assert_error_shape(response, 400, code)
    assert not User.objects.exists()


def test_login_answers_the_same_for_unknown_email_and_wrong_password(api_client):
    signup(api_client, "gus@example.com")
    wrong = login(api_client, "gus@example.com", "wrong password here 1")
    unknown = login(api_client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert_error_shape(wrong, 401, "invalid_credentials")


def test_failed_logins_are_throttled_per_account_and_successes_do_not_count(api_client, throttle_rates):
    throttle_rates(login_account="3/min", auth_ip="100/min")
    signup(api_client, "hal@example.com")
    assert [login(api_client, "hal@example.com").status_code for _ in range(4)] == [200] * 4
    statuses = [login(api_client, "hal@example.com", f"guess {i} attempt").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert_error_shape(login(api_client, "HAL@example.com"), 429, "throttled")
    # Another account from the same client is not blocked by hal's counter.
    assert login(api_client, "ivy@example.com").status_code == 401


def test_login_is_throttled_per_ip(api_client, throttle_rates):
    throttle_rates(auth_ip="4/min")
    statuses = [login(api_client, f"user{i}@example.com").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    response = login(api_client, "other@example.com")
    assert_error_shape(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_password_reset_leaks_nothing_and_revokes_old_tokens(api_client, mailbox):
    old = signup(api_client, "jan@example.com").json()
    verify(api_client, mailbox(1)[0])
    unknown = forgot(api_client, "who@example.com")
    known = forgot(api_client, "jan@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert "token" not in known.json()["message"]
    messages = mailbox(2)
    assert len(messages) == 2  # the unknown address's task ran first (one queue) and sent nothing
    assert messages[1]["To"] == "jan@example.com"
    token = link_token(messages[1], "reset-password")

    new_password = "a brand new passphrase 42"
    done = api_client.post("/api/auth/reset-password", {"token": token, "password": new_password}, format="json")
    assert done.status_code == 200, done.content
    assert login(api_client, "jan@example.com").status_code == 401
    assert login(api_client, "jan@example.com", new_password).status_code == 200
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION=f"Bearer {old['token']}")
    assert_error_shape(stale.get("/api/auth/me"), 401)
    assert_error_shape(api_client.post("/api/auth/refresh", {"refresh": old["refresh"]}, format="json"), 401)
    again = api_client.post(
        "/api/auth/reset-password", {"token": token, "password": "yet another phrase 5"}, format="json"
    )
    assert_error_shape(again, 400, "invalid_reset_token")


def test_an_unproven_claim_gets_no_reset_link(api_client, mailbox):
    """A stranger who signs up with someone's address cannot have that person reset a password into his
    account (the takeover the reviewer found): reset links go only to proven addresses."""
    signup(api_client, "kim@example.com")
    forgot(api_client, "kim@example.com")
    signup(api_client, "sentinel@example.com")
    messages = mailbox(2)
    assert [m["Subject"] for m in messages] == ["Confirm your EngiPay email"] * 2
    assert all("reset-password" not in m.get_content() for m in messages)


@pytest.mark.parametrize("token", ["", "garbage", "Zm9v.bar-baz", "MQ.abc-def"])
def test_reset_password_rejects_bad_tokens(api_client, token):
    response = api_client.post("/api/auth/reset-password", {"token": token, "password": PASSWORD}, format="json")
    assert_error_shape(response, 400)


def test_reset_password_applies_the_password_rules(api_client, mailbox):
    signup(api_client, "lee@example.com")
    verify(api_client, mailbox(1)[0])
    forgot(api_client, "lee@example.com")
    token = link_token(mailbox(2)[1], "reset-password")
    response = api_client.post("/api/auth/reset-password", {"token": token, "password": "123"}, format="json")
    assert_error_shape(response, 400, "weak_password")


def test_mail_requests_are_throttled_per_address(api_client, throttle_rates):
    throttle_rates(email_address="2/hour", auth_ip="100/min", password_reset="100/min")
    assert forgot(api_client, "mo@example.com").status_code == 200
    assert signup(api_client, "mo@example.com").status_code == 201
    assert_error_shape(forgot(api_client, "MO@example.com"), 429, "throttled")
    assert forgot(api_client, "other@example.com").status_code == 200


@pytest.mark.parametrize("token", ["", "nonsense", "eyJ1IjoiMSJ9:abc:def"])
def test_verify_email_rejects_bad_tokens(api_client, token):
    response = api_client.post("/api/auth/verify-email", {"token": token}, format="json")
    assert_error_shape(response, 400)
