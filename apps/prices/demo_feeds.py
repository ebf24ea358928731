"""DEMO CHAIN ONLY: move the local anvil chain's demo price feeds so `make run` shows changing on-chain prices.

This acts only on an EVM chain whose configured id AND whose node's ``eth_chainId`` are 31337 (the local
development chain), and only on feeds that are ``DemoPriceFeed`` contracts owned by dev account #0 of the
public anvil mnemonic (``apps.chains.devchain``). On any real network it finds nothing to do. Real Chainlink
aggregators are never written to by this project.
"""

from __future__ import annotations

import logging
import random
from decimal import Decimal

import requests
from django.conf import settings
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from apps.chains import devchain
from apps.chains.clients import client_for
from apps.chains.models import PriceFeed
from apps.chains.registry import chains

from .sources.chainlink import answer_to_decimal

logger = logging.getLogger(__name__)

_FEED_ERRORS = (ContractLogicError, Web3Exception, requests.RequestException, TimeoutError, ValueError)


def demo_feed_next_answer(*, answer: int, anchor: int | None, max_step_bps: int, rng: random.Random) -> int:
    """A random step of at most ``max_step_bps``, pulled 5% of the way back to ``anchor`` so prices stay near it."""
    stepped = answer * (10_000 + rng.randint(-max_step_bps, max_step_bps)) // 10_000
    if anchor is not None:
        stepped += (anchor - answer) // 20
    return stepped if stepped > 0 else answer


def demo_feeds_move(*, max_step_bps: int | None = None, rng: random.Random | None = None) -> dict[str, Decimal]:
    """Move every demo feed on the local chain once; returns {symbol: new price}. A no-op on other chains."""
    rng = rng or random.Random()  # noqa: S311 - demo prices, not security
    step = settings.PRICE_LOCAL_FEEDS_MOVE_MAX_BPS if max_step_bps is None else max_step_bps
    moved: dict[str, Decimal] = {}
    for config in chains():
        if config.kind != "evm" or str(config.chain_id) != str(devchain.LOCAL_CHAIN_ID):
            continue
        client = client_for(config)
        if client.chain_id() != devchain.LOCAL_CHAIN_ID:
            logger.warning("Chain %s is configured as 31337 but its node says otherwise: not touched", config.key)
            continue
        feeds = PriceFeed.objects.filter(chain=config.key, is_active=True).select_related("token").order_by("pk")
        for feed in feeds:
            try:
                price = _move_one(client.w3(), feed=feed, max_step_bps=step, rng=rng)
            except _FEED_ERRORS as exc:
                logger.warning("Demo feed %s on %s not moved: %s", feed.address, config.key, exc)
                continue
            if price is not None:
                moved[feed.token.symbol] = price
    return moved


def _move_one(w3: Web3, *, feed: PriceFeed, max_step_bps: int, rng: random.Random) -> Decimal | None:
    owner = devchain.dev_account(0)
    contract = devchain.feed_contract(w3, feed.address)
    if contract.functions.owner().call() != owner.address:
        return None  # not a feed we deployed: leave it alone
    decimals = contract.functions.decimals().call()
    answer = contract.functions.latestRoundData().call()[1]
    demo_price = devchain.DEMO_FEED_PRICES.get(feed.token.symbol)
    anchor = int(demo_price.scaleb(decimals)) if demo_price is not None else None
    if demo_price == 1:
        max_step_bps //= 10  # stablecoins wobble around their peg instead of wandering off it
    new_answer = demo_feed_next_answer(answer=answer, anchor=anchor, max_step_bps=max_step_bps, rng=rng)
    data = contract.functions.updateAnswer(new_answer).build_transaction({"from": owner.address, "gas": 200_000})
    devchain.send(w3, owner, {"to": contract.address, "data": data["data"], "gas": 200_000})
    return answer_to_decimal(new_answer, decimals)
