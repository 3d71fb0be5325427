"""Background work: Celery with the broker at REDIS_URL.

With BACKGROUND_INLINE (the default without REDIS_URL or with DEBUG), tasks run eagerly, in
process, when they are enqueued, so the embedded default needs no broker and no worker; see
crm/background.py for how jobs are enqueued, retried and kept while the broker is down.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.config.settings")

app = Celery("crm")
# The app of every thread, so that crm.background and shared tasks publish with this configuration
# from any thread, not only from the one that imported this module.
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The enrolment job lives with the customer update that enqueues it, not in a tasks module.
app.autodiscover_tasks(["customers.membership"], related_name="update")
