import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.config.settings")
application = get_asgi_application()

# Once per web process: how background jobs will run here.
from crm.background import background_mode  # noqa: E402 - needs the settings loaded above

logging.getLogger("crm").info(background_mode())
