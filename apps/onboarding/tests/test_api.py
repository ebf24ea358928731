"""The onboarding API: the guide's shapes, step by step progress, idempotency, recommendations, bad input."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from apps.accounts.services.tokens import tokens_issue
from apps.onboarding import services
from apps.onboarding.models import STEPS, OnboardingProgress, OnboardingStepEvent
from apps.transactions.models import ChainTransaction
from tests.helpers import assert_error_shape

from .factories import ChainTransactionFactory, UserFactory

pytestmark = pytest.mark.django_db

COMPLETE = "/api/users/onboarding/complete"
STATUS = "/api/users/onboarding/status"
PROGRESS = "/api/users/onboarding/progress"
ALLOWED = "Allowed: welcome, connect-wallet, security, features, defi."
ALL_STEPS = {"steps_completed": list(STEPS), "completion_time": 300, "skipped_steps": [], "user_feedback": "helpful"}


@pytest.fixture
def walletless():
    """A signed-in email user who has linked no wallet."""
    user = UserFactory()
    user.auth = tokens_issue(user=user)
    return user


def complete(client: APIClient, **body):
    return client.post(COMPLETE, {**ALL_STEPS, **body}, format="json")


def progress(client: APIClient, step: str, action: str | None = None):
    body = {"step": step} if action is None else {"step": step, "action": action}
    return client.post(PROGRESS, body, format="json")


def test_complete_every_step_gives_the_guides_shape_and_100(api_client_for, alice):
    client = api_client_for(alice)
    response = complete(client)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"onboarding_id", "completed_at", "completion_rate", "next_recommended_action"}
    assert body["onboarding_id"].startswith("onb_")
    assert body["completion_rate"] == 100
    datetime.fromisoformat(body["completed_at"])
    row = OnboardingProgress.objects.get(user=alice)
    assert row.onboarding_id == body["onboarding_id"]
    assert row.steps_completed == list(STEPS)
    assert row.completion_time == 300
    assert row.user_feedback == "helpful"
    # Nothing was saved before: the flow started when the app says, 300 s before completing.
    assert row.completed_at - row.started_at == timedelta(seconds=300)

    status = client.get(STATUS).json()
    assert {k: status[k] for k in ["is_completed", "steps_completed", "current_step", "completion_percentage"]} == {
        "is_completed": True,
        "steps_completed": list(STEPS),
        "current_step": None,
        "completion_percentage": 100,
    }
    assert datetime.fromisoformat(status["started_at"]) == row.started_at


def test_status_of_a_user_who_never_started(api_client_for, alice):
    response = api_client_for(alice).get(STATUS)
    assert response.status_code == 200
    body = response.json()
    guide = {
        k: body[k] for k in ["is_completed", "steps_completed", "current_step", "completion_percentage", "started_at"]
    }
    assert guide == {
        "is_completed": False,
        "steps_completed": [],
        "current_step": "welcome",
        "completion_percentage": 0,
        "started_at": None,
    }
    assert body["skipped_steps"] == []
    assert not OnboardingProgress.objects.exists()  # reading creates nothing


def test_progress_step_by_step_moves_the_current_step(api_client_for, alice):
    client = api_client_for(alice)
    for done, step in enumerate(STEPS, start=1):
        response = progress(client, step)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["steps_completed"] == list(STEPS[:done])
        assert body["completion_percentage"] == done * 20
        assert body["current_step"] == (STEPS[done] if done < len(STEPS) else None)
        assert body["is_completed"] is (done == len(STEPS))
        assert body == client.get(STATUS).json()
    row = OnboardingProgress.objects.get(user=alice)
    assert row.completed_at is not None
    assert row.completion_time is None  # only /complete reports it
    assert list(row.events.values_list("step", "action")) == [(step, "completed") for step in STEPS]


def test_started_at_is_the_first_step_and_complete_keeps_it(api_client_for, alice):
    client = api_client_for(alice)
    started = progress(client, "welcome").json()["started_at"]
    assert started is not None
    complete(client)
    assert client.get(STATUS).json()["started_at"] == started


def test_skipped_steps_do_not_count_and_the_current_step_passes_them(api_client_for, alice):
    client = api_client_for(alice)
    progress(client, "welcome")
    body = progress(client, "connect-wallet", "skipped").json()
    assert body["steps_completed"] == ["welcome"]
    assert body["skipped_steps"] == ["connect-wallet"]
    assert body["current_step"] == "security"
    assert body["completion_percentage"] == 20

    response = complete(client, steps_completed=["welcome", "security"], skipped_steps=["features", "defi"])
    assert response.json()["completion_rate"] == 40
    status = client.get(STATUS).json()
    assert status["skipped_steps"] == ["connect-wallet", "features", "defi"]
    assert status["current_step"] is None
    assert status["is_completed"] is True


def test_completing_a_skipped_step_moves_it_and_skipping_a_completed_one_changes_nothing(api_client_for, alice):
    client = api_client_for(alice)
    progress(client, "security", "skipped")
    body = progress(client, "security").json()
    assert (body["steps_completed"], body["skipped_steps"]) == (["security"], [])
    body = progress(client, "security", "skipped").json()
    assert (body["steps_completed"], body["skipped_steps"]) == (["security"], [])
    actions = OnboardingStepEvent.objects.filter(progress__user=alice).values_list("action", flat=True)
    assert list(actions) == ["skipped", "completed"]


def test_saving_the_same_step_twice_is_idempotent(api_client_for, alice):
    client = api_client_for(alice)
    first = progress(client, "welcome").json()
    second = progress(client, "welcome").json()
    assert first == second
    assert OnboardingProgress.objects.count() == 1
    assert OnboardingStepEvent.objects.count() == 1


def test_completing_twice_updates_the_same_row(api_client_for, alice):
    client = api_client_for(alice)
    first = complete(client, steps_completed=["welcome"], user_feedback="confusing").json()
    again = {"steps_completed": ["welcome", "security"], "completion_time": 420}  # no feedback this time
    second = client.post(COMPLETE, again, format="json").json()
    assert second["onboarding_id"] == first["onboarding_id"]
    assert second["completed_at"] == first["completed_at"]
    assert (first["completion_rate"], second["completion_rate"]) == (20, 40)
    row = OnboardingProgress.objects.get()
    assert row.steps_completed == ["welcome", "security"]
    assert row.completion_time == 420
    assert row.user_feedback == "confusing"  # omitted the second time: kept
    assert OnboardingStepEvent.objects.count() == 2


def test_duplicate_step_names_count_once(api_client_for, alice):
    response = complete(api_client_for(alice), steps_completed=["welcome", "welcome", "defi"])
    assert response.json()["completion_rate"] == 40
    assert OnboardingProgress.objects.get().steps_completed == ["welcome", "defi"]


def test_a_step_both_completed_and_skipped_is_refused(api_client_for, alice):
    response = complete(api_client_for(alice), skipped_steps=["security"])
    error = assert_error_shape(response, 400, "invalid_input")
    assert "security" in error["message"]
    assert "skipped_steps" in error["details"]
    assert not OnboardingProgress.objects.exists()


def test_an_unknown_step_is_refused_with_the_allowed_ones(api_client_for, alice):
    response = complete(api_client_for(alice), steps_completed=["welcome", "foo"])
    error = assert_error_shape(response, 400, "invalid_input")
    assert error["details"] == {"steps_completed": [f"Unknown step 'foo'. {ALLOWED}"]}
    assert ALLOWED in error["message"]
    assert not OnboardingProgress.objects.exists()


def test_an_unknown_skipped_step_is_refused(api_client_for, alice):
    response = complete(api_client_for(alice), skipped_steps=["tour"])
    error = assert_error_shape(response, 400, "invalid_input")
    assert error["details"] == {"skipped_steps": [f"Unknown step 'tour'. {ALLOWED}"]}


def test_progress_refuses_an_unknown_step_with_the_allowed_ones(api_client_for, alice):
    response = progress(api_client_for(alice), "kyc")
    error = assert_error_shape(response, 400, "invalid_input")
    assert error["details"] == {"step": [f"Unknown step 'kyc'. {ALLOWED}"]}
    assert not OnboardingProgress.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"completion_time": -1}, "completion_time"),
        ({"completion_time": "300"}, "completion_time"),
        ({"completion_time": "abc"}, "completion_time"),
        ({"completion_time": 12.5}, "completion_time"),
        ({"completion_time": True}, "completion_time"),
        ({"completion_time": 2**31}, "completion_time"),
        ({"steps_completed": "welcome"}, "steps_completed"),
        ({"steps_completed": {"welcome": True}}, "steps_completed"),
        ({"steps_completed": None}, "steps_completed"),
        ({"steps_completed": [5]}, "steps_completed"),
        ({"skipped_steps": "defi"}, "skipped_steps"),
        ({"user_feedback": "x" * 501}, "user_feedback"),
        ({"user_feedback": ["helpful"]}, "user_feedback"),
    ],
)
def test_complete_rejects_wrong_types(api_client_for, alice, body, field):
    response = complete(api_client_for(alice), **body)
    error = assert_error_shape(response, 400, "invalid_input")
    assert field in error["details"]
    assert not OnboardingProgress.objects.exists()


def test_complete_needs_the_steps_but_not_the_rest(api_client_for, alice):
    client = api_client_for(alice)
    missing = client.post(COMPLETE, {}, format="json")
    assert "steps_completed" in assert_error_shape(missing, 400, "invalid_input")["details"]
    response = client.post(COMPLETE, {"steps_completed": ["welcome"]}, format="json")
    assert response.status_code == 200
    row = OnboardingProgress.objects.get()
    assert (row.completion_time, row.user_feedback, row.skipped_steps) == (None, "", [])


@pytest.mark.parametrize("body", [{"step": "welcome", "action": "done"}, {"step": ["welcome"]}, {}])
def test_progress_rejects_bad_input(api_client_for, alice, body):
    response = api_client_for(alice).post(PROGRESS, body, format="json")
    assert_error_shape(response, 400, "invalid_input")
    assert not OnboardingProgress.objects.exists()


@pytest.mark.parametrize(("method", "path"), [("post", COMPLETE), ("get", STATUS), ("post", PROGRESS)])
def test_anonymous_is_refused(api_client, method, path):
    response = getattr(api_client, method)(path, {"step": "welcome"} if method == "post" else None, format="json")
    assert_error_shape(response, 401, "not_authenticated")
    assert not OnboardingProgress.objects.exists()


def test_users_see_only_their_own_progress(api_client_for, alice, bob):
    complete(api_client_for(alice))
    body = api_client_for(bob).get(STATUS).json()
    assert (body["is_completed"], body["steps_completed"], body["current_step"]) == (False, [], "welcome")
    progress(api_client_for(bob), "welcome")
    assert OnboardingProgress.objects.get(user=alice).steps_completed == list(STEPS)
    assert OnboardingProgress.objects.get(user=bob).steps_completed == ["welcome"]
    assert (
        OnboardingProgress.objects.get(user=alice).onboarding_id
        != OnboardingProgress.objects.get(user=bob).onboarding_id
    )


# --- next_recommended_action: the user's real state, first rule wins -----------------------------------------


def test_a_user_without_a_wallet_is_told_to_connect_one(api_client_for, walletless):
    response = complete(api_client_for(walletless))  # even with every step done (security included)
    assert response.json()["next_recommended_action"] == "connect_wallet"
    assert api_client_for(walletless).get(STATUS).json()["next_recommended_action"] == "connect_wallet"


@pytest.mark.parametrize("security", [None, "skipped"])
def test_a_wallet_user_who_has_not_done_security_is_told_to_secure_the_account(api_client_for, alice, security):
    client = api_client_for(alice)
    if security:
        progress(client, "security", security)
    response = complete(client, steps_completed=["welcome", "connect-wallet"])
    assert response.json()["next_recommended_action"] == "secure_account"


def test_a_wallet_user_with_security_done_but_no_payment_is_told_to_pay(api_client_for, alice):
    ChainTransactionFactory(user=alice, status=ChainTransaction.Status.FAILED)  # a failed one is no payment
    ChainTransactionFactory(user=UserFactory())  # somebody else's payment does not count
    response = complete(api_client_for(alice), steps_completed=["welcome", "connect-wallet", "security"])
    assert response.json()["next_recommended_action"] == "make_first_payment"


@pytest.mark.parametrize("status", [ChainTransaction.Status.PENDING, ChainTransaction.Status.FINALIZED])
def test_a_user_with_wallet_security_and_a_payment_is_told_to_explore_defi(api_client_for, alice, status):
    ChainTransactionFactory(user=alice, status=status)
    client = api_client_for(alice)
    assert complete(client).json()["next_recommended_action"] == "explore_defi"
    assert client.get(STATUS).json()["next_recommended_action"] == "explore_defi"


def test_the_schema_documents_the_three_endpoints(api_client):
    paths = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    for path in [COMPLETE, STATUS, PROGRESS]:
        assert path in paths
    assert "post" in paths[COMPLETE]


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_steps_of_one_user_make_one_row_with_both_steps():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers itself; the row lock matters on PostgreSQL")
    user = UserFactory()

    def save(step: str) -> None:
        try:
            services.onboarding_step_record(user=user, step=step)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(STEPS)) as pool:
        list(pool.map(save, STEPS))
    row = OnboardingProgress.objects.get(user=user)
    assert row.steps_completed == list(STEPS)
    assert row.events.count() == len(STEPS)
    assert row.completed_at is not None
