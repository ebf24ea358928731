from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "apps.transactions"
    label = "transactions"

    def ready(self) -> None:
        # Blockchain webhooks (apps.webhooks) are hints to re-read our transactions from the chain.
        from apps.transactions.webhook import blockchain_webhook_handle
        from apps.webhooks.registry import webhook_handler_register

        webhook_handler_register("blockchain", blockchain_webhook_handle)
