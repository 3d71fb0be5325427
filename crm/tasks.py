"""Background jobs of the tenancy core."""

import logging

from celery import shared_task

from crm.api.idempotency import purge_expired

logger = logging.getLogger(__name__)


@shared_task
def idempotency_keys_purge_task() -> None:
    logger.info("Purged %s idempotency records past their keeping time", purge_expired())
