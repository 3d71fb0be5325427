"""Background work: Celery with the broker at REDIS_URL.

With BACKGROUND_INLINE (the default without REDIS_URL or with DEBUG), tasks run eagerly, in
process, when they are enqueued, so the embedded default needs no broker and no worker; see
crm/background.py for how jobs are enqueued, retried and kept while the broker is down.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The enrolment job lives with the customer update that enqueues it, not in a tasks module.
app.autodiscover_tasks(["customers.membership"], related_name="update")
