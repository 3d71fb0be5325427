"""Background jobs of loyalty: the hourly points expiry (CELERY_BEAT_SCHEDULE in the settings)."""

import logging

from crm.actors import SYSTEM
from crm.background import background_task

from .services.points import points_expire_due

logger = logging.getLogger(__name__)


@background_task
def points_expire_task() -> None:
    expired = points_expire_due(actor=SYSTEM)
    logger.info("Expired %s points in %s lots", expired.points, expired.lots)
