"""The loyalty side of merging two customers: the merged customer's enrolments, cards, coupons
and card link deliveries go to the survivor, and where both have one, the two are combined."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm.actors import Actor
from customers.models import Customer

from ..choices import CardStatus, PointsKind, StampKind, TierChangeReason
from ..models import CardLinkDelivery, Coupon, CustomerCard, Enrollment, PointsLot
from ..side_effects import TierChanged
from ..transactions import Transaction
from .points import append_points, lot_add, lots_take
from .stamps import append_stamps
from .tier_changes import change_tier, promote


@transaction.atomic
def enrollment_absorb(
    *, survivor: Enrollment, merged: Enrollment, actor: Actor
) -> TierChanged | None:
    """Move what remains of `merged`'s points into `survivor` (same programme), lot by lot so
    that each keeps its expiry (and a pending lot its pending time), and its debt, if it owes
    points; both ledgers say so. The survivor counts the merged enrolment's earned points too,
    and keeps the higher of the two tiers."""
    first, second = sorted([survivor, merged], key=lambda e: e.pk)
    locked = {
        e.pk: e
        for e in Enrollment.objects.select_for_update(of=("self",))
        .select_related("program", "customer", "tier")
        .filter(pk__in=[first.pk, second.pk])
        .order_by("pk")
    }
    into, out_of = locked[survivor.pk], locked[merged.pk]
    if into.program_id != out_of.program_id:
        raise ValueError("enrolments of different programmes cannot be combined")
    for lot in out_of.lots.filter(remaining__gt=0).order_by(
        F("expires_at").asc(nulls_last=True), "pk"
    ):
        pending = lot.pending_until is not None
        append_points(
            out_of,
            kind=PointsKind.TRANSFER_OUT,
            points=-lot.remaining,
            actor=actor,
            pending=pending,
            reason=f"Merged into {into.customer.public_id}",
        )
        PointsLot.objects.filter(pk=lot.pk).update(remaining=0)
        row = append_points(
            into,
            kind=PointsKind.TRANSFER_IN,
            points=lot.remaining,
            actor=actor,
            pending=pending,
            reason=f"Merged from {out_of.customer.public_id}",
            expires_at=lot.expires_at,
            activates_at=lot.pending_until,
        )
        lot_add(into, row, expires_at=lot.expires_at, pending_until=lot.pending_until)
    if out_of.points_balance < 0:
        debt = -out_of.points_balance
        append_points(
            out_of,
            kind=PointsKind.TRANSFER_IN,
            points=debt,
            actor=actor,
            reason=f"Debt moved to {into.customer.public_id}",
        )
        append_points(
            into,
            kind=PointsKind.TRANSFER_OUT,
            points=-debt,
            actor=actor,
            reason=f"Debt moved from {out_of.customer.public_id}",
        )
        lots_take(into, debt)
    if out_of.points_earned:
        Enrollment.objects.filter(pk=into.pk).update(
            points_earned=F("points_earned") + out_of.points_earned
        )
        into.points_earned += out_of.points_earned
    if out_of.tier is not None and (into.tier is None or out_of.tier.number > into.tier.number):
        return change_tier(into, out_of.tier, out_of.tier_expires_at, TierChangeReason.MERGE, actor)
    return promote(into, actor)


@transaction.atomic
def card_absorb(*, survivor: CustomerCard, merged: CustomerCard, actor: Actor) -> None:
    """Move `merged`'s stamps onto `survivor` (same stamp card), on both ledgers, and retire
    the merged card."""
    first, second = sorted([survivor, merged], key=lambda c: c.pk)
    locked = {
        c.pk: c
        for c in CustomerCard.objects.select_for_update(of=("self",))
        .select_related("stamp_card", "customer")
        .filter(pk__in=[first.pk, second.pk])
        .order_by("pk")
    }
    into, out_of = locked[survivor.pk], locked[merged.pk]
    if into.stamp_card_id != out_of.stamp_card_id:
        raise ValueError("cards of different stamp cards cannot be combined")
    if out_of.stamps:
        moved = out_of.stamps
        append_stamps(
            out_of,
            stamps=-moved,
            actor=actor,
            kind=StampKind.ADJUST,
            reason=f"Merged into card {into.code}",
        )
        append_stamps(
            into,
            stamps=moved,
            actor=actor,
            kind=StampKind.ADJUST,
            reason=f"Merged from card {out_of.code}",
        )
    CustomerCard.objects.filter(pk=out_of.pk).update(
        status=CardStatus.INACTIVE, updated_at=timezone.now()
    )


def loyalty_merge(*, survivor: Customer, merged: Customer, actor: Actor) -> None:
    """Give `merged`'s enrolments, cards (with the deliveries of their links), coupons and
    purchases to `survivor`; an enrolment in a programme, or a card of a stamp card, the survivor
    has too is combined with the survivor's. The caller holds both customers locked."""
    enrolled = {e.program_id: e for e in survivor.enrollments.all()}
    for enrollment in merged.enrollments.all():
        same = enrolled.get(enrollment.program_id)
        if same is None:
            Enrollment.objects.filter(pk=enrollment.pk).update(customer=survivor)
        else:
            enrollment_absorb(survivor=same, merged=enrollment, actor=actor)
    carded = {c.stamp_card_id: c for c in survivor.cards.all()}
    for card in merged.cards.all():
        same = carded.get(card.stamp_card_id)
        if same is None:
            CustomerCard.objects.filter(pk=card.pk).update(customer=survivor)
            CardLinkDelivery.objects.filter(card=card).update(customer=survivor)
        else:
            card_absorb(survivor=same, merged=card, actor=actor)
    Coupon.objects.filter(customer=merged).update(customer=survivor)
    Transaction.objects.filter(customer=merged).update(customer=survivor)
