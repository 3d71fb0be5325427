import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.config.settings")
application = get_wsgi_application()

# Once per web process (gunicorn worker, runserver): how background jobs will run here.
from crm.background import background_mode  # noqa: E402 - needs the settings loaded above

logging.getLogger("crm").info(background_mode())
