"""Throttles backed by the cache (Redis), shared by every web process."""

from __future__ import annotations

import hashlib

from rest_framework.throttling import SimpleRateThrottle


class AuthIPThrottle(SimpleRateThrottle):
    """Sign-in endpoints, per client IP (behind proxies, set NUM_PROXIES so the IP is the client's)."""

    scope = "auth_ip"

    def get_cache_key(self, request, view):  # type: ignore[override]
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class NonceThrottle(AuthIPThrottle):
    scope = "nonce"


class PasswordResetThrottle(AuthIPThrottle):
    scope = "password_reset"


def _email_ident(request) -> str | None:
    data = getattr(request, "data", None)
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class EmailAddressThrottle(SimpleRateThrottle):
    """Mail-sending requests (sign-up, forgot-password) per target address, whoever sends them, so nobody can
    flood one mailbox. Keyed on the address whether or not it has an account: the limit reveals nothing."""

    scope = "email_address"

    def get_cache_key(self, request, view):  # type: ignore[override]
        ident = _email_ident(request)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}


class LoginFailureThrottle(EmailAddressThrottle):
    """Failed password attempts per account. Only failures count (the view records them), so the owner's own
    successful logins never lock them out; once the limit is reached every attempt is refused until it lapses."""

    scope = "login_account"

    def allow_request(self, request, view) -> bool:  # type: ignore[override]
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.history = [t for t in self.cache.get(self.key, []) if t > self.timer() - self.duration]
        if len(self.history) >= self.num_requests:
            self.now = self.timer()
            return self.throttle_failure()
        return True

    def record_failure(self, request) -> None:
        key = self.get_cache_key(request, None)
        if key is None or self.rate is None:
            return
        now = self.timer()
        history = [t for t in self.cache.get(key, []) if t > now - self.duration]
        self.cache.set(key, [now, *history], self.duration)
