"""Throttles backed by the cache (Redis), shared by every web process."""

from __future__ import annotations

import hashlib

from rest_framework.throttling import SimpleRateThrottle


class AuthIPThrottle(SimpleRateThrottle):
    """Sign-in endpoints, per client IP."""

    scope = "auth_ip"

    def get_cache_key(self, request, view):  # type: ignore[override]
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class NonceThrottle(AuthIPThrottle):
    scope = "nonce"


class PasswordResetThrottle(AuthIPThrottle):
    scope = "password_reset"


class LoginAccountThrottle(SimpleRateThrottle):
    """Password attempts per account, whoever sends them (stops a slow spread-out guess of one password).

    Keyed on the normalised email whether or not the account exists, so the throttle itself reveals nothing.
    """

    scope = "login_account"

    def get_cache_key(self, request, view):  # type: ignore[override]
        email = request.data.get("email") if hasattr(request, "data") and isinstance(request.data, dict) else None
        if not isinstance(email, str) or not email.strip():
            return None
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}
