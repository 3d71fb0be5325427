"""Background jobs of loyalty: the hourly points expiry and activation of pending points
(CELERY_BEAT_SCHEDULE in the settings)."""

import logging

from crm.actors import SYSTEM
from crm.background import background_task

from .services.points import points_activate_due, points_expire_due

logger = logging.getLogger(__name__)


@background_task
def points_expire_task() -> None:
    expired = points_expire_due(actor=SYSTEM)
    logger.info("Expired %s points in %s lots", expired.points, expired.lots)


@background_task
def points_activate_task() -> None:
    activated = points_activate_due(actor=SYSTEM)
    logger.info("Activated %s pending points in %s lots", activated.points, activated.lots)
