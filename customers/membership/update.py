"""Changing a customer with the enrolments and cards the change asks for, made at once or by a
background job once the change commits (that job is here too: it makes them by the same
change)."""

import logging

from django.db import transaction

from crm.actors import SYSTEM, Actor
from crm.background import background_task, enqueue
from crm.errors import DomainError
from customers.inputs import (
    CustomerInput,
    SourceAccountKey,
    enrollment_as_dict,
    enrollment_from_dict,
)
from customers.membership.enrolment import (
    MembershipResult,
    enrol_all,
    enrolments_check,
    programs_for,
    stamp_cards_for,
)
from customers.models import Customer
from customers.services.source_accounts import clean_source_key, source_account_record
from customers.services.update import customer_profile_update, refuse_registration_only
from customers.validation import clean_channels, clean_profile

logger = logging.getLogger(__name__)


def customer_update(
    *,
    customer: Customer,
    data: CustomerInput,
    actor: Actor = SYSTEM,
    loyalty_in_background: bool = False,
    in_source: SourceAccountKey | None = None,
) -> MembershipResult:
    """Change what `data` sets and nothing else; add channels, enrolments and cards it lists.

    Identifiers do not change here (see identifier_add/identifier_remove); a loyalty customer
    cannot become non-loyalty; enrolling in a programme twice is refused.

    A change sent through a source (`in_source`) is also kept, as a registration's is, on the
    customer's account there: its names and custom fields. A customer with no account there
    gets one (with a warning); see source_accounts.account_id_meant for which account is meant.

    With `loyalty_in_background`, enrolments and cards are checked now but made by a background
    job after the update commits; their side effects are then not reported.
    """
    refuse_registration_only(data)
    organization = customer.organization
    profile = clean_profile(organization, data.given())
    channels = clean_channels(organization, data.channels)
    programs = programs_for(organization, data)
    stamp_cards = stamp_cards_for(organization, data)
    source_key = clean_source_key(in_source) if in_source is not None else None
    # The customer's custom fields are merged into `profile`; the account merges what was sent.
    sent = dict(profile)
    with transaction.atomic():
        result = MembershipResult.of(customer_profile_update(customer, profile, channels, actor))
        if source_key is not None:
            source_account_record(customer, source_key, sent, actor, result)
        if loyalty_in_background:
            enrolments_check(customer, data, programs, stamp_cards)
            enqueue(
                enrol_task,
                customer.pk,
                [enrollment_as_dict(enrollment) for enrollment in data.enrollments],
                data.stamp_card_ids,
                actor.as_dict(),
            )
        else:
            enrol_all(customer, data, programs, stamp_cards, actor, result, skip_existing=False)
        if data.enrollments or data.stamp_card_ids:
            result.changed.append("enrollments")
    return result


# Named as when it was customers.tasks': jobs queued under that name still run.
@background_task(name="customers.tasks.enrol_task")
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
