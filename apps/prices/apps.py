from django.apps import AppConfig


class PricesConfig(AppConfig):
    name = "apps.prices"
    label = "prices"

    def ready(self) -> None:
        # Prices pushed by a configured sender (apps.webhooks, topic "prices").
        from apps.prices.webhook import prices_webhook_handle
        from apps.webhooks.registry import webhook_handler_register

        webhook_handler_register("prices", prices_webhook_handle)
