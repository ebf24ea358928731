"""KYC test fixtures: documents under a per-test private root, encrypted with a per-session key; real images."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from datetime import date

import pytest
from cryptography.fernet import Fernet
from PIL import Image

SESSION_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def kyc_private_root(settings, tmp_path):
    settings.KYC_PRIVATE_ROOT = str(tmp_path / "kyc-private")
    settings.KYC_ENCRYPTION_KEYS = [SESSION_KEY]
    return tmp_path / "kyc-private"


def image_bytes(width: int = 640, height: int = 400, fmt: str = "PNG", color=(40, 90, 160)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


def image_b64(width: int = 640, height: int = 400, fmt: str = "PNG", color=(40, 90, 160)) -> str:
    return base64.b64encode(image_bytes(width, height, fmt, color)).decode()


def submission_body(**overrides) -> dict:
    body = {
        "document_type": "passport",
        "document_image": image_b64(color=(10, 20, 30)),
        "selfie_image": image_b64(480, 640, "JPEG", color=(200, 150, 120)),
        "personal_info": {"full_name": "Ada Lovelace", "date_of_birth": "1990-01-01", "address": "12 Main St, London"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def submit(api_client_for) -> Callable:
    """POST /api/users/kyc/submit as ``user`` (JSON body by default)."""

    def post(user, body: dict | None = None, **kwargs):
        return api_client_for(user).post("/api/users/kyc/submit", body or submission_body(), format="json", **kwargs)

    return post


@pytest.fixture
def make_submission(db) -> Callable:
    """A submission made through the service (no HTTP), for tests about what happens after."""

    def make(user, *, proof_of_address: bool = False, **info):
        from apps.kyc.services.submissions import kyc_submission_create

        files = {"document_image": image_b64(), "selfie_image": image_b64(480, 640, "JPEG")}
        if proof_of_address:
            files["proof_of_address"] = image_b64(800, 1100)
        personal = {"full_name": "Ada Lovelace", "date_of_birth": date(1990, 1, 1), "address": "12 Main St, London"}
        personal.update(info)
        return kyc_submission_create(user=user, document_type="passport", personal_info=personal, files=files)

    return make
