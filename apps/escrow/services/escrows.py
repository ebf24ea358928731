"""Escrow create and transitions (DESIGN.md section 1): prepare the contract call for the wallet that must sign
it, after checking the caller's role and the escrow's state on chain; take back what the wallet signed and send
it. No status is set here: the escrow's state is the indexer's projection of the contract's events.

At most one transition is open per escrow (a partial unique constraint): concurrent requests are serialised on the
escrow row, the first prepares, a repeat of the same request gets the same prepared call, anything else is 409.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from eth_utils import keccak

from apps.chains.clients import client_for
from apps.chains.clients.base import AssetRef
from apps.chains.models import NATIVE_ADDRESS
from apps.chains.registry import ChainConfig, chain
from apps.chains.units import from_base_units, to_base_units
from apps.escrow import chain as contract
from apps.escrow.models import Escrow, EscrowAction, EscrowDeployment
from apps.escrow.selectors import chain_now, escrow_roles
from apps.kyc.services import check_limit
from apps.kyc.services.screening import address_screen
from apps.transactions.models import ChainTransaction
from apps.transactions.services.assets import (
    AssetOnChain,
    asset_by_contract,
    asset_on_chain,
    native_asset,
    sender_for,
    usd_value_for_limits,
)
from apps.transactions.services.calls import ExpectedCall, contract_call_broadcast, contract_call_track
from engipay.api.errors import ApplicationError, Forbidden, InvalidInput, StateConflict

from .calls import Call, calls_prepare

ZERO = NATIVE_ADDRESS
Kind = EscrowAction.Kind
# Who may ask for each transition, the contract function, and the on-chain states it needs.
TRANSITIONS: dict[str, tuple[set[str], str]] = {
    Kind.ACCEPT: ({"recipient"}, "accept"),
    Kind.REJECT: ({"recipient"}, "reject"),
    Kind.CANCEL: ({"sender"}, "cancel"),
    Kind.DISPUTE: ({"sender", "recipient"}, "dispute"),
    Kind.REFUND: ({"sender", "recipient"}, "expire"),
}


class EscrowUnavailable(ApplicationError):
    status_code = 503
    default_code = "escrow_unavailable"


@dataclass(frozen=True)
class Prepared:
    escrow: Escrow
    action: EscrowAction
    gas_estimate: dict[str, Any] | None  # None when a repeat request got the action prepared before


def payment_link(escrow: Escrow) -> str:
    return f"{settings.PUBLIC_BASE_URL}/pay/escrow/{escrow.id}"


def deployment_for(network: str | None) -> tuple[ChainConfig, EscrowDeployment]:
    """The chain to use (named, ESCROW_DEFAULT_NETWORK, or the only one with a deployment) and its contract."""
    key = network or settings.ESCROW_DEFAULT_NETWORK
    if not key:
        keys = list(EscrowDeployment.objects.values_list("network", flat=True)[:2])
        if len(keys) != 1:
            raise InvalidInput("network_required", "Name the network: escrows run on several chains.", {"known": keys})
        key = keys[0]
    config = chain(key)
    deployment = EscrowDeployment.objects.filter(network=config.key).first()
    if deployment is None:
        raise EscrowUnavailable("escrow_not_deployed", f"No escrow contract is deployed on {config.name}.")
    return config, deployment


def _asset(config: ChainConfig, *, asset: str | None, token_address: str | None) -> AssetOnChain:
    if token_address is not None and token_address.lower() not in ("0x0", ZERO):
        found = asset_by_contract(config=config, contract=token_address)
        if found is None:
            raise InvalidInput("unknown_asset", f"{token_address} is not a token available on {config.name}.")
        if asset is not None and asset.upper() != found.token.symbol.upper():
            raise InvalidInput("asset_mismatch", f"token_address is {found.token.symbol}, not {asset}.")
        return found
    if token_address is not None:  # "0x0": the native coin
        native = native_asset(config=config)
        if asset is not None and asset.upper() != native.token.symbol.upper():
            raise InvalidInput("asset_mismatch", f"token_address 0x0 is {native.token.symbol}, not {asset}.")
        return native
    if asset is None:
        raise InvalidInput("asset_required", "Give asset (a symbol) or token_address (0x0 for ETH).")
    return asset_on_chain(config=config, symbol=asset)


def _resolver(config: ChainConfig, given: str | None, *, sender: str, recipient: str) -> str:
    if given is None:
        resolver = settings.ESCROW_RESOLVER_ADDRESS or ZERO
    else:
        resolver = ZERO if given.lower() in ("", "0x0", ZERO) else given
    resolver = client_for(config).validate_address(resolver)
    if resolver in (sender, recipient):
        raise InvalidInput("invalid_resolver", "The dispute resolver cannot be the sender or the recipient.")
    return resolver


def _expiry(hours: int, deployment: EscrowDeployment) -> Any:
    if not settings.ESCROW_MIN_HOURS <= hours <= settings.ESCROW_MAX_HOURS:
        raise InvalidInput(
            "invalid_expiry",
            f"expires_in_hours must be between {settings.ESCROW_MIN_HOURS} and {settings.ESCROW_MAX_HOURS}.",
            {"min": settings.ESCROW_MIN_HOURS, "max": settings.ESCROW_MAX_HOURS},
        )
    return (chain_now(deployment=deployment) + timedelta(hours=hours)).replace(microsecond=0)


def escrow_create(
    *,
    user,
    recipient: str,
    amount: Decimal,
    asset: str | None = None,
    token_address: str | None = None,
    network: str | None = None,
    memo: str = "",
    expires_in_hours: int = 24,
    require_confirmation: bool = True,
    dispute_resolver: str | None = None,
    from_address: str | None = None,
) -> Prepared:
    """Prepare a new escrow: the row (``awaiting_signature``) and the sender's unsigned transactions (an
    approval first when the token allowance is short, then create)."""
    config, deployment = deployment_for(network)
    client = client_for(config)
    recipient = client.validate_address(recipient)
    token = _asset(config, asset=asset, token_address=token_address)
    amount_base = to_base_units(amount, token.decimals)
    if amount_base <= 0:
        raise InvalidInput("invalid_amount", "amount must be greater than zero.")
    sender = sender_for(user=user, from_address=from_address, chain_kind=config.kind)
    if recipient == sender:
        raise InvalidInput("invalid_recipient", "The recipient cannot be the sending wallet.")
    resolver = _resolver(config, dispute_resolver, sender=sender, recipient=recipient)
    expires_at = _expiry(expires_in_hours, deployment)
    # AML and KYC (apps/kyc) before anything is built: 403 sanctioned_address / kyc_limit_exceeded.
    address_screen(user=user, address=recipient, chain_kind=config.kind, context="escrow_create")
    address_screen(user=user, address=sender, chain_kind=config.kind, context="transaction_sender")
    check_limit(
        user, usd_value_for_limits(symbol=token.token.symbol, amount=from_base_units(amount_base, token.decimals))
    )
    salt = secrets.token_bytes(32)
    args = (
        recipient,
        int(expires_at.timestamp()),
        bytes.fromhex(contract.memo_hash(memo)[2:]),
        require_confirmation,
        resolver,
    )
    if token.contract is None:
        calls = [Call("create", deployment.address, contract.calldata("createEth", salt, *args), amount_base)]
    else:
        create = contract.calldata("createToken", salt, args[0], token.contract, amount_base, *args[1:])
        allowance = contract.allowance_read(client, token=token.contract, owner=sender, spender=deployment.address)
        approve = [Call("approve", token.contract, contract.approve_data(deployment.address, amount_base))]
        calls = [*(approve if allowance < amount_base else []), Call("create", deployment.address, create)]
    ref = AssetRef(symbol=token.token.symbol, contract=token.contract, decimals=token.decimals)
    prepared = calls_prepare(config=config, sender=sender, calls=calls, token=ref, token_amount=amount_base)
    with transaction.atomic():
        escrow = Escrow.objects.create(
            deployment=deployment,
            onchain_id=contract.escrow_id(sender, salt),
            salt="0x" + salt.hex(),
            sender=user,
            sender_address=sender,
            recipient_address=recipient,
            token=token.token,
            token_address=token.contract or ZERO,
            decimals=token.decimals,
            amount_base=Decimal(amount_base),
            memo=memo,
            memo_hash=contract.memo_hash(memo),
            require_confirmation=require_confirmation,
            resolver_address="" if resolver == client.validate_address(ZERO) else resolver,
            expires_at=expires_at,
        )
        action = _action_create(escrow=escrow, kind=Kind.CREATE, user=user, signer=sender, steps=prepared.steps)
    return Prepared(escrow=escrow, action=action, gas_estimate=prepared.gas_estimate)


def _action_create(*, escrow: Escrow, kind: str, user, signer: str, steps: list[dict[str, Any]]) -> EscrowAction:
    return EscrowAction.objects.create(
        escrow=escrow,
        kind=kind,
        user=user,
        signer_address=signer,
        transactions=steps,
        prepared_until=timezone.now() + timedelta(seconds=settings.ESCROW_ACTION_TTL_SECONDS),
    )


def open_action(*, escrow: Escrow) -> EscrowAction | None:
    """The escrow's open transition, after letting go of one that lapsed unsubmitted or whose transaction failed.
    The caller holds the escrow row lock."""
    action = escrow.actions.filter(status__in=EscrowAction.OPEN_STATUSES).select_related("chain_transaction").first()
    if action is None:
        return None
    failed = (ChainTransaction.Status.FAILED, ChainTransaction.Status.DROPPED)
    untracked = action.status == EscrowAction.Status.SUBMITTED and action.chain_transaction is None
    if (action.status == EscrowAction.Status.PREPARED or untracked) and action.prepared_until <= timezone.now():
        # Never submitted, or only known by the event a reorg dropped (nothing tracks it): it lets go.
        action.status = EscrowAction.Status.LAPSED
    elif action.chain_transaction is not None and action.chain_transaction.status in failed:
        action.status = EscrowAction.Status.FAILED
    elif (
        action.kind == Kind.WITHDRAW
        and action.chain_transaction is not None
        and action.chain_transaction.status in (ChainTransaction.Status.CONFIRMED, ChainTransaction.Status.FINALIZED)
    ):
        action.status = EscrowAction.Status.DONE  # no escrow event marks a withdrawal: its transaction does
    elif action.tx_hashes and escrow.events.filter(tx_hash__in=action.tx_hashes).exists():
        action.status = EscrowAction.Status.DONE  # indexed while its submission was being recorded
    else:
        return action
    action.save(update_fields=["status", "updated_at"])
    return None


def _signer_for(escrow: Escrow, roles: set[str], allowed: set[str]) -> str:
    role = "recipient" if "recipient" in roles & allowed else "sender"
    return escrow.recipient_address if role == "recipient" else escrow.sender_address


def _refuse_role(kind: str, allowed: set[str]) -> Forbidden:
    code = {frozenset({"recipient"}): "not_recipient", frozenset({"sender"}): "not_sender"}.get(
        frozenset(allowed), "not_party"
    )
    return Forbidden(code, f"Only the escrow's {' or '.join(sorted(allowed))} can {kind} it.")


def _check_state(escrow: Escrow, kind: str, onchain: contract.OnchainEscrow, now) -> None:
    """409 unless the contract would take ``kind`` now (state from the chain itself, expiry by chain time)."""
    expired = onchain.expires_at <= int(now.timestamp())
    details = {"state": onchain.state, "expires_at": escrow.expires_at.isoformat()}
    if kind == Kind.REFUND:
        disputed_over = onchain.state == "disputed" and (
            onchain.expires_at + contract.DISPUTE_TIMEOUT_SECONDS <= int(now.timestamp())
        )
        if not ((onchain.state == "pending" and expired) or disputed_over):
            what = "not expired yet" if onchain.state == "pending" else f"{onchain.state}"
            raise StateConflict("invalid_state", f"The escrow cannot be settled: it is {what}.", details)
        return
    if onchain.state != "pending":
        raise StateConflict("invalid_state", f"The escrow is {onchain.state} on chain; it cannot be {kind}ed.", details)
    if expired:
        raise StateConflict("escrow_expired", "The escrow has expired: only the refund can be claimed.", details)
    if kind == Kind.DISPUTE and not escrow.resolver_address:
        raise StateConflict("no_resolver", "This escrow names no dispute resolver, so it cannot be disputed.")


def escrow_transition_prepare(*, escrow: Escrow, user, kind: str) -> Prepared:
    """Prepare ``kind`` (accept, reject, cancel, dispute, refund) for the caller's wallet. ``escrow`` comes from
    ``escrow_get_for_user`` (others never get here: 404)."""
    allowed, function = TRANSITIONS[kind]
    roles = escrow_roles(escrow=escrow, user=user)
    if not roles & allowed:
        raise _refuse_role(kind, allowed)

    def build(locked: Escrow, client) -> tuple[str, bytes]:
        onchain = contract.escrow_read(client, contract=locked.deployment.address, onchain_id=locked.onchain_id)
        _check_state(locked, kind, onchain, chain_now(deployment=locked.deployment))
        return _signer_for(locked, roles, allowed), contract.calldata(function, contract.id_bytes(locked.onchain_id))

    return _prepare_locked(escrow=escrow, user=user, kind=kind, build=build)


def escrow_withdraw_prepare(*, escrow: Escrow, user, to: str | None = None) -> Prepared:
    """Prepare ``withdraw(token, to)`` for a party whose payout from this escrow was kept by the contract
    (``PaymentDeferred``: its address refused the transfer). ``to``: where it goes; default the party's wallet."""
    roles = escrow_roles(escrow=escrow, user=user)
    mine = {escrow.sender_address if role == "sender" else escrow.recipient_address for role in roles}
    deferred = [p["to"] for e in escrow.events.all() for p in e.args.get("deferred", []) if p["to"] in mine]
    if not roles:
        raise _refuse_role(Kind.WITHDRAW, {"sender", "recipient"})
    if not deferred:
        raise StateConflict("nothing_owed", "No payout of this escrow was kept for your wallet.")
    signer = deferred[0]
    target = client_for(chain(escrow.deployment.network)).validate_address(to) if to else signer
    if target.lower() in {ZERO, escrow.deployment.address.lower(), escrow.token_address.lower()}:
        raise InvalidInput("invalid_destination", "Withdraw to a wallet: not the zero, escrow or token address.")
    # AML (apps/kyc) outside the row lock: a hit's case must be committed, and screening may call a vendor.
    address_screen(user=user, address=target, chain_kind="evm", context="escrow_withdraw")

    def build(locked: Escrow, client) -> tuple[str, bytes]:
        owed = contract.owed_read(client, contract=locked.deployment.address, owner=signer, token=locked.token_address)
        if owed == 0:
            raise StateConflict("nothing_owed", "The contract holds nothing for your wallet any more: withdrawn.")
        return signer, contract.calldata("withdraw", locked.token_address, target)

    return _prepare_locked(escrow=escrow, user=user, kind=Kind.WITHDRAW, build=build)


def _prepare_locked(*, escrow: Escrow, user, kind: str, build) -> Prepared:
    """Under the escrow row lock: the open transition (a repeat of the same request gets it back, anything else
    is 409), then ``build(escrow, client) -> (signer, calldata)`` checks the chain and the call is prepared."""
    config = chain(escrow.deployment.network)
    with transaction.atomic():
        escrow = Escrow.objects.select_for_update(of=("self",)).select_related("deployment", "token").get(pk=escrow.pk)
        current = open_action(escrow=escrow)
        mine = current is not None and current.kind == kind and current.user_id == user.pk
        if current is not None and not (mine and current.status == EscrowAction.Status.PREPARED):
            raise StateConflict(
                "transition_in_progress",
                f"A {current.kind} of this escrow is already {current.status}; wait for it to settle.",
                {"action": current.kind, "status": current.status},
            )
        if escrow.status == Escrow.Status.AWAITING_SIGNATURE:
            raise StateConflict("not_on_chain", "The escrow is not on chain yet.", {"state": escrow.status})
        signer, data = build(escrow, client_for(config))
        if current is not None:
            if current.transactions[-1]["transaction"]["data"] == contract.hex_data(data):
                return Prepared(escrow=escrow, action=current, gas_estimate=None)  # the same request again
            current.status = EscrowAction.Status.SUPERSEDED  # the same caller changed its mind (another `to`)
            current.save(update_fields=["status", "updated_at"])
        prepared = calls_prepare(config=config, sender=signer, calls=[Call(kind, escrow.deployment.address, data)])
        try:
            with transaction.atomic():
                action = _action_create(escrow=escrow, kind=kind, user=user, signer=signer, steps=prepared.steps)
        except IntegrityError:  # cannot happen under the row lock; the constraint is the last line
            raise StateConflict("transition_in_progress", "Another transition of this escrow is open.") from None
    return Prepared(escrow=escrow, action=action, gas_estimate=prepared.gas_estimate)


def _expected(escrow: Escrow, action: EscrowAction, *, limit_usd: Decimal | None) -> list[ExpectedCall]:
    calls = []
    for step in action.transactions:
        tx = step["transaction"]
        approval = step["step"] == "approve"
        calls.append(
            ExpectedCall(
                to=tx["to"],
                data=bytes.fromhex(tx["data"][2:]),
                value=int(tx["value"], 16),
                type=ChainTransaction.Type.APPROVAL if approval else ChainTransaction.Type.ESCROW,
                asset=escrow.token.symbol if escrow.token_id else None,
                amount_base=int(escrow.amount_base),
                shown_to=escrow.deployment.address,
                limit_usd=limit_usd if step["step"] == "create" else None,
            )
        )
    return calls


# A lapsed preparation may still be signed late, and a failed or dropped transaction re-sent (a speed-up with
# higher fees): either reopens the transition when nothing else is open.
_RESUMABLE = (EscrowAction.Status.LAPSED, EscrowAction.Status.FAILED)


def escrow_action_submit(
    *,
    escrow: Escrow,
    user,
    signed_transactions: list[str] | None = None,
    tx_hashes: list[str] | None = None,
    own_wallet: bool = True,
) -> EscrowAction:
    """Send (or record, for hashes the wallet broadcast itself) the transactions signed for the escrow's open
    transition of this user, in order. Idempotent: the same transactions again change nothing."""
    with transaction.atomic():
        escrow = Escrow.objects.select_for_update(of=("self",)).select_related("deployment", "token").get(pk=escrow.pk)
        action = escrow.actions.filter(user=user).order_by("-created_at", "-id").first()
        if action is not None and _already_submitted(action, signed_transactions, tx_hashes):
            return action  # the same transactions again: nothing to do
        if action is None or action.status not in (*EscrowAction.OPEN_STATUSES, *_RESUMABLE):
            raise StateConflict("no_prepared_transition", "Nothing of yours is waiting for a signature on this escrow.")
        if action.status in _RESUMABLE and open_action(escrow=escrow) is not None:
            raise StateConflict("transition_in_progress", "Another transition of this escrow is open.")
    limit_usd = None
    if action.kind == Kind.CREATE:
        amount = from_base_units(int(escrow.amount_base), escrow.decimals)
        limit_usd = usd_value_for_limits(symbol=escrow.token.symbol, amount=amount)  # API escrows have a token
    expected = _expected(escrow, action, limit_usd=limit_usd)
    network, signer = escrow.deployment.network, action.signer_address
    hashes, main = list(action.tx_hashes), action.chain_transaction
    for signed in signed_transactions or []:
        record, _, call = contract_call_broadcast(
            user=user,
            network=network,
            signed_transaction=signed,
            expected=expected,
            signer=signer,
            own_wallet=own_wallet,
        )
        hashes, main = _note(hashes, main, record, call)
    for tx_hash in tx_hashes or []:
        record, _, call = contract_call_track(
            user=user, network=network, tx_hash=tx_hash, expected=expected, signer=signer, own_wallet=own_wallet
        )
        hashes, main = _note(hashes, main, record, call)
    with transaction.atomic():
        escrow = Escrow.objects.select_for_update().get(pk=escrow.pk)
        action = EscrowAction.objects.select_for_update().get(pk=action.pk)
        # Another submit of this action may have written in between (approve and create sent separately).
        action.tx_hashes = list(dict.fromkeys([*action.tx_hashes, *hashes]))
        action.chain_transaction = main or action.chain_transaction
        if action.status == EscrowAction.Status.PREPARED or (
            action.status in _RESUMABLE and open_action(escrow=escrow) is None
        ):
            action.status = EscrowAction.Status.SUBMITTED
            # An untracked submission (a token outside the registry) lapses only if nothing shows up by then.
            action.prepared_until = timezone.now() + timedelta(seconds=settings.ESCROW_ACTION_TTL_SECONDS)
        if action.status == EscrowAction.Status.SUBMITTED and escrow.events.filter(tx_hash__in=hashes).exists():
            action.status = EscrowAction.Status.DONE  # the indexer read its event while it was being sent
        action.save()
    return action


def _already_submitted(action: EscrowAction, signed: list[str] | None, hashes: list[str] | None) -> bool:
    given = [keccak(hexstr=raw).hex() for raw in signed or []] + [h.lower().removeprefix("0x") for h in hashes or []]
    known = {h.lower().removeprefix("0x") for h in action.tx_hashes}
    return bool(given) and all(h.removeprefix("0x") in known for h in given)


def _note(hashes: list[str], main, sent, call: ExpectedCall):
    """``sent``: the recorded transaction, or (for a token outside the registry) its bare hash."""
    tx_hash = sent if isinstance(sent, str) else sent.tx_hash
    if tx_hash not in hashes:
        hashes = [*hashes, tx_hash]
    if call.type != ChainTransaction.Type.APPROVAL and not isinstance(sent, str):
        main = sent
    return hashes, main
