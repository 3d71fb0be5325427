"""Background work: Celery with the broker at REDIS_URL.

Without REDIS_URL, tasks run eagerly, in process, when they are enqueued (see settings), so the
embedded default needs no broker and no worker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
