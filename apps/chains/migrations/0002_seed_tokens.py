"""The assets EngiPay knows (DESIGN.md section 3: one registry). Deployments per chain and price feeds are
added by the admin, fixtures, or `manage.py chain_setup_local` for the development chain."""

from django.db import migrations

TOKENS = [
    ("ETH", "Ethereum", "ethereum"),
    ("BTC", "Bitcoin", "bitcoin"),
    ("STRK", "Starknet", "starknet"),
    ("USDC", "USD Coin", "usd-coin"),
    ("USDT", "Tether", "tether"),
    ("DAI", "Dai", "dai"),
    ("WBTC", "Wrapped Bitcoin", "wrapped-bitcoin"),
]


def seed(apps, schema_editor):
    Token = apps.get_model("chains", "Token")
    for symbol, name, coingecko_id in TOKENS:
        Token.objects.get_or_create(symbol=symbol, defaults={"name": name, "coingecko_id": coingecko_id})


class Migration(migrations.Migration):
    dependencies = [("chains", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
