"""Background jobs of the tenancy core."""

import logging

from crm.api.idempotency import purge_expired
from crm.background import background_task, pending_jobs_send

logger = logging.getLogger(__name__)


@background_task
def idempotency_keys_purge_task() -> None:
    logger.info("Purged %s idempotency records past their keeping time", purge_expired())


@background_task
def pending_jobs_send_task() -> None:
    pending_jobs_send()
