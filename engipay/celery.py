"""The Celery app: configured from Django settings (``CELERY_*``), tasks discovered in each app's tasks.py."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engipay.settings")

app = Celery("engipay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _start_embedded_services(**_kwargs) -> None:
    from engipay.bootstrap import prepare

    prepare()
