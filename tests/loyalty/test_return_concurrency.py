"""Returns sent by many callers at once: the same one is recorded once, and together they never
give back more than was bought."""

import datetime as dt

import pytest

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from loyalty.models import Enrollment, PointsTransaction
from loyalty.returns import Clawback, Return
from loyalty.services.earning_rules import earning_rule_create
from loyalty.services.purchases import transaction_record
from loyalty.services.returns import return_record
from loyalty.transactions import Transaction, TransactionLine
from tests.concurrency import errors, run_concurrently
from tests.loyalty.factories import EnrollmentFactory

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
TILL = Actor("api_key", "1 till")


def purchase_of(units: int) -> tuple[Enrollment, Transaction]:
    enrollment = EnrollmentFactory()
    earning_rule_create(
        program=enrollment.program,
        name="Base",
        kind="base_rate",
        parameters={"points": 1, "per": "1", "rounding": "down"},
        priority=1,
        active_from=None,
        active_until=None,
    )
    result = transaction_record(
        organization=enrollment.customer.organization,
        customer=enrollment.customer,
        store_code=None,
        external_id="T-1",
        occurred_at=dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC),
        currency="EUR",
        lines=[{"sku": "A", "quantity": units, "unit_price": "10.00"}],
        channel="INSTORE",
        actor=TILL,
    )
    return enrollment, result.transaction


def give_back(purchase: Transaction, external_id: str):
    return return_record(
        organization=purchase.organization,
        purchase=Transaction.objects.select_related("customer").get(pk=purchase.pk),
        external_id=external_id,
        occurred_at=dt.datetime(2026, 6, 20, 12, tzinfo=dt.UTC),
        lines=[{"sku": "A", "quantity": 1}],
        actor=TILL,
    )


def test_ten_copies_of_a_return_at_once_take_back_once():
    enrollment, purchase = purchase_of(4)

    outcomes = run_concurrently(10, lambda i: give_back(purchase, "R-1"))

    assert errors(outcomes) == []
    assert sorted(outcome.created for outcome in outcomes) == [False] * 9 + [True]
    assert {outcome.purchase_return.pk for outcome in outcomes} == {Return.objects.get().pk}
    assert {outcome.programs[0].clawed_back for outcome in outcomes} == {10}
    assert Clawback.objects.count() == 1
    assert PointsTransaction.objects.filter(kind="clawback").count() == 1
    assert Enrollment.objects.get(pk=enrollment.pk).points_balance == 30
    assert TransactionLine.objects.get().returned_quantity == 1


def test_ten_returns_at_once_never_give_back_more_than_was_bought():
    enrollment, purchase = purchase_of(3)

    outcomes = run_concurrently(10, lambda i: give_back(purchase, f"R-{i}"))

    refusals = errors(outcomes)
    assert len(refusals) == 7
    assert all(
        isinstance(e, DomainError) and e.code == ErrorCode.RETURN_EXCEEDS_PURCHASE for e in refusals
    )
    assert Return.objects.count() == 3
    assert TransactionLine.objects.get().returned_quantity == 3
    enrollment.refresh_from_db()
    assert (enrollment.points_balance, enrollment.points_earned) == (0, 0)
