"""Platform pieces seen from outside: schema and offline docs, health, admin, back-office groups, worker."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import SignInNonce, User
from tests.helpers import assert_error_shape


@pytest.mark.django_db
def test_schema_is_served_and_lists_the_auth_endpoints(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    for path in ["/api/auth/nonce", "/api/auth/wallet-connect", "/api/auth/login", "/api/notifications"]:
        assert path in schema["paths"]
    assert "bearerAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_swagger_ui_and_its_assets_are_served_locally():
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets, html
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert "http://" not in "".join(assets)
    assert "https://" not in "".join(assets)


@pytest.mark.django_db
def test_health_is_200_with_every_dependency_listed(api_client, local_chain):
    response = api_client.get("/api/health/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "ok"
    assert data["checks"]["database"]["ok"] is True
    assert data["checks"]["redis"]["ok"] is True
    chain = data["checks"]["chains"]["local"]
    assert chain["ok"] is True
    assert chain["chain_id"] == 31337
    assert chain["block_number"] >= 0


@pytest.mark.django_db
def test_health_is_503_when_a_chain_is_down(api_client, settings, local_chain):
    from conftest import free_port

    settings.CHAINS = {
        **settings.CHAINS,
        "mainnet": {"kind": "evm", "chain_id": 1, "confirmations": 12, "rpc_urls": [f"http://127.0.0.1:{free_port()}"]},
    }
    response = api_client.get("/api/health/")
    error = assert_error_shape(response, 503, "chain_unavailable")
    assert error["details"]["down"] == ["chains.mainnet"]
    assert error["details"]["checks"]["chains"]["mainnet"]["ok"] is False
    assert error["details"]["checks"]["chains"]["local"]["ok"] is True
    assert error["details"]["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_health_is_503_when_the_chain_id_is_wrong(api_client, settings, anvil):
    settings.CHAINS = {"sepolia": {"kind": "evm", "chain_id": 11155111, "rpc_urls": [anvil], "confirmations": 3}}
    error = assert_error_shape(api_client.get("/api/health/"), 503, "chain_unavailable")
    assert "expected 11155111" in error["details"]["checks"]["chains"]["sepolia"]["error"]


@pytest.mark.django_db
def test_back_office_groups_exist():
    names = set(Group.objects.values_list("name", flat=True))
    assert {"KYC reviewers", "Support agents", "Help editors"} <= names


@pytest.mark.django_db
def test_staff_sign_in_to_the_admin_with_a_password():
    User.objects.create_superuser(email="admin@example.com", password="a long admin passphrase")
    client = Client()
    page = client.get("/admin/login/")
    assert page.status_code == 200
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "admin@example.com", "password": "a long admin passphrase"}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/notifications/notification/").status_code == 200


@pytest.mark.django_db
def test_an_api_token_does_not_open_the_admin(alice):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {alice.auth['token']}")
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    # Alice has no password (wallet user), so the admin login cannot take her in either.
    assert not alice.has_usable_password()


@pytest.mark.django_db
def test_a_too_large_body_is_413_in_the_error_shape(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api_client.post("/api/auth/login", {"email": "a@example.com", "password": "x" * 5000}, format="json")
    assert_error_shape(response, 413, "payload_too_large")


@pytest.mark.django_db
def test_cors_allows_the_frontend_origin_only(api_client, settings):
    allowed = api_client.options(
        "/api/auth/login", HTTP_ORIGIN="http://localhost:3000", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert allowed["Access-Control-Allow-Origin"] == "http://localhost:3000"
    other = api_client.options(
        "/api/auth/login", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in other


@pytest.mark.django_db(transaction=True)
def test_the_worker_cleans_expired_nonces(celery_worker):
    from apps.accounts.tasks import sign_in_nonce_cleanup

    old = SignInNonce.objects.create(nonce="old0000000000", expires_at=timezone.now() - timedelta(hours=2))
    fresh = SignInNonce.objects.create(nonce="fresh000000000", expires_at=timezone.now() + timedelta(minutes=5))
    sign_in_nonce_cleanup.delay()
    deadline = time.monotonic() + 20
    while SignInNonce.objects.filter(pk=old.pk).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not SignInNonce.objects.filter(pk=old.pk).exists()
    assert SignInNonce.objects.filter(pk=fresh.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_beat_schedules_the_cleanup_and_the_worker_runs_it(celery_worker, tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT, _celery_env

    old = SignInNonce.objects.create(nonce="beat000000000", expires_at=timezone.now() - timedelta(hours=2))
    env = {**_celery_env(), "NONCE_CLEANUP_EVERY_SECONDS": "1"}
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "engipay",
            "beat",
            f"--schedule={tmp_path / 'schedule'}",
            f"--logfile={tmp_path / 'beat.log'}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while SignInNonce.objects.filter(pk=old.pk).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        beat.terminate()
        beat.wait(10)
    assert not SignInNonce.objects.filter(pk=old.pk).exists(), (tmp_path / "beat.log").read_text()
    assert os.path.exists(tmp_path / "beat.log")


def test_celery_is_configured_for_safe_delivery(settings):
    from engipay.celery import app

    assert "accounts.sign_in_nonce_cleanup" in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert app.conf.task_acks_late is True
    assert app.conf.task_serializer == "json"


@pytest.mark.django_db
def test_nonce_requests_are_throttled(throttle_rates):
    throttle_rates(nonce="2/min")
    client = APIClient()
    assert [client.get("/api/auth/nonce").status_code for _ in range(3)] == [200, 200, 429]
    assert_error_shape(client.get("/api/auth/nonce"), 429, "throttled")
