from __future__ import annotations

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from apps.accounts.models import User
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db(transaction=True)  # mail goes out on commit
PASSWORD = "correct horse battery staple 9"


def signup(client: APIClient, email: str, password: str = PASSWORD):
    return client.post("/api/auth/signup", {"email": email, "password": password}, format="json")


def login(client: APIClient, email: str, password: str = PASSWORD):
    return client.post("/api/auth/login", {"email": email, "password": password}, format="json")


def link_token(message: mail.EmailMessage, path: str) -> str:
    match = re.search(rf"{path}\?token=(\S+)", message.body)
    assert match, message.body
    return match.group(1)


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


def test_signup_sends_a_verification_link_that_verifies_the_email(api_client):
    signup(api_client, "dave@example.com")
    assert len(mail.outbox) == 1
    token = link_token(mail.outbox[0], "verify-email")
    response = api_client.post("/api/auth/verify-email", {"token": token}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["user"]["is_email_verified"] is True
    user = User.objects.get(email="dave@example.com")
    assert user.pending_email is None


def test_signup_does_not_reveal_that_an_email_is_taken(api_client):
    first = signup(api_client, "erin@example.com")
    mail.outbox.clear()
    second = signup(api_client, "ERIN@example.com", password="another long passphrase 7")
    assert second.status_code == first.status_code == 201
    assert set(second.json()) == set(first.json())
    assert set(second.json()["user"]) == set(first.json()["user"])
    assert second.json()["user"]["email"] == "erin@example.com"
    # The original account is untouched and still answers to its own password.
    assert login(api_client, "erin@example.com").json()["user"]["id"] == first.json()["user"]["id"]
    # No verification link for a claim on an address that is already verified elsewhere... (it is pending
    # here because the first account never verified: both get a link; once one verifies, the other cannot).
    assert len(mail.outbox) == 1


def test_signup_on_a_verified_email_tells_only_the_mailbox_owner(api_client):
    signup(api_client, "faye@example.com")
    api_client.post("/api/auth/verify-email", {"token": link_token(mail.outbox[0], "verify-email")}, format="json")
    mail.outbox.clear()
    response = signup(api_client, "faye@example.com", password="an attacker passphrase 1")
    assert response.status_code == 201
    assert len(mail.outbox) == 1
    assert "already has one" in mail.outbox[0].body
    assert "token=" not in mail.outbox[0].body
    assert User.objects.get(email="faye@example.com").check_password(PASSWORD)


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


def test_login_is_throttled_per_account(api_client, throttle_rates):
    throttle_rates(login_account="3/min", auth_ip="100/min")
    statuses = [login(api_client, "hal@example.com", f"guess {i} attempt").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert_error_shape(login(api_client, "HAL@example.com", "x"), 429, "throttled")
    # Another account from the same client is not blocked by hal's counter.
    assert login(api_client, "ivy@example.com").status_code == 401


def test_login_is_throttled_per_ip(api_client, throttle_rates):
    throttle_rates(auth_ip="4/min")
    statuses = [login(api_client, f"user{i}@example.com").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    response = login(api_client, "other@example.com")
    assert_error_shape(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_password_reset_flow_leaks_nothing_and_revokes_old_tokens(api_client):
    old = signup(api_client, "jan@example.com").json()
    mail.outbox.clear()
    known = api_client.post("/api/auth/forgot-password", {"email": "jan@example.com"}, format="json")
    unknown = api_client.post("/api/auth/forgot-password", {"email": "who@example.com"}, format="json")
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert "token" not in known.content.decode().lower().replace("reset link", "")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["jan@example.com"]
    token = link_token(mail.outbox[0], "reset-password")

    new_password = "a brand new passphrase 42"
    done = api_client.post("/api/auth/reset-password", {"token": token, "password": new_password}, format="json")
    assert done.status_code == 200, done.content
    assert login(api_client, "jan@example.com").status_code == 401
    assert login(api_client, "jan@example.com", new_password).status_code == 200
    # The link proved the mailbox.
    assert User.objects.get(email="jan@example.com").is_email_verified
    # Tokens from before the reset are dead, and the link works only once.
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION=f"Bearer {old['token']}")
    assert_error_shape(stale.get("/api/auth/me"), 401)
    assert_error_shape(api_client.post("/api/auth/refresh", {"refresh": old["refresh"]}, format="json"), 401)
    again = api_client.post(
        "/api/auth/reset-password", {"token": token, "password": "yet another phrase 5"}, format="json"
    )
    assert_error_shape(again, 400, "invalid_reset_token")


@pytest.mark.parametrize("token", ["", "garbage", "Zm9v.bar-baz", "MQ.abc-def"])
def test_reset_password_rejects_bad_tokens(api_client, token):
    response = api_client.post("/api/auth/reset-password", {"token": token, "password": PASSWORD}, format="json")
    assert_error_shape(response, 400)


def test_reset_password_applies_the_password_rules(api_client):
    signup(api_client, "kim@example.com")
    mail.outbox.clear()
    api_client.post("/api/auth/forgot-password", {"email": "kim@example.com"}, format="json")
    token = link_token(mail.outbox[0], "reset-password")
    response = api_client.post("/api/auth/reset-password", {"token": token, "password": "123"}, format="json")
    assert_error_shape(response, 400, "weak_password")
