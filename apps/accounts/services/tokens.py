"""Access and refresh tokens (simplejwt) with a per-user session epoch."""

from __future__ import annotations

from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.models import User
from engipay.api.errors import Unauthenticated

_INVALID = ("invalid_refresh_token", "The refresh token is invalid, expired or revoked.")


def tokens_issue(*, user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    refresh["sep"] = user.session_epoch
    return {"token": str(refresh.access_token), "refresh": str(refresh)}


def _refresh_token(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError:
        raise Unauthenticated(*_INVALID) from None


@transaction.atomic
def tokens_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate: the old refresh token works once, even when two requests race with it."""
    old = _refresh_token(refresh)
    # Lock the token's row, then re-check the blacklist under the lock.
    OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=old["jti"]).first()
    try:
        old.check_blacklist()
    except TokenError:
        raise Unauthenticated(*_INVALID) from None
    user = User.objects.filter(pk=old.get("user_id"), is_active=True).first()
    if user is None or old.get("sep") != user.session_epoch:
        raise Unauthenticated(*_INVALID)
    old.blacklist()
    return tokens_issue(user=user)


def tokens_revoke(*, user: User, refresh: str) -> None:
    token = _refresh_token(refresh)
    if str(token.get("user_id")) != str(user.pk):
        raise Unauthenticated(*_INVALID)
    token.blacklist()
