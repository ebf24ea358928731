from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from apps.chains.models import Token
from apps.prices.models import AssetPrice


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"TK{n}")
    name = factory.LazyAttribute(lambda o: f"{o.symbol} test token")
    coingecko_id = ""
    price_stale_after_seconds = 3600


class AssetPriceFactory(factory.django.DjangoModelFactory):
    """A stored price as the ingestion would have written it (for history and staleness set-ups)."""

    class Meta:
        model = AssetPrice

    token = factory.SubFactory(TokenFactory)
    price_usd = Decimal("100")
    source = "coingecko"
    observed_at = factory.LazyFunction(timezone.now)
