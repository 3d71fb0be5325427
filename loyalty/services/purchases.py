"""Recording a purchase and the points it earns; simulating what one would earn.

The purchase of a customer whose status label blocks earning is recorded and earns nothing; its
result says why.

A purchase earns in every active programme the customer is enrolled in, by that programme's
earning rules as they are when it is recorded (loyalty.services.earning). Each rule's points are
an award of their own: a ledger row naming the rule and the purchase, and a lot, so the balance,
expiry and tier promotion follow as for any award. A programme with `pending_days` holds them
pending until that many days after the purchase (its return window); with `points_valid_days`
they expire that many days after they become spendable.

A purchase is recorded once per organization and external id: sent again, even by many callers at
once, it earns nothing more and its first result is returned (the database's unique index decides
which call records it; the others wait for it to commit and read what it wrote).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Sum
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization, Store
from customers.closure import customer_refuse_closed
from customers.models import Customer
from customers.services.registration import ServiceWarning
from customers.services.status_labels import may_earn

from ..choices import PointsKind
from ..models import Enrollment, PointsTransaction, Program, TierChange
from ..transactions import EarningRule, Transaction, TransactionLine
from . import purchase_input
from .common import lock_enrollment, require_tenant
from .earning import Contribution, Member, Purchase, PurchaseLine, earn
from .points import append_points, earning_skipped, lot_add
from .tier_changes import promote

REASON_LENGTH = PointsTransaction._meta.get_field("reason").max_length


@dataclass
class Earning:
    """What one enrolment earned from the purchase: its ledger rows, one per rule applied."""

    enrollment: Enrollment
    rows: list[PointsTransaction] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(row.points for row in self.rows)


@dataclass
class PurchaseResult:
    transaction: Transaction
    earnings: list[Earning]
    tier_changes: list[TierChange]
    created: bool

    @property
    def warnings(self) -> list[ServiceWarning]:
        withheld = self.transaction.earning_withheld
        return [ServiceWarning(ErrorCode.EARNING_BLOCKED, withheld)] if withheld else []


@dataclass
class Simulation:
    program: Program
    contributions: list[Contribution]

    @property
    def points(self) -> int:
        return sum(c.points for c in self.contributions if c.points > 0)


def purchase_result(purchase: Transaction, *, created: bool) -> PurchaseResult:
    """What recording the purchase did, read back from the ledgers that hold it."""
    rows = (
        PointsTransaction.objects.filter(purchase=purchase, kind=PointsKind.AWARD)
        .select_related("enrollment__program")
        .order_by("enrollment_id", "pk")
    )
    earnings: dict[int, Earning] = {}
    for row in rows:
        earnings.setdefault(row.enrollment_id, Earning(row.enrollment)).rows.append(row)
    tier_changes = list(
        TierChange.objects.filter(purchase=purchase, purchase_return=None)
        .select_related("enrollment", "from_tier", "to_tier")
        .order_by("pk")
    )
    return PurchaseResult(purchase, list(earnings.values()), tier_changes, created)


def _recorded(organization: Organization, external_id: str) -> PurchaseResult | None:
    purchase = (
        Transaction.objects.filter(organization=organization, external_id=external_id)
        .select_related("customer", "store")
        .first()
    )
    return None if purchase is None else purchase_result(purchase, created=False)


def store_find(organization: Organization, code: str | None) -> Store | None:
    if code is None or code == "":
        return None
    store = Store.objects.filter(organization=organization, code=code).first()
    if store is None:
        raise DomainError(ErrorCode.STORE_UNKNOWN, f"No store {code!r}.", field="store")
    return store


def rules_of(programs: Iterable[Program]) -> dict[int, list[EarningRule]]:
    rules: dict[int, list[EarningRule]] = {program.pk: [] for program in programs}
    for rule in EarningRule.objects.filter(program__in=list(rules)).prefetch_related(
        Prefetch("stores", queryset=Store.objects.only("pk"))
    ):
        rules[rule.program_id].append(rule)
    return rules


def purchase_facts(
    lines: list[purchase_input.CleanLine], occurred_at: dt.datetime, store: Store | None
) -> Purchase:
    total = sum((line.line_amount for line in lines), Decimal(0))
    if total >= purchase_input.MAX_AMOUNT:
        raise DomainError(
            ErrorCode.AMOUNT_INVALID, "The lines add up to more than can be kept.", field="lines"
        )
    return Purchase(
        total=total,
        lines=tuple(PurchaseLine(line.sku, line.category, line.line_amount) for line in lines),
        occurred_at=occurred_at,
        store_id=store.pk if store else None,
    )


def earned_on_day(enrollment: Enrollment, moment: dt.datetime) -> int:
    """Points purchases earned the enrolment on the (local) day of `moment`."""
    start = timezone.localtime(moment).replace(hour=0, minute=0, second=0, microsecond=0)
    day = PointsTransaction.objects.filter(
        enrollment=enrollment,
        kind=PointsKind.AWARD,
        purchase__occurred_at__gte=start,
        purchase__occurred_at__lt=start + dt.timedelta(days=1),
    )
    return day.aggregate(total=Sum("points"))["total"] or 0


def member_facts(
    enrollment: Enrollment | None, customer: Customer | None, moment: dt.datetime, *, first: bool
) -> Member:
    return Member(
        tier_number=enrollment.tier.number if enrollment and enrollment.tier else None,
        birthday=customer.birthday if customer else None,
        first_purchase=first,
        earned_today=earned_on_day(enrollment, moment) if enrollment else 0,
    )


def _award(
    locked: Enrollment,
    purchase: Transaction,
    contribution: Contribution,
    actor: Actor,
    now: dt.datetime,
) -> None:
    program = locked.program
    pending_until = None
    if program.pending_days:
        pending_until = purchase.occurred_at + dt.timedelta(days=program.pending_days)
        pending_until = pending_until if pending_until > now else None
    expires_at = None
    if program.points_valid_days is not None:
        expires_at = (pending_until or now) + dt.timedelta(days=program.points_valid_days)
    reason = f"{contribution.rule_name}: {contribution.reason}"[:REASON_LENGTH]
    row = append_points(
        locked,
        kind=PointsKind.AWARD,
        points=contribution.points,
        actor=actor,
        pending=pending_until is not None,
        reason=reason,
        reference=f"purchase:{purchase.pk}:rule:{contribution.rule_id}",
        purchase=purchase,
        rule_id=contribution.rule_id,
        basis=contribution.basis,
        expires_at=expires_at,
        activates_at=pending_until,
    )
    lot_add(locked, row, expires_at=expires_at, pending_until=pending_until)


def _earn_for(
    organization: Organization, purchase: Transaction, facts: Purchase, first: bool, actor: Actor
) -> None:
    enrollments = list(
        Enrollment.objects.filter(
            customer=purchase.customer, program__organization=organization, program__active=True
        )
        .select_related("program")
        .order_by("pk")
    )
    rules = rules_of(e.program for e in enrollments)
    now = timezone.now()
    for enrollment in enrollments:
        locked = lock_enrollment(organization, enrollment)
        member = member_facts(locked, purchase.customer, facts.occurred_at, first=first)
        for contribution in earn(rules[locked.program_id], facts, member):
            if contribution.points > 0:
                _award(locked, purchase, contribution, actor, now)
        promote(locked, actor, purchase)


def transaction_record(
    *,
    organization: Organization,
    customer: Customer,
    store_code: str | None,
    external_id: str,
    occurred_at,
    currency: str,
    lines: list,
    channel: str,
    actor: Actor,
) -> PurchaseResult:
    """Record the purchase and earn its points; the first result when it was recorded before."""
    external_id = purchase_input.clean_external_id(external_id)
    recorded = _recorded(organization, external_id)
    if recorded is not None:
        return recorded
    require_tenant(customer.organization_id, organization, "customer")
    customer_refuse_closed(customer)
    currency = purchase_input.clean_currency(currency)
    clean_lines = purchase_input.clean_lines(lines, currency)
    occurred_at = purchase_input.clean_occurred_at(occurred_at)
    channel = purchase_input.clean_channel(channel)
    store = store_find(organization, store_code)
    facts = purchase_facts(clean_lines, occurred_at, store)
    try:
        with transaction.atomic():
            # One purchase of a customer at a time: only one can be their first.
            Customer.objects.select_for_update().filter(pk=customer.pk).first()
            first = not Transaction.objects.filter(customer=customer).exists()
            earns = may_earn(customer)
            purchase = Transaction.objects.create(
                organization=organization,
                customer=customer,
                store=store,
                external_id=external_id,
                occurred_at=occurred_at,
                currency=currency,
                total_amount=facts.total,
                channel=channel,
                actor=str(actor),
                earning_withheld=""
                if earns
                else earning_skipped(customer, "The points of this purchase").message,
            )
            TransactionLine.objects.bulk_create(
                TransactionLine(transaction=purchase, **vars(line)) for line in clean_lines
            )
            if earns:
                _earn_for(organization, purchase, facts, first, actor)
    except IntegrityError:
        # Another call recorded the same purchase first; it has committed by now.
        recorded = _recorded(organization, external_id)
        if recorded is None:
            raise
        return recorded
    return purchase_result(purchase, created=True)


def purchase_simulate(
    *,
    program: Program,
    customer: Customer | None,
    store_code: str | None,
    occurred_at,
    currency: str,
    lines: list,
) -> Simulation:
    """What the purchase would earn in the programme now, writing nothing."""
    currency = purchase_input.clean_currency(currency)
    clean_lines = purchase_input.clean_lines(lines, currency)
    occurred_at = (
        timezone.now() if occurred_at is None else purchase_input.clean_occurred_at(occurred_at)
    )
    store = store_find(program.organization, store_code)
    facts = purchase_facts(clean_lines, occurred_at, store)
    enrollment = None
    if customer is not None:
        enrollment = (
            Enrollment.objects.filter(customer=customer, program=program)
            .select_related("tier")
            .first()
        )
    first = customer is not None and not Transaction.objects.filter(customer=customer).exists()
    member = member_facts(enrollment, customer, occurred_at, first=first)
    return Simulation(program, earn(rules_of([program])[program.pk], facts, member))
