"""Writing new purchases set-wise, one purchase or a batch alike: the purchases and their lines,
and what they earn, in a few queries for the whole set.

The customers who earn are locked, then their enrolments in active programmes, each in primary
key order, so that two writers sharing customers wait for each other instead of deadlocking; the
purchases are inserted in external id order for the same reason. The programmes' earning rules
and tiers, and what purchases earned on the days a daily cap counts, are read once. The purchases
are then reckoned in order, each seeing what those before it earned (the first purchase, the
daily cap, the tier reached), exactly as recorded one after another; their ledger rows, lots and
audit events are inserted together and each enrolment's balance moves once.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Exists, OuterRef, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone

from crm.actors import Actor
from crm.errors import ErrorCode
from crm.models import Organization, Store
from customers.models import AuditEvent, Customer
from customers.services.registration import ServiceWarning
from customers.services.status_labels import may_earn

from ..choices import EarningKind, PointsKind, TierBasis, TierChangeReason, TierWindow
from ..models import Enrollment, PointsLot, PointsTransaction, Program
from ..side_effects import PointsAwarded, SideEffect
from ..tiers import TierChange
from ..transactions import Transaction, TransactionLine
from .earning import Contribution, Member, Purchase, earn
from .points import debt_repaid, earning_skipped, points_event
from .programme_rules import programme_rules
from .purchase_input import CleanPurchase
from .tier_changes import (
    TierMove,
    promotion,
    qualifying_figure,
    tier_changed,
    tier_expiry,
    tier_move,
)

REASON_LENGTH = PointsTransaction._meta.get_field("reason").max_length
TOTALS = ("points_balance", "points_pending", "points_earned")
# Why a purchase loaded as history (import_transactions --no-earn) earned nothing.
HISTORY = "Loaded as purchase history: it earns no points."


@dataclass
class Earning:
    """What one enrolment earned from the purchase: its ledger rows, one per rule applied."""

    enrollment: Enrollment
    rows: list[PointsTransaction] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(row.points for row in self.rows)

    @property
    def points_pending(self) -> int:
        """Of its points, those pending for the programme's return window when recorded."""
        return sum(row.points for row in self.rows if row.activates_at is not None)


@dataclass
class PurchaseResult:
    transaction: Transaction
    earnings: list[Earning]
    tier_changes: list[TierChange]
    created: bool
    # The lines just written with a purchase recorded now, so that its reply reads none back.
    lines: list[TransactionLine] | None = None

    @property
    def warnings(self) -> list[ServiceWarning]:
        withheld = self.transaction.earning_withheld
        return [ServiceWarning(ErrorCode.EARNING_BLOCKED, withheld)] if withheld else []

    @property
    def points(self) -> int:
        return sum(earning.points for earning in self.earnings)

    @property
    def points_pending(self) -> int:
        return sum(earning.points_pending for earning in self.earnings)

    @property
    def side_effects(self) -> list[SideEffect]:
        """The points each programme awarded and each tier reached, as registration reports
        them."""
        purchase = self.transaction
        awarded: list[SideEffect] = [
            PointsAwarded(
                customer_id=purchase.customer.public_id,
                program_id=earning.enrollment.program_id,
                points=earning.points,
                reason=f"Purchase {purchase.external_id}",
            )
            for earning in self.earnings
        ]
        return awarded + [tier_changed(change) for change in self.tier_changes]


@dataclass(frozen=True)
class NewPurchase:
    """A purchase checked and ready to write."""

    customer: Customer
    store: Store | None
    external_id: str
    clean: CleanPurchase
    facts: Purchase


def day_start(moment: dt.datetime) -> dt.datetime:
    """The start of the (local) day of `moment`: the day a daily cap counts."""
    return timezone.localtime(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def purchases_write(
    organization: Organization, new: list[NewPurchase], *, actor: Actor, earn: bool
) -> list[PurchaseResult]:
    """Write the purchases, in order, and (with `earn`) what they earn; call inside a
    transaction. Without `earn` they are loaded as history: inserted, earning nothing."""
    customers = {purchase.customer.pk: purchase.customer for purchase in new}
    bought: set[int] = set()
    if earn:
        # One writer of a customer's purchases at a time: only one can be their first.
        list(
            Customer.objects.select_for_update()
            .filter(pk__in=customers)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # Asked once the locks are held, so that it sees what the writer before has committed;
        # by an index probe a customer, however many purchases they have made.
        bought = set(
            Customer.objects.filter(pk__in=customers)
            .filter(Exists(Transaction.objects.filter(customer=OuterRef("pk"))))
            .values_list("pk", flat=True)
        )
    rows = [_transaction(organization, purchase, actor, earn) for purchase in new]
    Transaction.objects.bulk_create(sorted(rows, key=lambda row: row.external_id))
    lines = {
        row.external_id: [
            TransactionLine(transaction=row, **vars(line)) for line in purchase.clean.lines
        ]
        for row, purchase in zip(rows, new, strict=True)
    }
    TransactionLine.objects.bulk_create(line for of_row in lines.values() for line in of_row)
    reckoned = []
    for row, purchase in zip(rows, new, strict=True):
        first = row.customer_id not in bought
        bought.add(row.customer_id)
        if earn and not row.earning_withheld:
            reckoned.append((row, purchase.facts, first))
    earnings, tier_changes = _earn_all(organization, reckoned, actor) if reckoned else ({}, {})
    return [
        PurchaseResult(
            row,
            earnings.get(row.pk, []),
            tier_changes.get(row.pk, []),
            created=True,
            lines=lines[row.external_id],
        )
        for row in rows
    ]


def _transaction(
    organization: Organization, purchase: NewPurchase, actor: Actor, earn: bool
) -> Transaction:
    withheld = ""
    if not earn:
        withheld = HISTORY
    elif not may_earn(purchase.customer):
        withheld = earning_skipped(purchase.customer, "The points of this purchase").message
    return Transaction(
        organization=organization,
        customer=purchase.customer,
        store=purchase.store,
        external_id=purchase.external_id,
        occurred_at=purchase.clean.occurred_at,
        currency=purchase.clean.currency,
        total_amount=purchase.facts.total,
        channel=purchase.clean.channel,
        actor=str(actor),
        earning_withheld=withheld,
    )


@dataclass
class _Reckoning:
    """What a set of purchases earns, reckoned in memory, to be written together."""

    ledger: list[PointsTransaction] = field(default_factory=list)
    lots: list[PointsLot] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    moves: list[TierMove] = field(default_factory=list)
    earnings: dict[int, list[Earning]] = field(default_factory=lambda: defaultdict(list))
    # By enrolment: the points added to the balance, to the pending points, and earned.
    moved: dict[str, dict[int, int]] = field(
        default_factory=lambda: {column: defaultdict(int) for column in TOTALS}
    )


def _earn_all(
    organization: Organization,
    reckoned: list[tuple[Transaction, Purchase, bool]],
    actor: Actor,
) -> tuple[dict[int, list[Earning]], dict[int, list[TierChange]]]:
    """Earn the purchases (with whether each is its customer's first), in order: their
    earnings and tier changes by purchase."""
    customers = {row.customer_id: row.customer for row, _, _ in reckoned}
    enrollments = list(
        Enrollment.objects.select_for_update(of=("self",))
        .filter(customer_id__in=customers, program__organization=organization, program__active=True)
        .select_related("program__rules_version", "tier")
        .order_by("pk")
    )
    if not enrollments:
        return {}, {}
    of_customer: dict[int, list[Enrollment]] = defaultdict(list)
    for enrollment in enrollments:
        enrollment.customer = customers[enrollment.customer_id]
        of_customer[enrollment.customer_id].append(enrollment)
    programs = {enrollment.program_id: enrollment.program for enrollment in enrollments}
    terms = programme_rules(programs.values())
    rules = {pk: of_program.rules for pk, of_program in terms.items()}
    tiers = {pk: of_program.tiers for pk, of_program in terms.items()}
    now = timezone.now()
    figures_before = {
        enrollment.pk: qualifying_figure(enrollment, end=now)
        for enrollment in enrollments
        if not _counts_points_earned(enrollment.program)
    }
    capped = {
        pk
        for pk, of_program in rules.items()
        if any(r.kind == EarningKind.DAILY_CAP for r in of_program)
    }
    earned_today = earned_on_days(
        [
            (enrollment.pk, facts.occurred_at)
            for row, facts, _ in reckoned
            for enrollment in of_customer[row.customer_id]
            if enrollment.program_id in capped
        ]
    )
    reckoning = _Reckoning()
    for row, facts, first in reckoned:
        day = day_start(facts.occurred_at)
        for enrollment in of_customer[row.customer_id]:
            member = Member(
                tier_number=enrollment.tier.number if enrollment.tier else None,
                birthday=row.customer.birthday,
                first_purchase=first,
                earned_today=earned_today.get((enrollment.pk, day), 0),
            )
            contributions = earn(rules[enrollment.program_id], facts, member)
            earning = _earning(enrollment, row, contributions, actor, reckoning, now)
            earned_today[(enrollment.pk, day)] = member.earned_today + earning.points
            program = enrollment.program
            if _counts_points_earned(program):
                figure = enrollment.points_earned
            elif program.tier_basis == TierBasis.SPEND:  # this write's purchases are in it
                figure = figures_before[enrollment.pk]
            else:  # this write's points are not yet
                figure = (
                    figures_before[enrollment.pk] + reckoning.moved["points_earned"][enrollment.pk]
                )
            reached = promotion(program, tiers[program.pk], figure, enrollment.tier)
            if reached is not None:
                expires_at = tier_expiry(program, tiers[program.pk], reached, now)
                move = tier_move(
                    enrollment, reached, expires_at, TierChangeReason.THRESHOLD, actor, row
                )
                reckoning.moves.append(move)
                reckoning.events.append(move.event)
    _save(reckoning)
    tier_changes: dict[int, list[TierChange]] = defaultdict(list)
    for move in reckoning.moves:
        tier_changes[move.change.purchase_id].append(move.change)
    return reckoning.earnings, tier_changes


def _counts_points_earned(program: Program) -> bool:
    """Whether the programme's tiers are reached by the points earned in its whole life, which
    each enrolment keeps as a running total."""
    return program.tier_basis == TierBasis.POINTS and program.tier_window == TierWindow.LIFETIME


def award_times(
    program: Program, occurred_at: dt.datetime, now: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """When the points a purchase made at `occurred_at` earns now become spendable (None: at
    once) and when they expire (None: never): pending for the programme's return window from
    the purchase, then valid for its points' lifetime."""
    pending_until = None
    if program.pending_days:
        pending_until = occurred_at + dt.timedelta(days=program.pending_days)
        pending_until = pending_until if pending_until > now else None
    expires_at = None
    if program.points_valid_days is not None:
        expires_at = (pending_until or now) + dt.timedelta(days=program.points_valid_days)
    return pending_until, expires_at


def _earning(
    enrollment: Enrollment,
    purchase: Transaction,
    contributions: list[Contribution],
    actor: Actor,
    reckoning: _Reckoning,
    now: dt.datetime,
) -> Earning:
    """The enrolment's award of each rule that gives points, on record, in memory, with its lot
    (pending, or spendable once it has repaid any debt)."""
    earning = Earning(enrollment)
    pending_until, expires_at = award_times(enrollment.program, purchase.occurred_at, now)
    column = "points_pending" if pending_until else "points_balance"
    for contribution in contributions:
        if contribution.points <= 0:
            continue
        points = contribution.points
        reason = f"{contribution.rule_name}: {contribution.reason}"[:REASON_LENGTH]
        reckoning.events.append(
            points_event(
                enrollment,
                kind=PointsKind.AWARD,
                points=points,
                reason=reason,
                actor=actor,
                pending=pending_until is not None,
            )
        )
        row = PointsTransaction(
            enrollment=enrollment,
            kind=PointsKind.AWARD,
            points=points,
            actor=str(actor),
            reason=reason,
            reference=f"purchase:{purchase.pk}:rule:{contribution.rule_id}",
            purchase=purchase,
            rule_id=contribution.rule_id,
            basis=contribution.basis,
            expires_at=expires_at,
            activates_at=pending_until,
        )
        earning.rows.append(row)
        setattr(enrollment, column, getattr(enrollment, column) + points)
        enrollment.points_earned += points
        repaid = 0 if pending_until else debt_repaid(enrollment, points)
        reckoning.lots.append(
            PointsLot(
                enrollment=enrollment,
                award=row,
                points=points,
                remaining=points - repaid,
                expires_at=expires_at,
                pending_until=pending_until,
            )
        )
        reckoning.moved[column][enrollment.pk] += points
        reckoning.moved["points_earned"][enrollment.pk] += points
    if earning.rows:
        reckoning.earnings[purchase.pk].append(earning)
        reckoning.ledger.extend(earning.rows)
    return earning


def _save(reckoning: _Reckoning) -> None:
    """Insert the ledger rows, their lots, the audit events and tier changes; move each
    enrolment's balance, pending points, points earned and tier in one update."""
    PointsTransaction.objects.bulk_create(reckoning.ledger)
    PointsLot.objects.bulk_create(reckoning.lots)
    AuditEvent.objects.bulk_create(reckoning.events)
    TierChange.objects.bulk_create(move.change for move in reckoning.moves)
    promoted = {move.change.enrollment_id: move.change.enrollment for move in reckoning.moves}
    _move(
        reckoning.moved,
        {pk: (e.tier_id, e.tier_expires_at) for pk, e in promoted.items()},
    )


def _move(
    moved: dict[str, dict[int, int]], tiers: dict[int, tuple[int, dt.datetime | None]]
) -> None:
    """Move each enrolment's running totals by `moved` (by column, by enrolment), and set
    `tiers` (each with when it expires), in one update relative to what each row holds. Written
    as SQL: the ORM's Case and When cost more to build for a hundred rows than the update costs
    to run."""
    moved = {column: points for column, points in moved.items() if points}
    if not moved and not tiers:
        return
    table = Enrollment._meta.db_table
    params: list = []
    sets = []
    for column, points in moved.items():
        cases = " ".join("WHEN %s THEN %s" for _ in points)
        sets.append(f"{column} = {column} + CASE id {cases} ELSE 0 END")
        params += [value for item in points.items() for value in item]
    if tiers:
        cases = " ".join("WHEN %s THEN %s" for _ in tiers)
        sets.append(f"tier_id = CASE id {cases} ELSE tier_id END")
        params += [value for pk, (tier_id, _) in tiers.items() for value in (pk, tier_id)]
        sets.append(f"tier_expires_at = CASE id {cases} ELSE tier_expires_at END")
        adapt = connection.ops.adapt_datetimefield_value
        params += [value for pk, (_, expires) in tiers.items() for value in (pk, adapt(expires))]
    sets.append("updated_at = %s")
    params.append(timezone.now())
    ids = sorted({pk for points in moved.values() for pk in points} | set(tiers))
    where = ", ".join("%s" for _ in ids)
    with connection.cursor() as cursor:
        statement = f"UPDATE {table} SET {', '.join(sets)} WHERE id IN ({where})"  # noqa: S608
        cursor.execute(statement, [*params, *ids])


def earned_on_days(moments: list[tuple[int, dt.datetime]]) -> dict[tuple[int, dt.datetime], int]:
    """Points purchases earned each enrolment on the (local) days of the moments, by
    (enrolment id, day start); one query."""
    if not moments:
        return {}
    starts = [day_start(moment) for _, moment in moments]
    days = (
        PointsTransaction.objects.filter(
            enrollment_id__in={pk for pk, _ in moments},
            kind=PointsKind.AWARD,
            purchase__occurred_at__gte=min(starts),
            purchase__occurred_at__lt=max(starts) + dt.timedelta(days=1),
        )
        .annotate(day=TruncDay("purchase__occurred_at", tzinfo=timezone.get_current_timezone()))
        .values_list("enrollment_id", "day")
        .annotate(points=Sum("points"))
        .order_by()
    )
    return {(pk, day): points for pk, day, points in days}
