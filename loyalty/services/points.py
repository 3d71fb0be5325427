"""Points: awarded as lots that may expire, deducted from the lots that expire first, expired,
and given for referrals.

The balance and the lots change only together with the ledger row that explains them, under a row
lock on the enrolment, so concurrent calls never lose an update or overdraw.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers import audit
from customers.closure import customer_is_closed, customer_refuse_closed
from customers.models import AuditEvent, Customer
from customers.services.registration import ServiceWarning
from customers.services.status_labels import blocked_by, may_earn

from ..choices import PointsKind
from ..models import Enrollment, PointsLot, PointsTransaction
from ..side_effects import PointsAwarded, SideEffect
from .common import lock_enrollment, refuse_earning_blocked, refuse_spending_blocked
from .tier_changes import promote

MAX_POINTS = 10**12  # per call: far beyond any real award, well inside a 64-bit balance


@dataclass
class PointsResult:
    transaction: PointsTransaction
    side_effects: list[SideEffect] = field(default_factory=list)


def points_event(
    locked: Enrollment, *, kind: str, points: int, reason: str | None, actor: Actor
) -> AuditEvent:
    """The (unsaved) audit event of `points` written on the enrolment, from its balance now."""
    changes = {
        f"{locked.program.name}: points": (locked.points_balance, locked.points_balance + points)
    }
    if reason:
        changes["reason"] = (None, reason)
    return audit.event(locked.customer, subject="points", action=kind, changes=changes, actor=actor)


def append_points(locked: Enrollment, *, kind: str, points: int, actor: Actor, **extra):
    """Write a ledger row of `points` on the locked enrolment, on record, and move its balance
    (and, for an award, its points earned) by as much."""
    row = PointsTransaction.objects.create(
        enrollment=locked, kind=kind, points=points, actor=str(actor), **extra
    )
    points_event(locked, kind=kind, points=points, reason=extra.get("reason"), actor=actor).save()
    earned = points if kind == PointsKind.AWARD else 0
    Enrollment.objects.filter(pk=locked.pk).update(
        points_balance=F("points_balance") + points,
        points_earned=F("points_earned") + earned,
        updated_at=timezone.now(),
    )
    locked.points_balance += points
    locked.points_earned += earned
    return row


def _check_amount(points: int, reference: str | None, locked: Enrollment) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
        raise DomainError(
            ErrorCode.AMOUNT_INVALID,
            f"Points must be a whole number from 1 to {MAX_POINTS}.",
            field="points",
        )
    if reference is not None and locked.points_transactions.filter(reference=reference).exists():
        raise DomainError(
            ErrorCode.DUPLICATE_REFERENCE,
            f"Reference {reference!r} was already used for this enrolment.",
            field="reference",
        )


@dataclass
class Expired:
    lots: int = 0
    points: int = 0


def _expire_due_lots(locked: Enrollment, now: dt.datetime, actor: Actor) -> Expired:
    """Write an expiry row for what remains of each lot past its expiry."""
    expired = Expired()
    for lot in locked.lots.filter(remaining__gt=0, expires_at__lte=now).order_by("expires_at"):
        append_points(
            locked,
            kind=PointsKind.EXPIRE,
            points=-lot.remaining,
            actor=actor,
            reason="Points expired",
            expired_lot=lot,
        )
        PointsLot.objects.filter(pk=lot.pk).update(remaining=0)
        expired.lots += 1
        expired.points += lot.remaining
    return expired


@transaction.atomic
def points_award(
    *,
    organization: Organization,
    enrollment: Enrollment,
    points: int,
    reason: str = "",
    reference: str | None = None,
    expires_at: dt.datetime | None = None,
    actor: Actor,
) -> PointsResult:
    """Award points as a new lot (expiring at `expires_at`, if given); a reference pays once.
    Refused to a customer whose status label blocks earning."""
    locked = lock_enrollment(organization, enrollment)
    customer_refuse_closed(locked.customer)
    refuse_earning_blocked(locked.customer)
    _check_amount(points, reference, locked)
    row = append_points(
        locked,
        kind=PointsKind.AWARD,
        points=points,
        actor=actor,
        reason=reason,
        reference=reference,
        expires_at=expires_at,
    )
    PointsLot.objects.create(
        enrollment=locked, award=row, points=points, remaining=points, expires_at=expires_at
    )
    result = PointsResult(
        row,
        [
            PointsAwarded(
                customer_id=locked.customer.public_id,
                program_id=locked.program_id,
                points=points,
                reason=reason,
            )
        ],
    )
    promoted = promote(locked, actor)
    if promoted:
        result.side_effects.append(promoted)
    enrollment.refresh_from_db(
        fields=["points_balance", "points_earned", "tier", "tier_expires_at", "updated_at"]
    )
    return result


@transaction.atomic
def points_deduct(
    *,
    organization: Organization,
    enrollment: Enrollment,
    points: int,
    reason: str = "",
    reference: str | None = None,
    actor: Actor,
) -> PointsResult:
    """Spend points from the lots that expire first; never more than the unexpired balance.
    Refused to a customer whose status label blocks spending."""
    locked = lock_enrollment(organization, enrollment)
    customer_refuse_closed(locked.customer)
    refuse_spending_blocked(locked.customer)
    _check_amount(points, reference, locked)
    _expire_due_lots(locked, timezone.now(), actor)
    if locked.points_balance < points:
        raise DomainError(
            ErrorCode.INSUFFICIENT_POINTS,
            f"The balance is {locked.points_balance} points; {points} cannot be deducted.",
            field="points",
        )
    row = append_points(
        locked,
        kind=PointsKind.DEDUCT,
        points=-points,
        actor=actor,
        reason=reason,
        reference=reference,
    )
    to_spend = points
    lots = locked.lots.filter(remaining__gt=0).order_by(F("expires_at").asc(nulls_last=True), "pk")
    for lot in lots:
        spent = min(lot.remaining, to_spend)
        PointsLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - spent)
        to_spend -= spent
        if not to_spend:
            break
    enrollment.refresh_from_db(fields=["points_balance", "points_earned", "updated_at"])
    return PointsResult(row)


def points_expire_due(
    *, organization: Organization | None = None, actor: Actor = SYSTEM
) -> Expired:
    """Expire what remains of every lot past its expiry, one enrolment per transaction.

    Running it again expires nothing more: each lot expires once (the database holds that too).
    """
    now = timezone.now()
    due = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now)
    if organization is not None:
        due = due.filter(enrollment__customer__organization=organization)
    total = Expired()
    enrollment_ids = due.values_list("enrollment_id", flat=True).distinct().order_by()
    for enrollment_id in list(enrollment_ids):
        with transaction.atomic():
            locked = (
                Enrollment.objects.select_for_update(of=("self",))
                .select_related("program", "customer")
                .get(pk=enrollment_id)
            )
            expired = _expire_due_lots(locked, now, actor)
        total.lots += expired.lots
        total.points += expired.points
    return total


def earning_skipped(customer: Customer, what: str) -> ServiceWarning:
    """The warning of points or stamps not given because the customer may not earn."""
    return ServiceWarning(
        ErrorCode.EARNING_BLOCKED,
        f"{what} not given to {customer.public_id}: their {blocked_by(customer)} blocks earning.",
    )


@dataclass
class ReferralResult:
    side_effects: list[SideEffect] = field(default_factory=list)
    warnings: list[ServiceWarning] = field(default_factory=list)


def referral_reward(
    *, organization: Organization, referee: Customer, referrer: Customer, actor: Actor
) -> ReferralResult:
    """Give the referral points of each programme the new member joined, to both sides.

    The referrer is rewarded in the programmes they are enrolled in too. Each award's reference
    names the referee, so the same referral is never paid twice. A side whose status label
    blocks earning gets nothing: the referee with a warning; the referrer without one, since the
    registration's caller is not told about another customer's label.
    """
    result = ReferralResult()
    side_effects = result.side_effects
    reference = f"referral:{referee.public_id}"
    referee_earns = may_earn(referee)
    if not referee_earns:
        result.warnings.append(earning_skipped(referee, "Referral points"))
    # An erased referrer is rewarded no more (a merged one's code finds the survivor).
    closed_or_blocked = customer_is_closed(referrer) or not may_earn(referrer)
    rewarded = [] if closed_or_blocked else referrer.enrollments.all()
    referrer_enrollments = {e.program_id: e for e in rewarded}
    for enrollment in referee.enrollments.select_related("program"):
        program = enrollment.program
        beneficiaries = [(enrollment, program.referee_points)] if referee_earns else []
        if program.pk in referrer_enrollments:
            beneficiaries.append((referrer_enrollments[program.pk], program.referrer_points))
        for beneficiary, amount in beneficiaries:
            if amount and not beneficiary.points_transactions.filter(reference=reference).exists():
                award = points_award(
                    organization=organization,
                    enrollment=beneficiary,
                    points=amount,
                    reason="Referral",
                    reference=reference,
                    actor=actor,
                )
                side_effects.extend(award.side_effects)
    return result
