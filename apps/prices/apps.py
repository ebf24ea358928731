from django.apps import AppConfig


class PricesConfig(AppConfig):
    name = "apps.prices"
    label = "prices"
