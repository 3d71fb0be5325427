"""An enrolment's move from one tier to another, on record: set by staff, given at enrolment,
reached by its qualifying figure, kept from a merged enrolment, reviewed at the end of its
period (loyalty.services.tier_renewals), or lost when a return took back what had reached it.

A programme's tiers qualify on points earned by awards or on purchase spend, counted over its
window: its whole life (tiers never expire: how programmes behaved before tiers had windows), the
last 12 months, or the calendar year. With a window, a tier reached or renewed lasts a period:
`tier_period_months` with the rolling window, to the end of the year with the calendar year. The
lowest tier, which enrolment gives, never expires.
"""

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers import audit
from customers.models import AuditEvent

from ..choices import QUALIFYING_POINTS_KINDS, TierBasis, TierChangeReason, TierWindow
from ..models import Enrollment, PointsTransaction, Program
from ..returns import Clawback, Return
from ..side_effects import TierChanged
from ..tiers import Tier, TierChange
from ..transactions import Transaction

JUST_BEFORE = dt.timedelta(microseconds=1)


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


# --- the qualifying figure ---------------------------------------------------------------------


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same local time `months` later (earlier when negative); a day the month lacks becomes
    its last day (31 March + 1 month: 30 April)."""
    local = timezone.localtime(moment)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    return local.replace(
        year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1])
    )


def year_start(moment: dt.datetime) -> dt.datetime:
    """Midnight of 1 January of the (local) year `moment` is in."""
    return timezone.localtime(moment).replace(
        month=1, day=1, hour=0, minute=0, second=0, microsecond=0
    )


def qualifying_window_start(program: Program, end: dt.datetime) -> dt.datetime | None:
    """Where the programme's window that ends at `end` starts; it holds what happened after its
    start, up to and including `end`. None: the window is the programme's whole life.

    A calendar year ending at midnight of 1 January is the year just ended."""
    if program.tier_window == TierWindow.ROLLING_12_MONTHS:
        return add_months(end, -12)
    if program.tier_window == TierWindow.CALENDAR_YEAR:
        return year_start(end - JUST_BEFORE)
    return None


def qualifying_figure(
    enrollment: Enrollment, *, end: dt.datetime, before_return: Return | None = None
) -> int | Decimal:
    """What the enrolment's tiers are measured against in the window that ends at `end`: the
    points of its qualifying ledger rows (QUALIFYING_POINTS_KINDS), or the total of its customer's
    purchases that earned (by `occurred_at`), as its programme qualifies; less what returns took
    back of them. Two aggregate queries; none for lifetime points, which are the enrolment's
    running `points_earned` (returns take back from it too). With `before_return`: as it was
    before that return, which is recorded but has taken nothing back yet."""
    program = enrollment.program
    start = qualifying_window_start(program, end)
    if program.tier_basis == TierBasis.SPEND:
        purchases = Transaction.objects.filter(
            organization_id=program.organization_id,
            customer_id=enrollment.customer_id,
            earning_withheld="",
            occurred_at__lte=end,
        )
        if start is not None:
            purchases = purchases.filter(occurred_at__gt=start)
        spent = purchases.aggregate(total=Sum("total_amount"))["total"] or Decimal(0)
        returns = Return.objects.filter(purchase__in=purchases)
        if before_return is not None:
            returns = returns.exclude(pk=before_return.pk)
        returned = returns.aggregate(total=Sum("amount"))
        return spent - (returned["total"] or Decimal(0))
    if start is None:
        return enrollment.points_earned
    rows = PointsTransaction.objects.filter(
        enrollment=enrollment,
        kind__in=QUALIFYING_POINTS_KINDS,
        created_at__gt=start,
        created_at__lte=end,
    )
    earned = rows.aggregate(total=Sum("points"))["total"] or 0
    taken_back = Clawback.objects.filter(award__in=rows).aggregate(total=Sum("points"))["total"]
    return earned - (taken_back or 0)


def threshold_of(program: Program, tier: Tier) -> int | Decimal | None:
    """The figure that reaches `tier` in its programme; None: it is not reached automatically."""
    return tier.spend_threshold if program.tier_basis == TierBasis.SPEND else tier.points_threshold


def tier_reached(program: Program, tiers: list[Tier], figure: int | Decimal) -> Tier | None:
    """The highest of the programme's `tiers` (in number order) whose threshold `figure` reaches."""
    reached = None
    for tier in tiers:
        threshold = threshold_of(program, tier)
        if threshold is not None and threshold <= figure:
            reached = tier
    return reached


def tier_expiry(
    program: Program, tiers: list[Tier], tier: Tier | None, moment: dt.datetime
) -> dt.datetime | None:
    """When `tier`, reached or renewed at `moment`, expires: the end of its period; never for the
    lowest tier, nor in a programme without a window."""
    if tier is None or tier == tiers[0]:
        return None
    if program.tier_window == TierWindow.ROLLING_12_MONTHS:
        return add_months(moment, program.tier_period_months)
    if program.tier_window == TierWindow.CALENDAR_YEAR:
        return add_months(year_start(moment), 12)
    return None


# --- changes -----------------------------------------------------------------------------------


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
    purchase_return: Return | None = None,
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
        purchase_return=purchase_return,
        actor=str(actor),
    )
    side_effect = tier_changed(change) if tier is not None and tier != previous else None
    return TierMove(event, change, side_effect)


def tier_changed(change: TierChange) -> TierChanged:
    """The side effect of a change to a tier (not of one to none)."""
    return TierChanged(
        program_id=change.enrollment.program_id,
        from_tier=change.from_tier.number if change.from_tier else None,
        to_tier=change.to_tier.number,
        tier_name=change.to_tier.name,
    )


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
    move = tier_move(enrollment, tier, tier_expires_at, reason, actor, purchase, purchase_return)
    if move is None:
        return None
    enrollment.save(update_fields=["tier", "tier_expires_at", "updated_at"])
    move.event.save()
    move.change.save()
    return move.side_effect


def promotion(
    program: Program, tiers: list[Tier], figure: int | Decimal, tier: Tier | None
) -> Tier | None:
    """The highest of the programme's `tiers` (in number order) that `figure` reaches, if it is
    above `tier`: where an immediate upgrade goes."""
    reached = tier_reached(program, tiers, figure)
    if reached is None or (tier is not None and tier.number >= reached.number):
        return None
    return reached


def tier_floor_set(locked: Enrollment, tier: Tier | None, until: dt.datetime | None) -> None:
    """Make `tier` the locked enrolment's floor until `until` (no end: until it is set again)."""
    locked.tier_floor, locked.tier_floor_until = tier, until if tier else None
    locked.save(update_fields=["tier_floor", "tier_floor_until", "updated_at"])


def tier_floor_at(enrollment: Enrollment, moment: dt.datetime) -> Tier | None:
    """The tier set by staff that still holds at `moment`, if any."""
    until = enrollment.tier_floor_until
    return enrollment.tier_floor if until is None or until > moment else None


def promote(
    locked: Enrollment,
    actor: Actor,
    purchase: Transaction | None = None,
    *,
    now: dt.datetime | None = None,
) -> TierChanged | None:
    """Move up at once to the highest tier the qualifying figure reaches, until the end of that
    tier's period; never down (that waits for the end of the period)."""
    program = locked.program
    tiers = list(program.tiers.order_by("number"))
    current = locked.tier.number if locked.tier else 0
    if not any(t.number > current and threshold_of(program, t) is not None for t in tiers):
        return None
    now = now or timezone.now()
    reached = tier_reached(program, tiers, qualifying_figure(locked, end=now))
    if reached is None or reached.number <= current:
        return None
    expires_at = tier_expiry(program, tiers, reached, now)
    return change_tier(locked, reached, expires_at, TierChangeReason.THRESHOLD, actor, purchase)


def demote_after_return(
    locked: Enrollment,
    figure_before: int | Decimal,
    actor: Actor,
    purchase_return: Return,
    *,
    now: dt.datetime,
) -> TierChanged | None:
    """After a return took back points or spend (the qualifying figure was `figure_before`):
    when that had reached the tier's threshold and no longer does, move down to the highest
    lower tier still reached, else to the lowest tier; never below a tier set by staff that still
    holds. The period of the tier moved to stays as it was (the lowest tier never expires)."""
    tier = locked.tier
    program = locked.program
    threshold = threshold_of(program, tier) if tier else None
    if threshold is None or threshold > figure_before:
        return None
    figure = qualifying_figure(locked, end=now)
    if figure >= threshold:
        return None
    lower = [t for t in program.tiers.order_by("number") if t.number < tier.number]
    if not lower:
        return None
    target = tier_reached(program, lower, figure) or lower[0]
    floor = tier_floor_at(locked, now)
    if floor is not None and floor.number > target.number:
        target = floor
    if target.number >= tier.number:
        return None
    expires_at = None if target == lower[0] else locked.tier_expires_at
    return change_tier(
        locked,
        target,
        expires_at,
        TierChangeReason.RETURN,
        actor,
        purchase_return.purchase,
        purchase_return,
    )
