from django.apps import AppConfig


class EscrowConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.escrow"
    verbose_name = "Escrow"

    def ready(self) -> None:
        # The chain tracker (a lower app) runs the indexer on every new head through its hook registry.
        from apps.chains.heads import head_hook_register
        from apps.escrow.services import indexer

        head_hook_register(indexer.escrow_index_on_head)
