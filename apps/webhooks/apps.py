from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = "Inbound webhooks"

    def ready(self) -> None:
        checks.register(webhook_settings_check, checks.Tags.security)


def webhook_settings_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """WEBHOOK_SOURCES and ALCHEMY_NETWORKS come from JSON in the environment: say at start-up what is wrong
    (a malformed source is otherwise just never accepted), and which tolerance is cut to the retention."""
    from apps.webhooks.signing import configuration_problems, tolerance_problems

    return [
        *(checks.Error(problem, id="webhooks.E001") for problem in configuration_problems()),
        *(checks.Warning(problem, id="webhooks.W001") for problem in tolerance_problems()),
    ]
