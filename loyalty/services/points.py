"""Points: awarded as lots that may expire, deducted from the lots that expire first, expired,
and given for referrals; purchase points pending until their return window ends, then activated.

The balance and the lots change only together with the ledger row that explains them (activation
carries out what its award row said: pending until `activates_at`), under a row lock on the
enrolment, so concurrent calls never lose an update or overdraw. The ledger sums to the balance
(what may be spent) plus the pending points; the spendable lots hold the balance, the pending lots
the pending points. A balance below zero is a debt (a return's clawback, under the policy
allow_negative): spendable lots then hold nothing, and points that become spendable repay it
first.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, QuerySet
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
TOTALS = ["points_balance", "points_pending", "points_earned", "updated_at"]


@dataclass
class PointsResult:
    transaction: PointsTransaction
    side_effects: list[SideEffect] = field(default_factory=list)


def totals_event(
    locked: Enrollment, action: str, actor: Actor, reason: str = "", **columns: int
) -> AuditEvent:
    """The (unsaved) audit event of moving the enrolment's running totals by `columns`, from
    what they are now."""
    labels = {"points_balance": "points", "points_pending": "pending points"}
    changes = {}
    for column, points in columns.items():
        if column in labels:
            before = getattr(locked, column)
            changes[f"{locked.program.name}: {labels[column]}"] = (before, before + points)
    if reason:
        changes["reason"] = (None, reason)
    return audit.event(
        locked.customer, subject="points", action=action, changes=changes, actor=actor
    )


def points_event(
    locked: Enrollment,
    *,
    kind: str,
    points: int,
    reason: str | None,
    actor: Actor,
    pending: bool = False,
) -> AuditEvent:
    """The (unsaved) audit event of `points` written on the enrolment, spendable or pending."""
    column = "points_pending" if pending else "points_balance"
    return totals_event(locked, kind, actor, reason or "", **{column: points})


def _move(locked: Enrollment, action: str, actor: Actor, reason: str = "", **columns: int) -> None:
    """Move the locked enrolment's running totals by `columns`, on record."""
    totals_event(locked, action, actor, reason, **columns).save()
    Enrollment.objects.filter(pk=locked.pk).update(
        updated_at=timezone.now(),
        **{column: F(column) + points for column, points in columns.items()},
    )
    for column, points in columns.items():
        setattr(locked, column, getattr(locked, column) + points)


def append_points(
    locked: Enrollment, *, kind: str, points: int, actor: Actor, pending: bool = False, **extra
):
    """Write a ledger row of `points` on the locked enrolment, on record, and move its balance
    (its pending points, when `pending`; and, for an award, its points earned) by as much."""
    row = PointsTransaction.objects.create(
        enrollment=locked, kind=kind, points=points, actor=str(actor), **extra
    )
    columns = {"points_pending" if pending else "points_balance": points}
    if kind == PointsKind.AWARD:
        columns["points_earned"] = points
    _move(locked, kind, actor, extra.get("reason", ""), **columns)
    return row


def debt_repaid(enrollment: Enrollment, points: int) -> int:
    """Of `points` just added to the enrolment's balance, those that repaid a debt."""
    return min(points, max(0, points - enrollment.points_balance))


def lot_add(
    locked: Enrollment,
    row: PointsTransaction,
    *,
    expires_at: dt.datetime | None = None,
    pending_until: dt.datetime | None = None,
) -> PointsLot:
    """The lot of `row`, just appended: pending until `pending_until`, or spendable, keeping what
    is left once a debt is repaid."""
    repaid = 0 if pending_until else debt_repaid(locked, row.points)
    return PointsLot.objects.create(
        enrollment=locked,
        award=row,
        points=row.points,
        remaining=row.points - repaid,
        expires_at=expires_at,
        pending_until=pending_until,
    )


def lots_take(locked: Enrollment, points: int, first: PointsLot | None = None) -> None:
    """Take `points` (just taken off the balance) from the spendable lots: `first`, then those
    that expire first, those without an expiry last. What they do not hold is a debt."""
    lots = list(
        locked.lots.filter(remaining__gt=0, pending_until__isnull=True).order_by(
            F("expires_at").asc(nulls_last=True), "pk"
        )
    )
    lots.sort(key=lambda lot: first is None or lot.pk != first.pk)
    for lot in lots:
        spent = min(lot.remaining, points)
        PointsLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - spent)
        points -= spent
        if not points:
            break


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
    """Write an expiry row for what remains of each spendable lot past its expiry."""
    expired = Expired()
    due = locked.lots.filter(remaining__gt=0, expires_at__lte=now, pending_until__isnull=True)
    for lot in due.order_by("expires_at"):
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
    lot_add(locked, row, expires_at=expires_at)
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
    enrollment.refresh_from_db(fields=[*TOTALS, "tier", "tier_expires_at"])
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
    """Spend points from the spendable lots that expire first; never more than the spendable,
    unexpired balance. Refused to a customer whose status label blocks spending."""
    locked = lock_enrollment(organization, enrollment)
    customer_refuse_closed(locked.customer)
    refuse_spending_blocked(locked.customer)
    _check_amount(points, reference, locked)
    now = timezone.now()
    activate_due_lots(locked, now, actor)
    _expire_due_lots(locked, now, actor)
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
    lots_take(locked, points)
    enrollment.refresh_from_db(fields=TOTALS)
    return PointsResult(row)


def points_expire_due(
    *, organization: Organization | None = None, actor: Actor = SYSTEM
) -> Expired:
    """Expire what remains of every lot past its expiry, one enrolment per transaction.

    Running it again expires nothing more: each lot expires once (the database holds that too).
    """
    now = timezone.now()
    due = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now, pending_until__isnull=True)
    total = Expired()
    for locked in _locked_one_by_one(due, organization):
        expired = _expire_due_lots(locked, now, actor)
        total.lots += expired.lots
        total.points += expired.points
    return total


def _locked_one_by_one(
    due_lots: QuerySet[PointsLot], organization: Organization | None
) -> Iterator[Enrollment]:
    """Each enrolment holding one of `due_lots` (of `organization`, if given), locked in a
    transaction of its own while the caller works on it."""
    if organization is not None:
        due_lots = due_lots.filter(enrollment__customer__organization=organization)
    enrollment_ids = due_lots.values_list("enrollment_id", flat=True).distinct().order_by()
    for enrollment_id in list(enrollment_ids):
        with transaction.atomic():
            yield (
                Enrollment.objects.select_for_update(of=("self",))
                .select_related("program", "customer")
                .get(pk=enrollment_id)
            )


@dataclass
class Activated:
    lots: int = 0
    points: int = 0


def activate_due_lots(locked: Enrollment, now: dt.datetime, actor: Actor) -> Activated:
    """Make spendable what remains of each lot whose pending time is over (repaying a debt
    first)."""
    activated = Activated()
    for lot in locked.lots.filter(pending_until__lte=now).order_by("pending_until", "pk"):
        points = lot.remaining
        _move(locked, "activate", actor, points_pending=-points, points_balance=points)
        repaid = debt_repaid(locked, points)
        PointsLot.objects.filter(pk=lot.pk).update(pending_until=None, remaining=points - repaid)
        activated.lots += 1
        activated.points += points
    return activated


def points_activate_due(
    *, organization: Organization | None = None, actor: Actor = SYSTEM
) -> Activated:
    """Make spendable the pending points whose return window is over, one enrolment per
    transaction. Running it again activates nothing more: a lot is pending no longer once
    activated, and it is activated under its enrolment's lock."""
    now = timezone.now()
    total = Activated()
    for locked in _locked_one_by_one(
        PointsLot.objects.filter(pending_until__lte=now), organization
    ):
        activated = activate_due_lots(locked, now, actor)
        total.lots += activated.lots
        total.points += activated.points
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
