"""Chainlink AggregatorV3 feeds read on-chain: ``decimals()`` and ``latestRoundData()`` of every active feed of a
chain in ONE ``eth_call`` (Multicall3 ``aggregate3``), per configured EVM chain.

Freshness (heartbeat ``PriceFeed.stale_after_seconds``, answer > 0) is applied by the ingestion, which sees
``Quote.max_age_seconds``; answers the contract could not give, or stamped in the future, are dropped here.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

from django.utils import timezone
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3

from apps.chains.clients import client_for
from apps.chains.models import PriceFeed, Token
from apps.chains.registry import ChainConfig, chains
from engipay.api.errors import ApplicationError

from .base import Quote

logger = logging.getLogger(__name__)

_DECIMALS = function_signature_to_4byte_selector("decimals()")
_LATEST_ROUND_DATA = function_signature_to_4byte_selector("latestRoundData()")
_ROUND_TYPES = ["uint80", "int256", "uint256", "uint256", "uint80"]
# Block timestamps may run a little ahead of our clock; an answer further in the future is not believed.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def answer_to_decimal(answer: int, decimals: int) -> Decimal:
    with localcontext(prec=100):  # the default 28 digits would round a large int256
        return Decimal(answer).scaleb(-decimals)


class ChainlinkSource:
    name = "chainlink"

    def fetch(self, tokens: list[Token]) -> list[Quote]:
        by_id = {token.pk: token for token in tokens}
        evm = {config.key: config for config in chains() if config.kind == "evm"}
        grouped: dict[str, list[PriceFeed]] = defaultdict(list)
        feeds = PriceFeed.objects.filter(token_id__in=by_id, chain__in=evm, is_active=True).order_by("pk")
        for feed in feeds:
            grouped[feed.chain].append(feed)
        quotes: list[Quote] = []
        failures: list[ApplicationError] = []
        for key in evm:  # configured order: the first chain's answer for a token is tried first
            if not grouped.get(key):
                continue
            try:
                quotes.extend(self.read_chain(evm[key], grouped[key], by_id))
            except ApplicationError as exc:
                logger.warning("Chainlink feeds on %s not read: %s", key, exc.message)
                failures.append(exc)
        if failures and not quotes:
            raise failures[0]
        return quotes

    def read_chain(self, config: ChainConfig, feeds: list[PriceFeed], tokens: dict[int, Token]) -> list[Quote]:
        calls = []
        for feed in feeds:
            address = Web3.to_checksum_address(feed.address)
            calls += [(address, True, _DECIMALS), (address, True, _LATEST_ROUND_DATA)]
        results = client_for(config).aggregate3(calls)
        latest_allowed = timezone.now() + MAX_CLOCK_SKEW
        quotes = []
        for feed, (decimals_ok, decimals_raw), (round_ok, round_raw) in zip(
            feeds, results[0::2], results[1::2], strict=True
        ):
            if not (decimals_ok and round_ok and len(decimals_raw) == 32 and len(round_raw) == 160):
                logger.warning("Chainlink feed %s on %s gave no answer", feed.address, config.key)
                continue
            (decimals,) = decode(["uint8"], decimals_raw)
            _round_id, answer, _started_at, updated_at, _answered_in = decode(_ROUND_TYPES, round_raw)
            if updated_at > latest_allowed.timestamp():
                logger.warning("Chainlink feed %s on %s is stamped in the future", feed.address, config.key)
                continue
            token = tokens[feed.token_id]
            quotes.append(
                Quote(
                    token_id=token.pk,
                    symbol=token.symbol,
                    price_usd=answer_to_decimal(answer, decimals),
                    observed_at=datetime.fromtimestamp(updated_at, tz=UTC),
                    source=f"chainlink:{config.key}",
                    max_age_seconds=feed.stale_after_seconds,
                )
            )
        return quotes
