"""Reads of escrows, scoped to the caller: the sender who created it, or a user whose verified wallet is the
recipient. Anyone else gets 404 (STYLE.md section 2)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import User, Wallet
from apps.escrow.chain import DISPUTE_TIMEOUT_SECONDS
from apps.escrow.models import Escrow, EscrowDeployment
from apps.transactions.services.assets import wallets_of
from engipay.api.errors import NotFound


def _wallets(user: User) -> list[str]:
    """The user's verified EVM addresses, read once per user object (a list page asks for every row)."""
    cached = getattr(user, "_escrow_wallets", None)
    if cached is None:
        cached = wallets_of(user, "evm")
        user._escrow_wallets = cached
    return cached


def _mine(user: User) -> Q:
    wallets = _wallets(user)
    return Q(sender=user) | Q(sender_address__in=wallets) | Q(recipient_address__in=wallets)


def escrow_list_for_user(
    *,
    user: User,
    role: str = "all",
    status: str | None = None,
    asset: str | None = None,
    network: str | None = None,
) -> QuerySet[Escrow]:
    """The caller's escrows, newest first. ``status`` is the shown one: ``expired`` includes pending escrows past
    their expiry (chain time), ``pending`` excludes them."""
    wallets = _wallets(user)
    scope = {
        "all": _mine(user),
        "sender": Q(sender=user) | Q(sender_address__in=wallets),
        "recipient": Q(recipient_address__in=wallets),
    }[role]
    rows = Escrow.objects.filter(scope)
    if status is not None:
        now = chain_now(deployment=EscrowDeployment.objects.filter(network=network).first() if network else None)
        if status == Escrow.Status.EXPIRED:
            rows = rows.filter(Q(status=status) | Q(status=Escrow.Status.PENDING, expires_at__lte=now))
        elif status == Escrow.Status.PENDING:
            rows = rows.filter(status=status, expires_at__gt=now)
        else:
            rows = rows.filter(status=status)
    if asset:
        rows = rows.filter(token__symbol__iexact=asset)
    if network:
        rows = rows.filter(deployment__network=network)
    return (
        rows.select_related("token", "deployment").prefetch_related("events", "actions").order_by("-created_at", "-id")
    )


def escrow_get_for_user(*, user: User, escrow_id: UUID | str) -> Escrow:
    try:
        return escrow_list_for_user(user=user).get(id=escrow_id)
    except (Escrow.DoesNotExist, ValueError):
        raise NotFound("escrow_not_found", "No such escrow.") from None


def escrow_roles(*, escrow: Escrow, user: User) -> set[str]:
    """{"sender", "recipient"} as far as ``user`` plays them (by account or verified wallet)."""
    wallets = set(_wallets(user))
    roles = set()
    if escrow.sender_id == user.pk or escrow.sender_address in wallets:
        roles.add("sender")
    if escrow.recipient_address in wallets:
        roles.add("recipient")
    return roles


def wallet_holders(addresses: Iterable[str]) -> dict[str, set[Any]]:
    """address → the ids of the users holding it as a verified EVM wallet (EIP-55 spelling, as stored)."""
    found: dict[str, set[Any]] = defaultdict(set)
    rows = Wallet.objects.filter(chain_kind="evm", verified_at__isnull=False, address__in=set(addresses))
    for address, user_id in rows.values_list("address", "user_id"):
        found[address].add(user_id)
    return found


def escrow_party_users_many(*, escrows: list[Escrow]) -> dict[Any, list[User]]:
    """escrow pk → everyone to tell about it: its sender (account or wallet) and the users holding its recipient
    address, in pk order; a few queries for any number of escrows."""
    holders = wallet_holders({a for e in escrows for a in (e.sender_address, e.recipient_address)})
    wanted: dict[Any, set[Any]] = {}
    for escrow in escrows:
        ids = holders.get(escrow.sender_address, set()) | holders.get(escrow.recipient_address, set())
        if escrow.sender_id is not None:
            ids = ids | {escrow.sender_id}
        wanted[escrow.pk] = ids
    users = User.objects.in_bulk({i for ids in wanted.values() for i in ids})
    return {pk: [users[i] for i in sorted(ids, key=str) if i in users] for pk, ids in wanted.items()}


def escrow_party_users(*, escrow: Escrow) -> list[User]:
    return escrow_party_users_many(escrows=[escrow])[escrow.pk]


def chain_now(*, deployment: EscrowDeployment | None) -> datetime:
    """Chain time as the indexer last saw it, never behind the wall clock (expiry is decided by block time)."""
    now = timezone.now()
    if deployment is not None and deployment.head_timestamp is not None:
        return max(now, deployment.head_timestamp)
    return now


def escrow_effective_status(*, escrow: Escrow, now: datetime | None = None) -> str:
    """The status shown: a pending escrow past its expiry is ``expired`` (its refund can be claimed) even before
    anyone settled it on chain."""
    now = now or chain_now(deployment=escrow.deployment)
    if escrow.status == Escrow.Status.PENDING and escrow.expires_at <= now:
        return Escrow.Status.EXPIRED
    return escrow.status


def escrow_available_actions(*, escrow: Escrow, roles: set[str], now: datetime | None = None) -> list[str]:
    """The transitions the contract would take from a caller playing ``roles`` now (the escrow as last indexed)."""
    now = now or chain_now(deployment=escrow.deployment)
    if escrow.status == Escrow.Status.DISPUTED:
        over = escrow.expires_at + timedelta(seconds=DISPUTE_TIMEOUT_SECONDS) <= now
        return ["refund"] if over and roles else []
    if escrow.status != Escrow.Status.PENDING or not roles:
        return []
    if escrow.expires_at <= now:
        return ["refund"]
    actions = []
    if "recipient" in roles:
        actions += ["accept", "reject"]
    if "sender" in roles:
        actions.append("cancel")
    if escrow.resolver_address:
        actions.append("dispute")
    return actions
