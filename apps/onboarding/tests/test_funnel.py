"""The funnel selector and the back-office funnel page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User
from apps.onboarding import selectors, services
from apps.onboarding.models import STEPS, OnboardingProgress

from .factories import UserFactory

pytestmark = pytest.mark.django_db

FUNNEL = "/admin/onboarding/onboardingprogress/funnel/"


@pytest.fixture
def four_users() -> list[User]:
    """Two completed flows (5 and 2 steps, 300 s and 200 s) and two that stopped early."""
    u1, u2, u3, u4 = UserFactory.create_batch(4)
    services.onboarding_complete(user=u1, steps_completed=list(STEPS), skipped_steps=[], completion_time=300)

    services.onboarding_step_record(user=u2, step="welcome")
    services.onboarding_step_record(user=u2, step="security", action="skipped")
    services.onboarding_step_record(user=u2, step="connect-wallet")
    done = services.onboarding_complete(
        user=u2, steps_completed=["welcome", "connect-wallet"], skipped_steps=["security"], completion_time=100
    )
    OnboardingProgress.objects.filter(pk=done.pk).update(started_at=done.completed_at - timedelta(seconds=200))

    services.onboarding_step_record(user=u3, step="welcome")
    services.onboarding_step_record(user=u3, step="connect-wallet", action="skipped")
    services.onboarding_step_record(user=u3, step="connect-wallet")  # came back to it

    services.onboarding_step_record(user=u4, step="welcome", action="skipped")
    return [u1, u2, u3, u4]


def test_funnel_counts_each_step_and_the_medians(four_users):
    funnel = selectors.onboarding_funnel()
    assert (funnel.started, funnel.completed, funnel.completed_percent) == (4, 2, 50)
    rows = {row.step: (row.completed, row.skipped, row.completed_percent) for row in funnel.steps}
    assert [row.step for row in funnel.steps] == list(STEPS)
    assert rows == {
        "welcome": (3, 1, 75),
        "connect-wallet": (3, 0, 75),  # u3 skipped it, then completed it
        "security": (1, 1, 25),
        "features": (1, 0, 25),
        "defi": (1, 0, 25),
    }
    assert funnel.median_duration == timedelta(seconds=250)
    assert funnel.median_reported_time == timedelta(seconds=200)


def test_funnel_with_no_data():
    funnel = selectors.onboarding_funnel()
    assert (funnel.started, funnel.completed, funnel.completed_percent) == (0, 0, 0)
    assert all((row.completed, row.skipped) == (0, 0) for row in funnel.steps)
    assert funnel.median_duration is None
    assert funnel.median_reported_time is None


def test_median_of_an_odd_count_is_the_middle_value():
    for seconds in [60, 600, 90]:
        services.onboarding_complete(user=UserFactory(), steps_completed=["welcome"], skipped_steps=[],
                                     completion_time=seconds)  # fmt: skip
    funnel = selectors.onboarding_funnel()
    assert funnel.median_reported_time == timedelta(seconds=90)
    assert funnel.median_duration == timedelta(seconds=90)


def _staff(email: str, *permissions: str) -> Client:
    user = User.objects.create_user(email=email, password="pw-for-tests-only", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="onboarding", codename__in=permissions))
    client = Client()
    client.force_login(user)
    return client


def test_superuser_sees_the_funnel_page(four_users):
    admin = User.objects.create_superuser(email="root@example.com", password="pw-for-tests-only")
    client = Client()
    client.force_login(admin)
    response = client.get(FUNNEL)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<td class="started">4</td>' in html
    assert '<td class="completed">2 (50%)</td>' in html
    assert '<td class="median-duration">0:04:10</td>' in html
    assert '<td class="median-reported">0:03:20</td>' in html
    assert '<tr class="step-welcome">' in html
    assert '<td class="completed">3</td>' in html
    assert response.context["funnel"] == selectors.onboarding_funnel()

    changelist = client.get(reverse("admin:onboarding_onboardingprogress_changelist"))
    assert changelist.status_code == 200
    assert FUNNEL in changelist.content.decode()


@pytest.mark.parametrize("query", ["", "?completed=yes", "?completed=no&feedback=yes", "?feedback=no", "?q={email}"])
def test_the_progress_list_filters_and_searches(four_users, query):
    admin = User.objects.create_superuser(email="root@example.com", password="pw-for-tests-only")
    client = Client()
    client.force_login(admin)
    url = reverse("admin:onboarding_onboardingprogress_changelist") + query.format(email=four_users[2].email)
    response = client.get(url)
    assert response.status_code == 200
    expected = {"": 4, "?completed=yes": 2, "?completed=no&feedback=yes": 0, "?feedback=no": 4, "?q={email}": 1}
    assert response.context["cl"].result_count == expected[query]


def test_staff_with_view_permission_sees_the_funnel():
    assert _staff("viewer@example.com", "view_onboardingprogress").get(FUNNEL).status_code == 200


def test_staff_without_permission_is_refused_the_funnel():
    response = _staff("outsider@example.com").get(FUNNEL)
    assert response.status_code == 403
    assert b"Access denied" in response.content


def test_anonymous_is_sent_to_the_admin_login():
    response = Client().get(FUNNEL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_progress_rows_cannot_be_added_or_edited_in_the_admin(four_users):
    admin = User.objects.create_superuser(email="root@example.com", password="pw-for-tests-only")
    client = Client()
    client.force_login(admin)
    assert client.get(reverse("admin:onboarding_onboardingprogress_add")).status_code == 403
    row = OnboardingProgress.objects.get(user=four_users[0])
    page = client.get(reverse("admin:onboarding_onboardingprogress_change", args=[row.pk]))
    assert page.status_code == 200
    assert b'name="steps_completed"' not in page.content
