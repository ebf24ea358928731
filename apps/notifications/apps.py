from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Registers the web push and SMS configuration checks (system checks run at start-up and in `check`).
        from . import vapid  # noqa: F401
        from .channels import sms  # noqa: F401
