"""An enrolment's move from one tier to another, on record: set by staff, given at enrolment,
reached by points earned, kept from a merged enrolment, or lost when a return took back the points
that had reached it."""

import datetime as dt

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers import audit

from ..choices import TierChangeReason
from ..models import Enrollment, Program, Tier, TierChange
from ..returns import Return
from ..side_effects import TierChanged
from ..transactions import Transaction


def find_tier(program: Program, number: int | None, *, field: str) -> Tier | None:
    tiers = program.tiers.order_by("number")
    if number is None:
        return tiers.first()
    tier = tiers.filter(number=number).first()
    if tier is None:
        raise DomainError(
            ErrorCode.TIER_UNKNOWN, f"{program.name!r} has no tier number {number}.", field=field
        )
    return tier


def change_tier(
    enrollment: Enrollment,
    tier: Tier | None,
    tier_expires_at: dt.datetime | None,
    reason: str,
    actor: Actor,
    purchase: Transaction | None = None,
    purchase_return: Return | None = None,
) -> TierChanged | None:
    """Move the enrolment to `tier`, on record (with the purchase that earned it, or the return
    that took it away, if one did); the side effect when the tier really changed."""
    previous = enrollment.tier
    tier_expires_at = tier_expires_at if tier else None
    if tier == previous and tier_expires_at == enrollment.tier_expires_at:
        return None
    changes = {f"{enrollment.program.name}: tier": (previous, tier)}
    if tier_expires_at != enrollment.tier_expires_at:
        changes[f"{enrollment.program.name}: tier expires"] = (
            enrollment.tier_expires_at,
            tier_expires_at,
        )
    enrollment.tier = tier
    enrollment.tier_expires_at = tier_expires_at
    enrollment.save(update_fields=["tier", "tier_expires_at", "updated_at"])
    audit.record(
        enrollment.customer, subject="enrollment", action=reason, changes=changes, actor=actor
    )
    TierChange.objects.create(
        enrollment=enrollment,
        from_tier=previous,
        to_tier=tier,
        tier_expires_at=enrollment.tier_expires_at,
        reason=reason,
        purchase=purchase,
        purchase_return=purchase_return,
        actor=str(actor),
    )
    if tier is None or tier == previous:
        return None
    return TierChanged(
        program_id=enrollment.program_id,
        from_tier=previous.number if previous else None,
        to_tier=tier.number,
        tier_name=tier.name,
    )


def promote(
    locked: Enrollment, actor: Actor, purchase: Transaction | None = None
) -> TierChanged | None:
    """Move up to the highest tier whose points threshold the points earned have reached."""
    reached = (
        locked.program.tiers.filter(points_threshold__lte=locked.points_earned)
        .order_by("-number")
        .first()
    )
    if reached is None or (locked.tier is not None and locked.tier.number >= reached.number):
        return None
    return change_tier(locked, reached, None, TierChangeReason.THRESHOLD, actor, purchase)


def demote_after_return(
    locked: Enrollment, earned_before: int, actor: Actor, purchase_return: Return
) -> TierChanged | None:
    """After a return took back points earned (from `earned_before`): when they had reached the
    tier's threshold and no longer do, move down to the highest lower tier whose threshold they
    still reach, else to the lowest tier."""
    tier = locked.tier
    threshold = tier.points_threshold if tier else None
    if threshold is None or not locked.points_earned < threshold <= earned_before:
        return None
    lower = locked.program.tiers.filter(number__lt=tier.number).order_by("-number")
    target = lower.filter(points_threshold__lte=locked.points_earned).first() or lower.last()
    if target is None:
        return None
    return change_tier(
        locked,
        target,
        None,
        TierChangeReason.RETURN,
        actor,
        purchase_return.purchase,
        purchase_return,
    )
