"""`manage.py webhook_sign` prints headers the endpoint accepts (the README's way to try the webhooks by hand)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_printed_headers_are_accepted(settings, tmp_path):
    settings.WEBHOOK_SOURCES = {"dev": {"secret": "s3cret-for-this-test", "topics": ["defi"]}}
    payload = tmp_path / "position.json"
    payload.write_bytes(
        json.dumps(
            {
                "id": "evt_sign_command_1",
                "protocol": "vesu",
                "network": "starknet",
                "wallet_address": "0x" + "1" * 64,
            }
        ).encode()
    )
    out = io.StringIO()
    call_command("webhook_sign", str(payload), "--topic", "defi", stdout=out)
    lines = out.getvalue().splitlines()
    headers = dict(line.split(": ", 1) for line in lines[:3])
    assert lines[3].startswith("curl ")
    assert "/api/webhooks/defi/position-update" in lines[3]
    response = APIClient().post(
        "/api/webhooks/defi/position-update",
        data=payload.read_bytes(),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200, response.content
    assert response.json()["duplicate"] is False
    # The same signature over other bytes is refused.
    tampered = APIClient().post(
        "/api/webhooks/defi/position-update",
        data=payload.read_bytes().replace(b"vesu", b"trove"),
        content_type="application/json",
        headers=headers,
    )
    assert tampered.status_code == 401


def test_another_shell_signs_with_make_runs_dev_secret(settings, tmp_path):
    """`make run` configures its server with the sender dev; a shell without that setting reads the same file."""
    (tmp_path / "webhook_dev_secret").write_text("the-dev-secret\n")
    settings.VAR_DIR, settings.WEBHOOK_SOURCES = tmp_path, {}
    (tmp_path / "p.json").write_bytes(
        b'{"id": "evt_dev_1", "protocol": "vesu", "network": "starknet", "wallet_address": "0x1"}'
    )
    out = io.StringIO()
    call_command("webhook_sign", str(tmp_path / "p.json"), "--topic", "defi", stdout=out)
    headers = dict(line.split(": ", 1) for line in out.getvalue().splitlines()[:3])
    settings.WEBHOOK_SOURCES = {"dev": {"secret": "the-dev-secret", "topics": ["defi"]}}  # what the server has
    response = APIClient().post(
        "/api/webhooks/defi/position-update",
        data=(tmp_path / "p.json").read_bytes(),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200, response.content


def test_an_unknown_sender_is_an_error(settings, tmp_path):
    settings.WEBHOOK_SOURCES = {}
    settings.VAR_DIR = tmp_path  # no dev secret file here
    (tmp_path / "p.json").write_text("{}")
    with pytest.raises(CommandError):
        call_command("webhook_sign", str(tmp_path / "p.json"), "--source", "dev")
