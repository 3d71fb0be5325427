"""Background jobs for customers: enrolments a caller asked to make after its update
(customer_update with loyalty_in_background, from Capillary's `use_async`)."""

import logging

from crm.actors import Actor
from crm.background import background_task
from crm.errors import DomainError

from .inputs import CustomerInput, enrollment_from_dict
from .models import Customer
from .services import customer_update

logger = logging.getLogger(__name__)


@background_task
def enrol_task(customer_id: int, enrollments: list[dict], stamp_card_ids: list[int], actor: dict):
    """Make the enrolments and cards checked when the job was enqueued. One that no longer holds
    (made meanwhile, by an earlier run of this job too) is logged and dropped."""
    customer = Customer.objects.select_related("organization").get(pk=customer_id)
    try:
        customer_update(
            customer=customer,
            data=CustomerInput(
                enrollments=[enrollment_from_dict(data) for data in enrollments],
                stamp_card_ids=stamp_card_ids,
            ),
            actor=Actor(**actor),
        )
    except DomainError as error:
        logger.warning("Enrolments of customer %s not made: %s", customer_id, error.message)
