from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.helpers import assert_error_shape

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.parametrize("header", [None, "Bearer null", "Bearer undefined", "Bearer abc.def.ghi", "Token x"])
def test_me_needs_a_valid_token(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/auth/me")
    assert_error_shape(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_refresh_rotates_and_a_used_refresh_token_is_dead(alice):
    client = APIClient()
    first = client.post("/api/auth/refresh", {"refresh": alice.auth["refresh"]}, format="json")
    assert first.status_code == 200, first.content
    assert set(first.json()) == {"token", "refresh"}
    assert bearer(first.json()["token"]).get("/api/auth/me").json()["user"]["id"] == str(alice.id)
    reused = client.post("/api/auth/refresh", {"refresh": alice.auth["refresh"]}, format="json")
    assert_error_shape(reused, 401, "invalid_refresh_token")


def test_an_access_token_is_not_a_refresh_token(alice):
    response = APIClient().post("/api/auth/refresh", {"refresh": alice.auth["token"]}, format="json")
    assert_error_shape(response, 401, "invalid_refresh_token")


def test_logout_revokes_the_refresh_token(alice, bob, api_client_for):
    assert_error_shape(
        api_client_for(alice).post("/api/auth/logout", {"refresh": bob.auth["refresh"]}, format="json"), 401
    )
    response = api_client_for(alice).post("/api/auth/logout", {"refresh": alice.auth["refresh"]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "Logout successful"}
    after = APIClient().post("/api/auth/refresh", {"refresh": alice.auth["refresh"]}, format="json")
    assert_error_shape(after, 401, "invalid_refresh_token")
    # Bob's session is untouched.
    assert APIClient().post("/api/auth/refresh", {"refresh": bob.auth["refresh"]}, format="json").status_code == 200


def test_logout_needs_a_token(alice):
    assert_error_shape(APIClient().post("/api/auth/logout", {"refresh": alice.auth["refresh"]}, format="json"), 401)


def test_a_deactivated_user_is_locked_out(alice, api_client_for):
    alice.is_active = False
    alice.save()
    assert_error_shape(api_client_for(alice).get("/api/auth/me"), 401)
