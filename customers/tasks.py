"""Background jobs for customers: enrolments a caller asked to make after its update."""

from celery import shared_task

from crm.actors import Actor

from .inputs import CustomerInput, enrollment_from_dict
from .models import Customer
from .services import customer_update


@shared_task
def enrol_task(customer_id: int, enrollments: list[dict], stamp_card_ids: list[int], actor: dict):
    customer = Customer.objects.select_related("organization").get(pk=customer_id)
    customer_update(
        customer=customer,
        data=CustomerInput(
            enrollments=[enrollment_from_dict(data) for data in enrollments],
            stamp_card_ids=stamp_card_ids,
        ),
        actor=Actor(**actor),
    )
