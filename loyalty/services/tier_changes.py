"""An enrolment's move from one tier to another, on record: set by staff, given at enrolment,
reached by points earned, or kept from a merged enrolment."""

import datetime as dt

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers import audit

from ..choices import TierChangeReason
from ..models import Enrollment, Program, Tier, TierChange
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
) -> TierChanged | None:
    """Move the enrolment to `tier`, on record (with the purchase that earned it, if one did);
    the side effect when the tier really changed."""
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
