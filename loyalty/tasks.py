"""Background jobs: loyalty work that a caller asked to run later, and the points expiry.

Each job looks its objects up again and calls the same service the request would have called.
A job whose input no longer holds (a card made inactive meanwhile, say) is logged and dropped:
running it again would fail the same way.
"""

import logging

from celery import shared_task
from django.db import transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError

from . import services
from .models import CustomerCard, Enrollment

logger = logging.getLogger(__name__)


def enqueue(task, *args) -> None:
    """Send the job once the current transaction commits, so it sees what the caller wrote."""
    transaction.on_commit(lambda: task.delay(*args))


@shared_task
def stamps_add_task(card_id: int, stamps: int, reason: str, actor: dict) -> None:
    card = CustomerCard.objects.select_related("organization").get(pk=card_id)
    try:
        services.stamps_add(
            organization=card.organization,
            card=card,
            stamps=stamps,
            reason=reason,
            actor=Actor(**actor),
        )
    except DomainError as error:
        logger.warning("Stamps for card %s not added: %s", card.code, error.message)


@shared_task
def points_award_task(
    enrollment_id: int, points: int, reason: str, reference: str | None, actor: dict
) -> None:
    enrollment = Enrollment.objects.select_related("program__organization").get(pk=enrollment_id)
    try:
        services.points_award(
            organization=enrollment.program.organization,
            enrollment=enrollment,
            points=points,
            reason=reason,
            reference=reference,
            actor=Actor(**actor),
        )
    except DomainError as error:
        logger.warning("Points for enrolment %s not awarded: %s", enrollment_id, error.message)


@shared_task
def card_links_send_task(card_id: int, actor: dict) -> None:
    card = CustomerCard.objects.select_related("organization", "stamp_card", "customer").get(
        pk=card_id
    )
    services.card_links_send(organization=card.organization, card=card, actor=Actor(**actor))


@shared_task
def points_expire_task() -> None:
    expired = services.points_expire_due(actor=SYSTEM)
    logger.info("Expired %s points in %s lots", expired.points, expired.lots)
