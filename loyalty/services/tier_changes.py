"""An enrolment's move from one tier to another, on record: set by staff, given at enrolment,
reached by points earned, or kept from a merged enrolment."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers import audit
from customers.models import AuditEvent

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


@dataclass
class TierMove:
    """A move of an enrolment from one tier to another, made on the enrolment in memory, with
    what records it, unsaved: its audit event and tier change; and its side effect, when the
    tier really changed."""

    event: AuditEvent
    change: TierChange
    side_effect: TierChanged | None


def tier_move(
    enrollment: Enrollment,
    tier: Tier | None,
    tier_expires_at: dt.datetime | None,
    reason: str,
    actor: Actor,
    purchase: Transaction | None = None,
) -> TierMove | None:
    """Move the enrolment to `tier` in memory (with the purchase that earned it, if one did);
    None when that changes nothing. change_tier writes it; a batch writes many at once."""
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
    event = audit.event(
        enrollment.customer, subject="enrollment", action=reason, changes=changes, actor=actor
    )
    change = TierChange(
        enrollment=enrollment,
        from_tier=previous,
        to_tier=tier,
        tier_expires_at=tier_expires_at,
        reason=reason,
        purchase=purchase,
        actor=str(actor),
    )
    side_effect = None
    if tier is not None and tier != previous:
        side_effect = TierChanged(
            program_id=enrollment.program_id,
            from_tier=previous.number if previous else None,
            to_tier=tier.number,
            tier_name=tier.name,
        )
    return TierMove(event, change, side_effect)


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
    move = tier_move(enrollment, tier, tier_expires_at, reason, actor, purchase)
    if move is None:
        return None
    enrollment.save(update_fields=["tier", "tier_expires_at", "updated_at"])
    move.event.save()
    move.change.save()
    return move.side_effect


def promotion(tiers: Iterable[Tier], points_earned: int, tier: Tier | None) -> Tier | None:
    """The highest of the programme's tiers whose points threshold `points_earned` reaches, if
    it is above `tier`."""
    reached = max(
        (
            t
            for t in tiers
            if t.points_threshold is not None and t.points_threshold <= points_earned
        ),
        key=lambda t: t.number,
        default=None,
    )
    if reached is None or (tier is not None and tier.number >= reached.number):
        return None
    return reached


def promote(
    locked: Enrollment, actor: Actor, purchase: Transaction | None = None
) -> TierChanged | None:
    """Move up to the highest tier whose points threshold the points earned have reached."""
    reached = promotion(
        locked.program.tiers.filter(points_threshold__lte=locked.points_earned),
        locked.points_earned,
        locked.tier,
    )
    if reached is None:
        return None
    return change_tier(locked, reached, None, TierChangeReason.THRESHOLD, actor, purchase)
