from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


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
