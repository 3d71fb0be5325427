"""Recording purchases, one or a batch, and the points they earn; simulating what one would earn.

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

One purchase and a batch go the same way (purchases_record): the customers, stores and purchases
recorded before are each looked up once for the whole batch, each purchase is checked alone, and
the new ones are written together (loyalty.services.purchase_writer). An item that fails fails
alone; should writing them together fail (another caller recorded one of them meanwhile), each is
written alone.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization, Store
from customers.closure import customer_refuse_closed
from customers.models import Customer
from customers.normalization import normalize_identifier
from customers.selectors import customers_found

from ..choices import PointsKind
from ..models import Enrollment, PointsTransaction, Program
from ..tiers import Tier, TierChange
from ..transactions import Transaction
from . import purchase_input
from .common import require_tenant
from .earning import Contribution, Member, Purchase, PurchaseLine, earn
from .programme_rules import programme_rules
from .purchase_input import PurchaseItem
from .purchase_writer import (
    Earning,
    NewPurchase,
    PurchaseResult,
    day_start,
    earned_on_days,
    purchases_write,
)


@dataclass
class PurchaseOutcome:
    """What became of one purchase of a batch: its result, or the error that refused it."""

    result: PurchaseResult | None = None
    error: DomainError | None = None


@dataclass
class Simulation:
    program: Program
    contributions: list[Contribution]

    @property
    def points(self) -> int:
        return sum(c.points for c in self.contributions if c.points > 0)


def purchase_results(purchases: Iterable[Transaction]) -> dict[int, PurchaseResult]:
    """What recording each purchase did, by its id, read back from the ledgers that hold it (in
    two queries for them all)."""
    purchases = {purchase.pk: purchase for purchase in purchases}
    if not purchases:
        return {}
    earnings: dict[int, dict[int, Earning]] = {pk: {} for pk in purchases}
    rows = (
        PointsTransaction.objects.filter(purchase__in=purchases, kind=PointsKind.AWARD)
        .select_related("enrollment__program")
        .order_by("purchase_id", "enrollment_id", "pk")
    )
    for row in rows:
        of_purchase = earnings[row.purchase_id]
        of_purchase.setdefault(row.enrollment_id, Earning(row.enrollment)).rows.append(row)
    tier_changes: dict[int, list[TierChange]] = {pk: [] for pk in purchases}
    for change in (
        TierChange.objects.filter(purchase__in=purchases, purchase_return=None)
        .select_related("enrollment", "from_tier", "to_tier")
        .order_by("pk")
    ):
        tier_changes[change.purchase_id].append(change)
    return {
        pk: PurchaseResult(purchase, list(earnings[pk].values()), tier_changes[pk], created=False)
        for pk, purchase in purchases.items()
    }


def _recorded(organization: Organization, external_ids: set[str]) -> dict[str, PurchaseResult]:
    """The first results of the purchases recorded with these external ids, by external id."""
    if not external_ids:
        return {}
    # Most purchases are new: asked first by id alone, which costs less to build and to run.
    ids = Transaction.objects.filter(
        organization=organization, external_id__in=external_ids
    ).values_list("pk", flat=True)
    if not (ids := list(ids)):
        return {}
    purchases = Transaction.objects.filter(pk__in=ids).select_related("customer", "store")
    return {
        result.transaction.external_id: result for result in purchase_results(purchases).values()
    }


def _unknown_store(code: str) -> DomainError:
    return DomainError(ErrorCode.STORE_UNKNOWN, f"No store {code!r}.", field="store")


def stores_by_code(organization: Organization, codes: Iterable[str | None]) -> dict[str, Store]:
    codes = {code for code in codes if code}
    if not codes:
        return {}
    return {
        store.code: store
        for store in Store.objects.filter(organization=organization, code__in=codes)
    }


def store_find(organization: Organization, code: str | None) -> Store | None:
    if code is None or code == "":
        return None
    store = stores_by_code(organization, [code]).get(code)
    if store is None:
        raise _unknown_store(code)
    return store


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
    return earned_on_days([(enrollment.pk, moment)]).get((enrollment.pk, day_start(moment)), 0)


def member_facts(
    enrollment: Enrollment | None, customer: Customer | None, moment: dt.datetime, *, first: bool
) -> Member:
    return Member(
        tier_number=enrollment.tier.number if enrollment and enrollment.tier else None,
        birthday=customer.birthday if customer else None,
        first_purchase=first,
        earned_today=earned_on_day(enrollment, moment) if enrollment else 0,
    )


def _no_customer(field: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "No such customer.", field=field)


def buyers_find(
    organization: Organization, items: list[PurchaseItem]
) -> list[Customer | DomainError]:
    """The customer of each item (found, or named by public id or by identifier), or why there
    is none; set-wise, in two queries at most."""
    identifiers: dict[int, tuple[str, str] | DomainError] = {}
    for index, item in enumerate(items):
        if item.customer is None and item.customer_id is None and item.identifier is not None:
            type_, value = item.identifier
            try:
                identifiers[index] = normalize_identifier(
                    type_, value, region=organization.default_region, field="identifier"
                )
            except DomainError as error:
                identifiers[index] = error
    found = customers_found(
        organization=organization,
        public_ids=[
            item.customer_id for item in items if item.customer is None and item.customer_id
        ],
        identifiers=[key for key in identifiers.values() if isinstance(key, tuple)],
    )
    buyers: list[Customer | DomainError] = []
    for index, item in enumerate(items):
        if item.customer is not None:
            buyers.append(item.customer)
        elif item.customer_id is not None:
            buyers.append(found.by_public_id.get(item.customer_id) or _no_customer("customer"))
        elif index in identifiers:
            key = identifiers[index]
            if isinstance(key, DomainError):
                buyers.append(key)
                continue
            try:
                buyers.append(
                    found.by_identifier(*key, field="identifier") or _no_customer("identifier")
                )
            except DomainError as error:
                buyers.append(error)
        else:
            buyers.append(
                DomainError(
                    ErrorCode.REQUIRED, "Give either customer or identifier.", field="customer"
                )
            )
    return buyers


def _checked(
    organization: Organization,
    item: PurchaseItem,
    external_id: str,
    buyer: Customer | DomainError,
    stores: dict[str, Store],
) -> NewPurchase:
    """The item, checked as transaction_record checks it, in its order."""
    if isinstance(buyer, DomainError):
        raise buyer
    require_tenant(buyer.organization_id, organization, "customer")
    customer_refuse_closed(buyer)
    clean = purchase_input.clean_purchase(item)
    store = None
    if item.store_code:
        store = stores.get(item.store_code)
        if store is None:
            raise _unknown_store(item.store_code)
    return NewPurchase(
        buyer, store, external_id, clean, purchase_facts(clean.lines, clean.occurred_at, store)
    )


def _write(
    organization: Organization, new: list[NewPurchase], actor: Actor, earn: bool
) -> list[PurchaseResult]:
    """Write the purchases together; if that fails on the unique external id (another caller
    recorded one meanwhile, and has committed by now), each alone."""
    try:
        with transaction.atomic():
            return purchases_write(organization, new, actor=actor, earn=earn)
    except IntegrityError:
        if len(new) > 1:
            return [result for one in new for result in _write(organization, [one], actor, earn)]
        recorded = _recorded(organization, {new[0].external_id})
        if not recorded:
            raise
        return list(recorded.values())


def purchases_record(
    *,
    organization: Organization,
    items: list[PurchaseItem],
    actor: Actor,
    earn: bool = True,
) -> list[PurchaseOutcome]:
    """Record each purchase, in order, each succeeding or failing alone, as transaction_record
    would one after another: a purchase recorded before answers with its first result, and so
    does a later item of the batch with the external id of an earlier one that is recorded.

    Without `earn` the purchases are loaded as history: recorded, earning nothing, the reason
    kept with each (earning_withheld), written without locking any customer or enrolment.
    """
    outcomes = [PurchaseOutcome() for _ in items]
    external_ids: dict[int, str] = {}
    for index, item in enumerate(items):
        try:
            external_ids[index] = purchase_input.clean_external_id(item.external_id)
        except DomainError as error:
            outcomes[index].error = error
    recorded = _recorded(organization, set(external_ids.values()))
    waiting = [index for index, external_id in external_ids.items() if external_id not in recorded]
    buyers = dict(zip(waiting, buyers_find(organization, [items[i] for i in waiting]), strict=True))
    stores = stores_by_code(organization, (items[index].store_code for index in waiting))
    new: dict[str, tuple[int, NewPurchase]] = {}
    again: dict[int, str] = {}
    for index in waiting:
        external_id = external_ids[index]
        if external_id in new:
            again[index] = external_id
            continue
        try:
            new[external_id] = (
                index,
                _checked(organization, items[index], external_id, buyers[index], stores),
            )
        except DomainError as error:
            outcomes[index].error = error
    for index, external_id in external_ids.items():
        if external_id in recorded:
            outcomes[index].result = recorded[external_id]
    if new:
        written = _write(organization, [purchase for _, purchase in new.values()], actor, earn)
        for (index, _), result in zip(new.values(), written, strict=True):
            outcomes[index].result = result
    for index, external_id in again.items():
        outcomes[index].result = replace(outcomes[new[external_id][0]].result, created=False)
    return outcomes


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
    item = PurchaseItem(
        external_id=external_id,
        occurred_at=occurred_at,
        currency=currency,
        lines=lines,
        store_code=store_code,
        channel=channel,
        customer=customer,
    )
    [outcome] = purchases_record(organization=organization, items=[item], actor=actor)
    if outcome.error is not None:
        raise outcome.error
    return outcome.result


def purchase_simulate(
    *,
    program: Program,
    customer: Customer | None,
    store_code: str | None,
    occurred_at,
    currency: str,
    lines: list,
    tier: Tier | None = None,
) -> Simulation:
    """What the purchase would earn in the programme now, writing nothing. A `tier` (of the
    programme) is counted as the member's, in place of the customer's own."""
    if tier is not None and tier.program_id != program.pk:
        raise DomainError(
            ErrorCode.TIER_UNKNOWN, f"{program.name!r} has no tier {tier.name!r}.", field="tier"
        )
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
    if tier is not None:
        member = replace(member, tier_number=tier.number)
    # The programme's rules as committed now, whenever `program` was read.
    current = Program.objects.select_related("rules_version").get(pk=program.pk)
    return Simulation(program, earn(programme_rules([current])[program.pk].rules, facts, member))
