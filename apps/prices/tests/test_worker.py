"""The beat tasks run by a real Celery worker (its own process, on the test database and the session's anvil)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from apps.prices.models import AssetPrice

pytestmark = pytest.mark.django_db(transaction=True)  # the worker must see committed rows


def _wait(check, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_the_worker_ingests_an_on_chain_price(celery_worker, make_token, make_feed):
    from apps.prices.tasks import prices_ingest

    token = make_token("WKETH")  # no CoinGecko id: the worker never leaves the machine
    make_feed(token, Decimal("3333.25"))

    prices_ingest.delay(symbols=["WKETH"])

    assert _wait(lambda: AssetPrice.objects.filter(token=token).exists())
    row = AssetPrice.objects.get(token=token)
    assert (row.price_usd, row.source) == (Decimal("3333.25"), "chainlink:local")


def test_the_worker_moves_only_the_demo_feeds_it_owns(celery_worker, make_token, make_feed, anvil_w3):
    from apps.chains import devchain
    from apps.prices.tasks import prices_local_feeds_move

    ours = make_feed(make_token("WKMOVE"), Decimal("3000"))
    theirs = make_feed(make_token("WKOTHER"), Decimal("5"), owner_index=1)

    def answer(address: str) -> int:
        return devchain.feed_contract(anvil_w3, address).functions.latestRoundData().call()[1]

    def rounds(address: str) -> int:
        return devchain.feed_contract(anvil_w3, address).functions.latestRound().call()

    before = rounds(ours)
    prices_local_feeds_move.delay()

    assert _wait(lambda: rounds(ours) > before)
    moved = answer(ours)
    assert abs(moved - 3000 * 10**8) <= 3000 * 10**8 * 50 // 10_000  # one step of at most 0.5%
    assert rounds(theirs) == 2  # constructor + the test's stamp: untouched
    assert answer(theirs) == 5 * 10**8


def test_the_demo_feed_mover_does_nothing_on_another_chain(settings, anvil, make_token, make_feed):
    from apps.prices.demo_feeds import demo_feeds_move

    make_feed(make_token("WKPROD"), Decimal("1"))
    # The same node configured as a chain whose id is not 31337: never written to.
    settings.CHAINS = {"local": {"kind": "evm", "chain_id": 1, "rpc_urls": [anvil], "confirmations": 1}}
    assert demo_feeds_move() == {}


def test_beat_runs_the_price_tasks(settings):
    schedule = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["prices.ingest"]["schedule"] == settings.PRICE_INGEST_EVERY_SECONDS == 60
    assert schedule["prices.local_feeds_move"]["schedule"] == settings.PRICE_LOCAL_FEEDS_MOVE_EVERY_SECONDS
