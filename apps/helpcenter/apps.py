from django.apps import AppConfig


class HelpcenterConfig(AppConfig):
    name = "apps.helpcenter"
    label = "helpcenter"
