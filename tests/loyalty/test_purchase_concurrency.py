"""The same purchase sent by many callers at once is recorded, and earns, once."""

import datetime as dt

import pytest

from crm.actors import Actor
from loyalty.models import Enrollment, PointsTransaction
from loyalty.services.earning_rules import earning_rule_create
from loyalty.services.purchases import transaction_record
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
