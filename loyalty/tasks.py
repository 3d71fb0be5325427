"""Background jobs of loyalty (CELERY_BEAT_SCHEDULE in the settings): the hourly points expiry
and activation of pending points, and the daily end of tier periods."""

import logging

from crm.actors import SYSTEM
from crm.background import background_task

from .services.points import points_activate_due, points_expire_due
from .services.tier_renewals import tiers_renew_due

logger = logging.getLogger(__name__)


@background_task
def points_expire_task() -> None:
    expired = points_expire_due(actor=SYSTEM)
    logger.info("Expired %s points in %s lots", expired.points, expired.lots)


@background_task
def tiers_renew_task() -> None:
    renewals = tiers_renew_due(actor=SYSTEM)
    logger.info(
        "Tier periods ended: %s renewed, %s upgraded, %s downgraded",
        renewals.renewed,
        renewals.upgraded,
        renewals.downgraded,
    )


@background_task
def points_activate_task() -> None:
    activated = points_activate_due(actor=SYSTEM)
    logger.info("Activated %s pending points in %s lots", activated.points, activated.lots)
