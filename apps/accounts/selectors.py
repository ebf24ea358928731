from __future__ import annotations

from django.db.models import Prefetch

from .models import User, Wallet


def user_with_wallets(*, user_id) -> User:
    return User.objects.prefetch_related(
        Prefetch("wallets", queryset=Wallet.objects.order_by("-last_sign_in_at", "-created_at"))
    ).get(pk=user_id)
