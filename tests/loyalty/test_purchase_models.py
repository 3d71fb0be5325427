"""What the database itself holds of purchases and earning rules."""

from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, transaction

from crm.actors import Actor
from loyalty.models import PointsTransaction
from loyalty.services.points import points_award
from loyalty.tiers import TierChange
from loyalty.transactions import TransactionLine
from tests.loyalty.factories import (
    EarningRuleFactory,
    EnrollmentFactory,
    ProgramFactory,
    TransactionFactory,
)

CLERK = Actor("staff", "1 clerk")


def test_an_external_id_is_recorded_once_per_organization(org):
    first = TransactionFactory(customer__organization=org, external_id="A-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        TransactionFactory(customer__organization=org, external_id="A-1")
    assert TransactionFactory(external_id="A-1").organization != first.organization


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "E1R"])
def test_the_currency_is_an_iso_code(org, currency):
    # PostgreSQL refuses a fourth letter by the column's length, SQLite by the check.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        TransactionFactory(customer__organization=org, currency=currency)


def test_a_line_has_a_positive_quantity_and_no_negative_amount(org):
    purchase = TransactionFactory(customer__organization=org)
    for values in [
        {"quantity": 0, "unit_price": 1, "line_amount": 1},
        {"quantity": 1, "unit_price": -1, "line_amount": 1},
        {"quantity": 1, "unit_price": 1, "line_amount": -1},
    ]:
        with pytest.raises(IntegrityError), transaction.atomic():
            TransactionLine.objects.create(transaction=purchase, sku="S", **values)
    with pytest.raises(IntegrityError), transaction.atomic():
        TransactionFactory(customer__organization=org, total_amount=Decimal("-1"))


def test_a_rule_window_ends_after_it_starts(org):
    purchase = TransactionFactory(customer__organization=org)
    with pytest.raises(IntegrityError), transaction.atomic():
        EarningRuleFactory(
            program__organization=org,
            active_from=purchase.occurred_at,
            active_until=purchase.occurred_at,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        EarningRuleFactory(program__organization=org, kind="no_such_kind")


def test_ledgers_stay_append_only_with_their_purchase_columns(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    points_award(organization=org, enrollment=enrollment, points=10, actor=CLERK)
    purchase = TransactionFactory(customer=enrollment.customer)
    rule = EarningRuleFactory(program=ProgramFactory(organization=org))
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsTransaction.objects.update(purchase=purchase)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsTransaction.objects.update(rule=rule)
    TierChange.objects.create(enrollment=enrollment, reason="set", actor="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        TierChange.objects.update(purchase=purchase)
