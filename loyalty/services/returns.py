"""Recording a return of a purchase and taking back the points the purchase earned.

A return gives back some of a purchase's lines (by SKU and quantity) or an amount of it. Under a
lock on the purchase row it is checked against what earlier returns gave back: never more units
of a line than were bought, never more than the purchase's total (the database holds both too).
Then, in each programme the purchase earned in, it takes back what the returned goods earned by
each rule (loyalty.services.clawback), each award's share on a ledger row of its own naming the
rule, the purchase and the return:

- points still pending (within the return window) are cancelled: a `cancel` row;
- points already spendable are clawed back, a `clawback` row, as the programme's clawback policy
  says: `within_balance` takes what the balance holds and records the shortfall,
  `allow_negative` takes it all (a balance below zero is a debt that later points repay first),
  `pending_only` takes nothing and records it all as the shortfall.

Either way the points due no longer count as earned, and a tier they had reached is lost
(loyalty.services.tier_changes.demote_after_return). Each award's share is a `Clawback` row:
what was due, and the ledger row that took it, if any did.

The return of a customer whose status label blocks earning is recorded all the same; an erased
customer's purchases take no return (as an erased customer takes no purchase).

A return is recorded once per organization and external id: sent again, even by many callers at
once, it takes nothing more and its first result is returned.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Prefetch, Sum
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.closure import customer_refuse_closed

from ..choices import ClawbackPolicy, PointsKind, TierBasis
from ..models import Enrollment, PointsLot, PointsTransaction
from ..returns import Clawback, Return, ReturnLine
from ..side_effects import TierChanged
from ..tiers import TierChange
from ..transactions import Transaction, TransactionLine
from . import clawback, purchase_input, return_input
from .common import lock_enrollment, require_tenant
from .earning import basis_of
from .points import activate_due_lots, append_points, lots_take
from .tier_changes import demote_after_return, qualifying_figure, tier_changed

REASON_LENGTH = PointsTransaction._meta.get_field("reason").max_length


@dataclass
class ProgramClawback:
    """What the return took back in one programme: a Clawback for each award it reached."""

    program_id: int
    clawbacks: list[Clawback]

    @property
    def points(self) -> int:
        return sum(c.points for c in self.clawbacks)

    def _taken(self, kind: str) -> int:
        return sum(c.taken for c in self.clawbacks if c.row and c.row.kind == kind)

    @property
    def cancelled(self) -> int:
        return self._taken(PointsKind.CANCEL)

    @property
    def clawed_back(self) -> int:
        return self._taken(PointsKind.CLAWBACK)

    @property
    def shortfall(self) -> int:
        return sum(c.shortfall for c in self.clawbacks)


@dataclass
class ReturnResult:
    purchase_return: Return
    programs: list[ProgramClawback]
    tier_changes: list[TierChange]
    created: bool

    @property
    def side_effects(self) -> list[TierChanged]:
        return [tier_changed(change) for change in self.tier_changes]


def return_result(purchase_return: Return, *, created: bool) -> ReturnResult:
    """What recording the return did, read back from the rows that hold it."""
    purchase_return = Return.objects.prefetch_related(
        Prefetch("lines", queryset=ReturnLine.objects.select_related("line").order_by("pk"))
    ).get(pk=purchase_return.pk)
    clawbacks = (
        Clawback.objects.filter(purchase_return=purchase_return)
        .select_related("award__enrollment", "award__rule", "row")
        .order_by("award__enrollment__program_id", "award_id")
    )
    programs: dict[int, ProgramClawback] = {}
    for row in clawbacks:
        program_id = row.award.enrollment.program_id
        programs.setdefault(program_id, ProgramClawback(program_id, [])).clawbacks.append(row)
    tier_changes = list(
        TierChange.objects.filter(purchase_return=purchase_return)
        .select_related("enrollment", "from_tier", "to_tier")
        .order_by("pk")
    )
    return ReturnResult(purchase_return, list(programs.values()), tier_changes, created)


def _recorded(
    organization: Organization, external_id: str, purchase: Transaction
) -> ReturnResult | None:
    recorded = Return.objects.filter(organization=organization, external_id=external_id).first()
    if recorded is None:
        return None
    if recorded.purchase_id != purchase.pk:
        raise DomainError(
            ErrorCode.EXTERNAL_ID_TAKEN,
            f"Return {external_id!r} was recorded for another purchase.",
            field="external_id",
        )
    return return_result(recorded, created=False)


def _write_return(
    locked: Transaction,
    external_id: str,
    occurred_at: dt.datetime,
    asked: list[return_input.AskedLine] | Decimal,
    actor: Actor,
) -> tuple[Return, clawback.Returned]:
    """The return, its lines and the purchase's running totals; what has come back in all."""
    lines = list(TransactionLine.objects.filter(transaction=locked).order_by("pk"))
    before = dict(
        ReturnLine.objects.filter(line__transaction=locked)
        .values("line")
        .annotate(total=Sum("amount"))
        .values_list("line", "total")
    )
    if isinstance(asked, Decimal):
        portions, amount = [], asked
        return_input.refuse_over(amount, locked, field="amount")
    else:
        portions = return_input.portions(asked, lines, before, locked.currency)
        amount = sum((portion.amount for portion in portions), Decimal(0))
        return_input.refuse_over(amount, locked, field="lines")
    purchase_return = Return.objects.create(
        organization_id=locked.organization_id,
        purchase=locked,
        external_id=external_id,
        occurred_at=occurred_at,
        amount=amount,
        actor=str(actor),
    )
    ReturnLine.objects.bulk_create(
        ReturnLine(
            purchase_return=purchase_return, line=p.line, quantity=p.quantity, amount=p.amount
        )
        for p in portions
    )
    for portion in portions:
        TransactionLine.objects.filter(pk=portion.line.pk).update(
            returned_quantity=F("returned_quantity") + portion.quantity
        )
        portion.line.returned_quantity += portion.quantity
        before[portion.line.pk] = before.get(portion.line.pk, 0) + portion.amount
    Transaction.objects.filter(pk=locked.pk).update(returned_amount=F("returned_amount") + amount)
    by_lines = sum(before.values(), Decimal(0))
    returned = clawback.Returned(
        total=locked.total_amount,
        lines=tuple(
            clawback.LineBack(
                sku=line.sku,
                category=line.category,
                amount=line.line_amount,
                returned=before.get(line.pk, Decimal(0)),
                all_back=line.returned_quantity == line.quantity,
            )
            for line in lines
        ),
        refunded=locked.returned_amount + amount - by_lines,
    )
    return purchase_return, returned


# --- what is taken back -------------------------------------------------------------------------


def _take(
    locked: Enrollment,
    award: PointsTransaction,
    points: int,
    purchase_return: Return,
    actor: Actor,
) -> PointsTransaction | None:
    """Take `points` of the award back: cancelled while its lot is pending, else clawed back as
    the programme's policy says; the ledger row that did, if any."""
    lot = PointsLot.objects.filter(award=award, enrollment=locked).first()
    common = {
        "actor": actor,
        "reason": f"Return {purchase_return.external_id}: {award.rule.name}"[:REASON_LENGTH],
        "reference": f"return:{purchase_return.pk}:award:{award.pk}",
        "purchase": purchase_return.purchase,
        "rule_id": award.rule_id,
        "purchase_return": purchase_return,
    }
    if lot is not None and lot.pending_until is not None:
        taken = min(points, lot.remaining)
        if not taken:
            return None
        row = append_points(locked, kind=PointsKind.CANCEL, points=-taken, pending=True, **common)
        PointsLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - taken)
        return row
    policy = locked.program.clawback_policy
    if policy == ClawbackPolicy.ALLOW_NEGATIVE:
        taken = points
    elif policy == ClawbackPolicy.WITHIN_BALANCE:
        taken = min(points, max(locked.points_balance, 0))
    else:
        taken = 0
    if not taken:
        return None
    row = append_points(locked, kind=PointsKind.CLAWBACK, points=-taken, **common)
    lots_take(locked, taken, first=lot)
    return row


def _claw_back(
    organization: Organization,
    purchase_return: Return,
    returned: clawback.Returned,
    actor: Actor,
) -> None:
    purchase = purchase_return.purchase
    awards = list(
        PointsTransaction.objects.filter(purchase=purchase, kind=PointsKind.AWARD)
        .select_related("rule", "enrollment")
        .order_by("pk")
    )
    claimed = dict(
        Clawback.objects.filter(award__in=awards)
        .values("award")
        .annotate(total=Sum("points"))
        .values_list("award", "total")
    )
    # The enrolments the customer holds now: a merge may have combined the one that earned.
    enrolled = {
        e.program_id: e
        for e in Enrollment.objects.filter(customer_id=purchase.customer_id).select_related(
            "program"
        )
    }
    now = timezone.now()
    for enrollment in sorted(enrolled.values(), key=lambda e: e.pk):
        reached = [a for a in awards if a.enrollment.program_id == enrollment.program_id]
        # Spend counts toward the tier whether or not the purchase earned points there.
        by_spend = enrollment.program.tier_basis == TierBasis.SPEND
        if not reached and not by_spend:
            continue
        locked = lock_enrollment(organization, enrollment)
        activate_due_lots(locked, now, actor)  # a window that is over is over
        figure_before = qualifying_figure(locked, end=now, before_return=purchase_return)
        due_in_all = 0
        for award in reached:
            part = clawback.share(award.basis or basis_of(award.rule), returned)
            points = clawback.due(award.points, part, claimed.get(award.pk, 0))
            if points:
                row = _take(locked, award, points, purchase_return, actor)
                Clawback.objects.create(
                    purchase_return=purchase_return, award=award, points=points, row=row
                )
                due_in_all += points
        if due_in_all:
            Enrollment.objects.filter(pk=locked.pk).update(
                points_earned=F("points_earned") - due_in_all, updated_at=timezone.now()
            )
            locked.points_earned -= due_in_all
        if due_in_all or by_spend:
            demote_after_return(locked, figure_before, actor, purchase_return, now=now)


def return_record(
    *,
    organization: Organization,
    purchase: Transaction,
    external_id: str,
    occurred_at,
    lines: list | None = None,
    amount=None,
    actor: Actor,
) -> ReturnResult:
    """Record the return of `lines` (SKU and quantity each) or of an `amount` of the purchase,
    and take back the points they earned; the first result when it was recorded before."""
    require_tenant(purchase.organization_id, organization, "transaction")
    external_id = purchase_input.clean_external_id(external_id)
    recorded = _recorded(organization, external_id, purchase)
    if recorded is not None:
        return recorded
    customer_refuse_closed(purchase.customer)
    occurred_at = purchase_input.clean_occurred_at(occurred_at)
    asked = return_input.clean_request(lines, amount, purchase.currency)
    try:
        with transaction.atomic():
            # One return of a purchase at a time: each sees what the others gave back.
            locked = Transaction.objects.select_for_update().get(pk=purchase.pk)
            recorded = _recorded(organization, external_id, locked)
            if recorded is not None:
                return recorded
            purchase_return, returned = _write_return(
                locked, external_id, occurred_at, asked, actor
            )
            _claw_back(organization, purchase_return, returned, actor)
    except IntegrityError:
        # Another call recorded a return of that external id first; it has committed by now.
        recorded = _recorded(organization, external_id, purchase)
        if recorded is None:
            raise
        return recorded
    return return_result(purchase_return, created=True)
