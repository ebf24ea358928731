"""Encryption at rest for identity documents and personal info: Fernet (AES-128-CBC + HMAC-SHA256, from
``cryptography``) with a key list, so keys can be rotated (``MultiFernet``: the first key encrypts, every key
decrypts; ``manage.py kyc_rotate_keys`` re-encrypts everything under the first key)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

__all__ = ["InvalidToken", "decrypt", "decrypt_json", "encrypt", "encrypt_json", "rotate"]


def _development_key() -> str:
    """A random key kept in var/ on a machine where KYC_ENCRYPTION_KEYS is unset (like SECRET_KEY)."""
    from engipay.settings.env import VAR_DIR, var_secret

    return var_secret(VAR_DIR / "kyc_encryption_key", lambda: Fernet.generate_key().decode())


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = list(settings.KYC_ENCRYPTION_KEYS) or [_development_key()]
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "KYC_ENCRYPTION_KEYS must be Fernet keys (32 bytes, urlsafe base64), comma-separated."
        ) from exc


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "KYC_ENCRYPTION_KEYS":
        _fernet.cache_clear()


setting_changed.connect(_reset)


def encrypt(data: bytes) -> bytes:
    return _fernet().encrypt(data)


def decrypt(token: bytes) -> bytes:
    """Raises ``InvalidToken`` for data not encrypted under any configured key (or tampered with)."""
    return _fernet().decrypt(token)


def rotate(token: bytes) -> bytes:
    """The same plaintext encrypted under the first (current) key."""
    return _fernet().rotate(token)


def encrypt_json(value: Any) -> str:
    return encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> Any:
    return json.loads(decrypt(token.encode()))
