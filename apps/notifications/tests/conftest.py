from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.smtp import SmtpDouble


@pytest.fixture
def smtp(settings) -> Iterator[SmtpDouble]:
    """Django's real SMTP backend talking to a local SMTP server."""
    server = SmtpDouble().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()


@pytest.fixture
def ada(db):
    """A user with a verified account email (email notifications are on by default)."""
    from apps.accounts.models import User

    return User.objects.create_user(email="ada@example.com", password="a-long-passphrase-1", is_email_verified=True)


@pytest.fixture(autouse=True)
def verification_budgets_reset():
    """The daily confirmation budgets live in the shared cache (Redis) for 24 h: each test starts with none used."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(match=cache.make_key("notify-verify:") + "*"):
        client.delete(key)
