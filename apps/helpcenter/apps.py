from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save

from engipay import edge_cache


class HelpcenterConfig(AppConfig):
    name = "apps.helpcenter"
    label = "helpcenter"

    def ready(self) -> None:
        from . import services
        from .models import Article, Category

        for model in (Article, Category):
            post_save.connect(services.content_changed, sender=model, dispatch_uid=f"helpcenter-{model.__name__}-s")
            post_delete.connect(services.content_changed, sender=model, dispatch_uid=f"helpcenter-{model.__name__}-d")
        m2m_changed.connect(services.content_changed, sender=Article.related.through, dispatch_uid="helpcenter-rel")
        # The public article list (search) is answered from the edge cache while its content version holds.
        edge_cache.register(
            "/api/help/articles", ttl=services.LIST_CACHE_SECONDS, version_key=services.CONTENT_VERSION_KEY
        )
