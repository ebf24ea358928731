"""``Authorization: Bearer <token>`` for the API and the websockets (same tokens, same checks)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from .models import User


class BearerTokenAuthentication(JWTAuthentication):
    """simplejwt's access tokens, plus the session epoch: a password reset kills every older token."""

    def get_raw_token(self, header: bytes) -> bytes | None:
        raw = super().get_raw_token(header)
        # The frontend sends the literal "Bearer null" when it has no token: that is "not signed in".
        if raw in (b"null", b"undefined", b""):
            return None
        return raw

    def get_user(self, validated_token: Any) -> User:
        user = super().get_user(validated_token)
        if validated_token.get("sep") != user.session_epoch:
            raise InvalidToken({"detail": "Token has been revoked.", "code": "token_revoked"})
        return user


def user_and_expiry_for_token(raw: str) -> tuple[User, int] | None:
    """Resolve an access token outside DRF (websockets): (user, expiry as unix time), or None if not valid."""
    try:
        token = AccessToken(raw)
        return BearerTokenAuthentication().get_user(token), int(token["exp"])
    except (TokenError, AuthenticationFailed, KeyError):
        return None
