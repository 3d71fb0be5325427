"""SMS delivery, behind the SMS_BACKEND setting: a class with `send(to, body)`.

An outside provider plugs in as another such class; the default only writes to the log, so nothing
leaves the machine unless one is configured.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class LogSmsBackend:
    def send(self, to: str, body: str) -> None:
        logger.info("SMS to %s: %s", to, body)


def send_sms(to: str, body: str) -> None:
    import_string(settings.SMS_BACKEND)().send(to, body)
