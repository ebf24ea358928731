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


def test_an_unknown_sender_is_an_error(settings, tmp_path):
    settings.WEBHOOK_SOURCES = {}
    (tmp_path / "p.json").write_text("{}")
    with pytest.raises(CommandError):
        call_command("webhook_sign", str(tmp_path / "p.json"), "--source", "dev")
