from __future__ import annotations

import factory

from apps.accounts.models import User
from apps.chains.models import Token
from apps.transactions.models import ChainTransaction


class UserFactory(factory.django.DjangoModelFactory):
    """An email user with no wallet (wallet users come from the ``make_user`` fixture's real sign-in)."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token
        django_get_or_create = ("symbol",)

    symbol = "ETH"
    name = "Ether"


class ChainTransactionFactory(factory.django.DjangoModelFactory):
    """A transaction as the tracker leaves it once confirmed."""

    class Meta:
        model = ChainTransaction

    user = factory.SubFactory(UserFactory)
    network = "local"
    tx_hash = factory.Sequence(lambda n: "0x" + f"{n:064x}")
    status = ChainTransaction.Status.CONFIRMED
    from_address = "0x71C7656EC7ab88b098defB751B7401B5f6d8976F"
    to_address = "0x000000000000000000000000000000000000dEaD"
    asset = factory.SubFactory(TokenFactory)
    decimals = 18
    amount_base = 10**17
