"""Tiered limits (API guide section 7): USD a user may move through EngiPay over a rolling 24 hours ("daily") and
30 days ("monthly"), by verification level. Every money path calls :func:`check_limit` before it prepares
anything and :func:`limit_record` when the user commits to it (idempotent on a reference); a transfer that fails
on chain is released with :func:`limit_release`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from apps.kyc.models import Level, LimitUsage, Verification
from engipay.api.errors import Forbidden, InvalidInput

DAY = timedelta(hours=24)
MONTH = timedelta(days=30)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Limits:
    level: str
    daily: Decimal
    monthly: Decimal
    used_daily: Decimal
    used_monthly: Decimal

    @property
    def daily_remaining(self) -> Decimal:
        return max(self.daily - self.used_daily, Decimal(0))

    @property
    def monthly_remaining(self) -> Decimal:
        return max(self.monthly - self.used_monthly, Decimal(0))

    @property
    def remaining(self) -> Decimal:
        return min(self.daily_remaining, self.monthly_remaining)

    def as_details(self) -> dict[str, object]:
        return {
            "verification_level": self.level,
            "daily_limit": self.daily,
            "monthly_limit": self.monthly,
            "daily_remaining": self.daily_remaining,
            "monthly_remaining": self.monthly_remaining,
        }


def level_for(user) -> str:
    verification = Verification.objects.filter(user=user).only("level").first()
    return verification.level if verification is not None else Level.TIER_0


def tier_limits(level: str) -> tuple[Decimal, Decimal]:
    """(daily, monthly) USD of a level, from settings.KYC_LIMITS (strings or integers, never floats)."""
    config = settings.KYC_LIMITS[level]
    return Decimal(str(config["daily"])), Decimal(str(config["monthly"]))


def limits_for(user, *, now=None, level: str | None = None) -> Limits:
    """``level``: the user's level when the caller has read it already (else it is read here)."""
    now = now or timezone.now()
    level = level or level_for(user)
    daily, monthly = tier_limits(level)
    live = LimitUsage.objects.filter(user=user, released_at__isnull=True, created_at__gt=now - MONTH)
    used = live.aggregate(
        monthly=Sum("usd_amount"), daily=Sum("usd_amount", filter=Q(created_at__gt=now - DAY))
    )  # one query for both windows
    return Limits(
        level=level,
        daily=daily,
        monthly=monthly,
        used_daily=Decimal(used["daily"] or 0).quantize(CENT),
        used_monthly=Decimal(used["monthly"] or 0).quantize(CENT),
    )


def _usd(usd_amount: Decimal) -> Decimal:
    if not isinstance(usd_amount, Decimal) or not usd_amount.is_finite() or usd_amount < 0:
        raise InvalidInput("invalid_amount", "The amount must be a non-negative decimal.")
    return usd_amount.quantize(CENT)


def check_limit(user, usd_amount: Decimal) -> Limits:
    """Raise 403 ``kyc_limit_exceeded`` (with what remains) if ``usd_amount`` would pass a limit of the user's
    tier; else return the limits as they stand."""
    amount = _usd(usd_amount)
    limits = limits_for(user)
    if amount > limits.remaining:
        which = "daily" if amount > limits.daily_remaining else "monthly"
        raise Forbidden(
            "kyc_limit_exceeded",
            f"This would pass your {which} limit of {getattr(limits, which)} USD; "
            f"{limits.remaining} USD remains. Verify your identity to raise your limits.",
            {**limits.as_details(), "requested_usd": amount},
        )
    return limits


@transaction.atomic
def limit_record(
    *, user, usd_amount: Decimal, reference: str, kind: str, enforce: bool = True
) -> tuple[LimitUsage, bool]:
    """Count ``usd_amount`` against the user's limits once per ``reference``. Returns (usage, counted_now): the
    same reference again → the live row and False; a released one (its transfer was refused or failed) counts
    again, checked like a new one. With ``enforce`` the limit is checked under a per-user lock, so two requests
    cannot both spend the last allowance. Only the caller that counted it now may release it."""
    type(user).objects.select_for_update().filter(pk=user.pk).first()  # serialise one user's spending
    existing = LimitUsage.objects.select_for_update().filter(reference=reference).first()
    if existing is not None and existing.released_at is None:
        return existing, False
    if enforce:
        check_limit(user, usd_amount)
    if existing is not None:
        existing.usd_amount, existing.kind, existing.released_at = _usd(usd_amount), kind, None
        existing.created_at = timezone.now()
        existing.save(update_fields=["usd_amount", "kind", "released_at", "created_at"])
        return existing, True
    try:
        with transaction.atomic():
            usage = LimitUsage.objects.create(user=user, usd_amount=_usd(usd_amount), reference=reference, kind=kind)
    except IntegrityError:  # cannot happen under the user lock unless another user names the same reference
        return LimitUsage.objects.get(reference=reference), False
    return usage, True


def limit_release(*, reference: str) -> bool:
    """Stop counting a usage (its transfer failed or was never sent). True if something was released."""
    return bool(
        LimitUsage.objects.filter(reference=reference, released_at__isnull=True).update(released_at=timezone.now())
    )


def limit_reference_move(*, old: str, new: str) -> None:
    """Follow a usage to a new reference (a network that names a transaction by another hash than ours)."""
    if old != new:
        LimitUsage.objects.filter(reference=old).update(reference=new)
