"""The same purchase sent by many callers at once, alone or in batches, is recorded, and earns,
once."""

import datetime as dt

import pytest

from crm.actors import Actor
from loyalty.models import Enrollment, PointsTransaction
from loyalty.services.earning_rules import earning_rule_create
from loyalty.services.purchase_input import PurchaseItem
from loyalty.services.purchases import purchases_record, transaction_record
from loyalty.transactions import Transaction
from tests.concurrency import errors, run_concurrently
from tests.loyalty.factories import EnrollmentFactory

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
TILL = Actor("api_key", "1 till")


def test_ten_copies_of_a_purchase_at_once_earn_once():
    enrollment = EnrollmentFactory()
    org = enrollment.customer.organization
    earning_rule_create(
        program=enrollment.program,
        name="Base",
        kind="base_rate",
        parameters={"points": 1, "per": "1", "rounding": "down"},
        priority=1,
        active_from=None,
        active_until=None,
    )

    outcomes = run_concurrently(
        10,
        lambda i: transaction_record(
            organization=org,
            customer=enrollment.customer,
            store_code=None,
            external_id="T-1",
            occurred_at=dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC),
            currency="EUR",
            lines=[{"sku": "A", "quantity": 1, "unit_price": "40.00"}],
            channel="INSTORE",
            actor=TILL,
        ),
    )

    assert errors(outcomes) == []
    assert sorted(outcome.created for outcome in outcomes) == [False] * 9 + [True]
    assert {outcome.transaction.pk for outcome in outcomes} == {Transaction.objects.get().pk}
    assert {outcome.earnings[0].points for outcome in outcomes} == {40}
    assert PointsTransaction.objects.count() == 1
    assert Enrollment.objects.get(pk=enrollment.pk).points_balance == 40


@pytest.mark.parametrize("earn", [True, False])
def test_batches_sharing_purchases_in_opposite_orders_record_each_once(earn):
    enrollment = EnrollmentFactory()
    org = enrollment.customer.organization
    earning_rule_create(
        program=enrollment.program,
        name="Base",
        kind="base_rate",
        parameters={"points": 1, "per": "1", "rounding": "down"},
        priority=1,
        active_from=None,
        active_until=None,
    )
    others = [
        EnrollmentFactory(customer__organization=org, program=enrollment.program) for _ in range(5)
    ]
    customers = [enrollment.customer] + [other.customer for other in others]
    items = [
        PurchaseItem(
            customer=customers[index % len(customers)],
            external_id=f"T-{index}",
            occurred_at=dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC),
            currency="EUR",
            lines=[{"sku": "A", "quantity": 1, "unit_price": "10.00"}],
        )
        for index in range(12)
    ]

    outcomes = run_concurrently(
        6,
        lambda i: purchases_record(
            organization=org, items=items if i % 2 else items[::-1], actor=TILL, earn=earn
        ),
    )

    assert errors(outcomes) == []
    created = [
        o.result.transaction.external_id for batch in outcomes for o in batch if o.result.created
    ]
    assert sorted(created) == sorted(item.external_id for item in items)
    assert Transaction.objects.filter(organization=org).count() == 12
    balances = Enrollment.objects.filter(program=enrollment.program).values_list(
        "points_balance", flat=True
    )
    assert sum(balances) == (120 if earn else 0)
    assert PointsTransaction.objects.count() == (12 if earn else 0)
